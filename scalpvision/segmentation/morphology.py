"""The one implementation of each mask primitive (reference-method.md §12 "Duplication"):
binarise, remove small components, skeletonise, equal-box NMS. Pure functions on arrays."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import skeletonize as _sk_skeletonize


def binarize(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``prob``: (H, W) float in [0, 1] (or uint8 0..255) -> (H, W) bool, ``prob > threshold``."""
    if prob.dtype == np.uint8:
        return prob > int(round(threshold * 255))
    return prob > threshold


def remove_small_components(mask: np.ndarray, min_area: int, connectivity: int = 8) -> np.ndarray:
    """Drop connected components of ``mask`` ((H, W) bool) smaller than ``min_area`` pixels."""
    mask = mask.astype(bool)
    if min_area <= 1 or not mask.any():
        return mask.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return keep[labels]


def skeletonize(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton ((H, W) bool) by Zhang-Suen-style thinning (scikit-image), as the
    paper cites; the reference code used a morphological (Lantuejoul) skeleton instead."""
    return _sk_skeletonize(mask.astype(bool))


def box_nms_points(points_xy: np.ndarray, box: int, overlap: float = 0.1) -> np.ndarray:
    """Greedy NMS over equal ``box``-sized boxes centred on ``points_xy`` ((N, 2) int/float).

    A box suppresses every remaining box whose intersection with it, divided by the *other*
    box's area, exceeds ``overlap`` (Malisiewicz "fast NMS", as Algorithm 1 uses). Boxes are
    taken in order of decreasing bottom edge y, then x. Returns the kept indices, (K,) int.
    """
    pts = np.asarray(points_xy, np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, int)
    side = box + 1.0  # +1 pixel-area convention of the reference NMS
    order = np.lexsort((-pts[:, 0], -pts[:, 1]))
    alive = np.ones(len(pts), bool)
    keep = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        ix = np.clip(side - np.abs(pts[:, 0] - pts[i, 0]), 0, None)
        iy = np.clip(side - np.abs(pts[:, 1] - pts[i, 1]), 0, None)
        alive &= ~((ix * iy) / (side * side) > overlap)
    return np.asarray(keep, int)
