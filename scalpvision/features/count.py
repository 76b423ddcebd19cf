"""Hair count from a hair mask (paper §3.2; reference-method.md §6).

* ``method="hough"`` - the paper's count: probabilistic Hough on the skeleton at double,
  original and half resolution, segments mapped back to the **original** frame (the reference
  leaves them at half resolution), border artefacts dropped (with the image's real width and
  height, which the reference swaps), duplicates removed by angle and position, the shorter of
  a pair dropped. Robust to OpenCV 4's (N, 1, 4) and OpenCV 5's (N, 4) output.
* ``method="strands"``  - the strands of the skeleton graph (:mod:`scalpvision.features.
  strands`): branches joined through crossings by good continuation, spurs and overlaps
  handled at the scale of the local hair radius. A curved hair, which Hough cuts into several
  straight pieces, is one strand; two crossing hairs stay two; hairs fanning out of one
  follicular unit stay apart (docs/method.md). Two other
  estimators were measured and dropped: joining Hough segments into chains (merged parallel
  neighbours, 82 % error) and halving the number of strand ends (follicular units share an
  end, 58 % error).
"""

from __future__ import annotations

import cv2
import numpy as np

from scalpvision.features.params import (  # noqa: F401 - re-exported for callers
    COUNT_METHODS, PAPER_SCALES, CountParams, HoughScale, StrandParams,
)
from scalpvision.features.strands import trace_hairs
from scalpvision.morphology import Components, remove_small_components, skeletonize


def _as_segments(lines) -> np.ndarray:
    """HoughLinesP output -> (N, 4) float (x1, y1, x2, y2), whatever OpenCV's version."""
    if lines is None:
        return np.zeros((0, 4))
    return np.asarray(lines, dtype=np.float64).reshape(-1, 4)


def hough_segments(mask: np.ndarray, p: CountParams) -> np.ndarray:
    """All scales' segments in the original frame, (N, 4) float, border artefacts removed."""
    h, w = mask.shape
    out = []
    for s in p.scales:
        m = mask.astype(np.uint8) * 255
        if s.factor != 1.0:
            m = cv2.resize(m, None, fx=s.factor, fy=s.factor, interpolation=cv2.INTER_LINEAR)
        m = remove_small_components(m > 127, s.min_area)
        sk = remove_small_components(skeletonize(m), s.skel_min_area)
        lines = cv2.HoughLinesP(sk.astype(np.uint8) * 255, p.rho, np.pi / 180, s.threshold,
                                minLineLength=s.min_line_length, maxLineGap=s.max_line_gap)
        out.append(_as_segments(lines) / s.factor)  # back to the original frame
    seg = np.concatenate(out) if out else np.zeros((0, 4))
    if len(seg) == 0:
        return seg
    x1, y1, x2, y2 = seg.T
    vertical_edge = (np.abs(x1 - x2) < 1e-6) & ((x1 <= p.border) | (x1 >= w - 1 - p.border))
    horizontal_edge = (np.abs(y1 - y2) < 1e-6) & ((y1 <= p.border) | (y1 >= h - 1 - p.border))
    return seg[~(vertical_edge | horizontal_edge)]


def _geometry(seg: np.ndarray):
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    u = d / np.maximum(length, 1e-9)[:, None]
    cos = np.abs(u @ u.T)  # (N, N)
    ends = np.stack([seg[:, :2], seg[:, 2:]], 1)  # (N, 2, 2)
    diff = ends[:, None, :, None, :] - ends[None, :, None, :, :]  # (N, N, 2, 2, 2)
    end_dist = np.hypot(diff[..., 0], diff[..., 1]).reshape(len(seg), len(seg), 4).min(2)
    return length, u, cos, end_dist


def count_hough(seg: np.ndarray, p: CountParams) -> int:
    """The paper's rule: a pair with |cos| > dup_cos and endpoints closer than dup_dist is one
    hair; the shorter segment is dropped. Count = segments left."""
    if len(seg) == 0:
        return 0
    length, _, cos, end_dist = _geometry(seg)
    dup = (cos > p.dup_cos) & (end_dist < p.dup_dist)
    np.fill_diagonal(dup, False)
    shorter = length[:, None] < length[None, :]  # i shorter than j
    tie = (length[:, None] == length[None, :]) & (np.arange(len(seg))[:, None] > np.arange(len(seg))[None])
    removed = (dup & (shorter | tie)).any(1)
    return int((~removed).sum())


def count_hairs(mask: np.ndarray, p: CountParams,
                skeleton: np.ndarray | None = None, components: Components | None = None) -> int:
    """Number of hairs in a (H, W) bool mask; an empty mask counts 0. ``p.method`` is one of
    :data:`COUNT_METHODS` (``CountParams`` checks it)."""
    if p.method == "strands":
        return trace_hairs(mask, p.strands, skeleton=skeleton, components=components).count
    return count_hough(hough_segments(mask, p), p)
