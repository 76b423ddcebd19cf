"""Classical hair-segmentation baselines of paper Table 1, as pure functions.

All take ``image``: (H, W, 3) uint8 RGB and return (H, W) bool. They assume hair darker than
the scalp, as the methods they follow do; that is their known weakness on grey/white hair.

* :func:`contrast_threshold` - contrast stretching + threshold (after Shih & Lin).
* :func:`blackhat_morphology` - morphological black-hat + Otsu (after Yue et al.).
* :func:`otsu_threshold` - global Otsu on luminance (after Kim et al.).
"""

from __future__ import annotations

import cv2
import numpy as np

from scalpvision.morphology import remove_small_components


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def contrast_threshold(image: np.ndarray, low_pct: float = 2, high_pct: float = 98,
                       threshold: float = 0.35, min_area: int = 150) -> np.ndarray:
    """Stretch luminance between two percentiles to [0, 1]; hair = stretched < ``threshold``."""
    g = _grey(image).astype(np.float32)
    lo, hi = np.percentile(g, [low_pct, high_pct])
    stretched = np.clip((g - lo) / max(hi - lo, 1e-6), 0, 1)
    return remove_small_components(stretched < threshold, min_area)


def blackhat_morphology(image: np.ndarray, radius: int = 12, min_area: int = 150) -> np.ndarray:
    """Black-hat (closing minus image) picks out thin dark structures; Otsu thresholds it."""
    g = cv2.GaussianBlur(_grey(image), (3, 3), 0)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    bh = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, k)
    _, m = cv2.threshold(bh, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return remove_small_components(m > 0, min_area)


def otsu_threshold(image: np.ndarray, min_area: int = 150) -> np.ndarray:
    """Global Otsu threshold of luminance; the dark class is hair."""
    _, m = cv2.threshold(_grey(image), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return remove_small_components(m > 0, min_area)


BASELINES = {
    "shih_contrast": contrast_threshold,
    "yue_morphology": blackhat_morphology,
    "kim_otsu": otsu_threshold,
}
