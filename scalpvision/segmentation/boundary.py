"""Local two-class boundary step after the ensemble (not in the paper; off with both sizes 0).

M = M̂ AND M_AP ends where the coarser of the two ends: GrabCut's colour models are global, so
its edge drifts with the lighting, and M̂ is binarised low. This step decides each pixel near
M's edge by which local colour it is closer to: the mean of the hair pixels around it or the
mean of the scalp pixels around it (both from a ``window``-sized box, normalised convolution).
That is the half-way (full-width-at-half-maximum) edge of a blurred stripe, whatever the blur,
the hair colour (dark, grey, white) or the lighting - no rule about which side is darker.
The hair mean comes from a smaller ``hair_window`` box where M has pixels in it: the colour of
the hair at hand, so a faint hair beside a dark one is not judged against the dark one's colour
(and cut away) - the window's mean only where no hair is that near.

* ``band``: pixels of M within this many px of its edge may be removed (0: none);
* ``grow``: pixels outside M within this many px of it may be added (0: none);
* ``hair_window``: the box of the hair mean (px, odd; 0: ``window``).

Pure function on arrays; (H, W, 3) uint8 RGB + (H, W) bool in, (H, W) bool out.
"""

from __future__ import annotations

import cv2
import numpy as np

from scalpvision.segmentation.params import BoundaryParams

_K3 = np.ones((3, 3), np.uint8)


def _local_mean(img: np.ndarray, weight: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    num = cv2.boxFilter(img * weight[..., None], -1, (window, window), normalize=False,
                        borderType=cv2.BORDER_CONSTANT)
    den = cv2.boxFilter(weight, -1, (window, window), normalize=False,
                        borderType=cv2.BORDER_CONSTANT)
    return num / np.maximum(den, 1e-6)[..., None], den


def _hair_mean(img: np.ndarray, core: np.ndarray, whole: np.ndarray, window: int,
               min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The local hair colour: the mean over M's interior ``core`` where ``window`` holds at least
    ``min_samples`` of its pixels (M's rim is mixed with the scalp), else over all of M
    (``whole``); and the count of M's pixels in the window."""
    inner, n_core = _local_mean(img, core, window)
    every, n_all = _local_mean(img, whole, window)
    return np.where((n_core >= min_samples)[..., None], inner, every), n_all


def refine_boundary(image: np.ndarray, mask: np.ndarray, p: BoundaryParams) -> np.ndarray:
    """``mask`` with each pixel of its edge band and growth ring set by the nearer local mean."""
    if image.ndim != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} do not match")
    if not p.active or not mask.any():
        return mask.copy()
    img = image.astype(np.float32)
    m8 = mask.astype(np.uint8)
    whole = m8.astype(np.float32)
    core = cv2.erode(m8, _K3).astype(np.float32)
    hair, n_all = _hair_mean(img, core, whole, p.window, p.min_samples)
    if p.hair_window > 0:  # the colour of the hair at hand, where one is within reach
        near, m_all = _hair_mean(img, core, whole, p.hair_window, p.min_samples)
        hair = np.where((m_all >= p.min_samples)[..., None], near, hair)
    scalp_w = (cv2.dilate(m8, _K3, iterations=p.scalp_gap) == 0).astype(np.float32)
    scalp, n_scalp = _local_mean(img, scalp_w, p.window)
    decide = np.zeros_like(mask)  # the rim inside M's edge and the ring outside it
    if p.band > 0:
        decide |= mask & (cv2.erode(m8, _K3, iterations=p.band) == 0)
    if p.grow > 0:
        decide |= (cv2.dilate(m8, _K3, iterations=p.grow) > 0) & ~mask
    decide &= (n_scalp >= p.min_samples) & (n_all >= p.min_samples)
    px, ph, ps = img[decide], hair[decide], scalp[decide]  # (n, 3) each: only where it decides
    out = mask.copy()
    out[decide] = ((px - ph) ** 2).sum(1) <= ((px - ps) ** 2).sum(1)
    return out
