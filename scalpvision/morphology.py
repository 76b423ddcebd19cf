"""The one implementation of each mask primitive (reference-method.md §12 "Duplication"):
binarise, remove small components, skeletonise, equal-box NMS. Pure functions on arrays."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Components:
    """The 8-connected components of one mask, labelled once and shared by the steps that
    filter it by size (features: thinning, thickness and count each used to relabel it).
    ``labels`` (H, W) int32, 0 = background; ``stats`` (n, 5) as OpenCV's."""

    labels: np.ndarray
    stats: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray) -> "Components":
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8),
                                                               connectivity=8)
        return cls(labels, stats)

    def at_least(self, min_area: int) -> np.ndarray:
        """(H, W) bool: the components of at least ``min_area`` pixels, as
        :func:`remove_small_components` with connectivity 8 gives them."""
        keep = self.stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        return keep[self.labels]


def skeletonize(mask: np.ndarray, components: Components | None = None) -> np.ndarray:
    """One-pixel-wide skeleton ((H, W) bool) by Zhang-Suen thinning (scikit-image), as the paper
    cites; the reference code used a morphological (Lantuejoul) skeleton instead.

    Zhang-Suen can erase a whole thin diagonal staircase band (seen: a 3-px hair at 45 degrees
    thinned to one pixel). Components whose skeleton is shorter than a quarter of their bounding
    box's long side are thinned again with Lee's method, which does not have that failure.

    ``components``: those of ``mask`` or of a mask that ``mask`` keeps whole components of."""
    mask = mask.astype(bool)
    skel = _sk_skeletonize(mask)
    if not mask.any():
        return skel
    comps = components if components is not None else Components.of(mask)
    labels, stats = comps.labels, comps.stats
    n = len(stats)
    length = np.bincount(labels[skel], minlength=n)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    for k in np.nonzero((length < extent / 4) & (extent >= 12))[0]:
        if k == 0:
            continue
        x, y, w, h = stats[k, :4]
        comp = (labels[y:y + h, x:x + w] == k) & mask[y:y + h, x:x + w]
        if comp.any():  # components ``mask`` dropped are not thinned
            skel[y:y + h, x:x + w] |= _sk_skeletonize(comp, method="lee").astype(bool) & comp
    return skel


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
    ip = np.rint(pts).astype(np.int64)
    keep = []
    if np.array_equal(ip, pts):
        # Pixel points (skeletons): whether a kept box suppresses another depends only on the
        # integer offset between them, so each kept box stamps that fixed stencil into a
        # suppression raster and every later point is one byte lookup (same result, ~7x
        # faster). Later points never lie below the kept one (order: decreasing y), so only
        # the stencil's upper half, rows dy <= 0, is stamped.
        r = int(np.ceil(side)) - 1
        w = np.clip(side - np.abs(np.arange(-r, r + 1, dtype=np.float64)), 0, None)
        upper = ((w[:r + 1, None] * w[None, :]) / side**2 > overlap).astype(np.uint8)
        ip -= ip.min(0)
        width = int(ip[:, 0].max()) + 2 * r + 1
        buf = bytearray((int(ip[:, 1].max()) + 2 * r + 1) * width)
        supp = np.frombuffer(buf, np.uint8).reshape(-1, width)  # shares buf's memory
        flat = ((ip[order, 1] + r) * width + ip[order, 0] + r).tolist()
        for j, f in enumerate(flat):
            if not buf[f]:
                keep.append(j)
                y, x = divmod(f, width)  # the window's top-left is (y - r, x - r)
                win = supp[y - r:y + 1, x - r:x + r + 1]
                np.bitwise_or(win, upper, out=win)
        return order[np.asarray(keep, int)]
    alive = np.ones(len(pts), bool)
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        ix = np.clip(side - np.abs(pts[:, 0] - pts[i, 0]), 0, None)
        iy = np.clip(side - np.abs(pts[:, 1] - pts[i, 1]), 0, None)
        alive &= ~((ix * iy) / (side * side) > overlap)
    return np.asarray(keep, int)
