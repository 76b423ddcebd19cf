"""Small picture helpers: contact sheets and mask overlays (pure functions, arrays in/out)."""

from __future__ import annotations

import cv2
import numpy as np


def overlay_mask(image: np.ndarray, mask: np.ndarray, colour=(0, 255, 64),
                 alpha: float = 0.5) -> np.ndarray:
    """Tint ``mask`` pixels of ``image`` ((H, W, 3) uint8 RGB, (H, W) bool) with ``colour``."""
    out = image.astype(np.float32).copy()
    m = mask.astype(bool)
    out[m] = out[m] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return out.astype(np.uint8)


def contact_sheet(images: list[np.ndarray], captions: list[str] | None = None,
                  cols: int = 4, tile_w: int = 320) -> np.ndarray:
    """Grid of RGB images resized to ``tile_w`` wide, each with an optional caption bar."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    tile_h = int(round(tile_w * images[0].shape[0] / images[0].shape[1]))
    bar = 18 if captions else 0
    rows = -(-len(images) // cols)
    sheet = np.full((rows * (tile_h + bar), cols * tile_w, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = r * (tile_h + bar), c * tile_w
        sheet[y:y + tile_h, x:x + tile_w] = cv2.resize(im, (tile_w, tile_h),
                                                        interpolation=cv2.INTER_AREA)
        if captions:
            cv2.putText(sheet, captions[i][:48], (x + 4, y + tile_h + 13),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
