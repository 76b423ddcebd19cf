"""Hair count from a hair mask (paper §3.2; reference-method.md §6).

* ``method="hough"`` - the paper's count: probabilistic Hough on the skeleton at double,
  original and half resolution, segments mapped back to the **original** frame (the reference
  leaves them at half resolution), border artefacts dropped (with the image's real width and
  height, which the reference swaps), duplicates removed by angle and position, the shorter of
  a pair dropped. Robust to OpenCV 4's (N, 1, 4) and OpenCV 5's (N, 4) output.
* ``method="chains"`` (default) - the same segments, but instead of counting them, joins
  segments that continue one another (small angle change, near endpoints, or overlapping on
  one line) into chains with union-find, and counts chains. A curved hair, which Hough cuts
  into several straight pieces, is one chain; crossing hairs stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scalpvision.segmentation.morphology import remove_small_components, skeletonize


@dataclass(frozen=True)
class HoughScale:
    factor: float  # image scale (2 = double resolution)
    min_area: int
    skel_min_area: int
    threshold: int
    min_line_length: int
    max_line_gap: int


PAPER_SCALES = (  # reference-method.md §6 table
    HoughScale(2.0, 300, 25, 100, 60, 100),
    HoughScale(1.0, 150, 10, 100, 30, 60),
    HoughScale(0.5, 30, 5, 70, 10, 20),
)


@dataclass(frozen=True)
class CountParams:
    method: str = "chains"  # chains | hough
    scales: tuple[HoughScale, ...] = PAPER_SCALES
    rho: float = 5.0  # reference value (px)
    border: float = 3.0
    dup_cos: float = 0.9  # hough: |cos| above this and ...
    dup_dist: float = 30.0  # ... endpoint distance below this (original px) = duplicate
    chain_angle_deg: float = 25.0  # chains: largest direction change between joined segments
    chain_gap: float = 30.0  # chains: largest endpoint gap
    chain_line_dist: float = 4.0  # chains: overlapping segments within this distance of a line
    min_chain_length: float = 25.0  # chains shorter than this are not hairs


def _as_segments(lines) -> np.ndarray:
    """HoughLinesP output -> (N, 4) float (x1, y1, x2, y2), whatever OpenCV's version."""
    if lines is None:
        return np.zeros((0, 4))
    return np.asarray(lines, dtype=np.float64).reshape(-1, 4)


def hough_segments(mask: np.ndarray, p: CountParams = CountParams()) -> np.ndarray:
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


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def chain_segments(seg: np.ndarray, p: CountParams) -> np.ndarray:
    """Union-find labels (N,) of segments joined into hair chains."""
    n = len(seg)
    if n == 0:
        return np.zeros(0, int)
    length, u, cos, end_dist = _geometry(seg)
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    normal = np.stack([-u[:, 1], u[:, 0]], 1)
    # distance of j's endpoints from i's line, and overlap of j's projection with i
    rel = np.stack([seg[:, :2], seg[:, 2:]], 1)[None] - mid[:, None, None, :]  # (N, N, 2, 2)
    line_dist = np.abs(np.einsum("ijkc,ic->ijk", rel, normal)).max(2)
    proj = np.einsum("ijkc,ic->ijk", rel, u)
    overlap = (proj.min(2) <= length[:, None] / 2 + p.chain_gap / 2) & \
              (proj.max(2) >= -length[:, None] / 2 - p.chain_gap / 2)
    aligned = cos >= np.cos(np.radians(p.chain_angle_deg))
    join = aligned & ((end_dist <= p.chain_gap) |
                      ((line_dist <= p.chain_line_dist) & overlap))
    join = join & join.T
    parent = np.arange(n)
    for i, j in zip(*np.nonzero(np.triu(join, 1))):
        ri, rj = _find(parent, i), _find(parent, j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([_find(parent, i) for i in range(n)])


def count_hairs(mask: np.ndarray, p: CountParams = CountParams()) -> int:
    """Number of hairs in a (H, W) bool mask. An empty mask counts 0."""
    if p.method not in ("chains", "hough"):
        raise ValueError(f"unknown count method {p.method!r}; valid: chains, hough")
    seg = hough_segments(mask, p)
    if p.method == "hough":
        return count_hough(seg, p)
    labels = chain_segments(seg, p)
    if len(labels) == 0:
        return 0
    length = np.hypot(*(seg[:, 2:] - seg[:, :2]).T)
    # a chain's extent: the largest distance between any two of its endpoints
    total = 0
    for lab in np.unique(labels):
        pts = np.concatenate([seg[labels == lab, :2], seg[labels == lab, 2:]])
        extent = np.hypot(*(pts[:, None] - pts[None]).reshape(-1, 2).T).max()
        total += int(max(extent, length[labels == lab].max()) >= p.min_chain_length)
    return total


def count_by_ends(mask: np.ndarray, spur_length: int = 12, min_branch: int = 15,
                  border: int = 2, min_area: int = 150) -> tuple[int, dict]:
    """Count strands by their ends: each hair in view has two ends, a tip (a skeleton endpoint)
    or an exit through the image border, so count = (endpoints + border exits) / 2. Crossings
    make junctions, not ends, so crossing hairs are still counted apart. Spurs (short branches
    from a junction to an endpoint, artefacts of thick hairs) and short isolated branches
    (specks) are ignored."""
    m = remove_small_components(mask.astype(bool), min_area)
    sk = skeletonize(m)
    if not sk.any():
        return 0, {"ends": 0, "exits": 0}
    sk8 = sk.astype(np.uint8)
    nb = cv2.filter2D(sk8, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT) - sk8
    ends = sk & (nb == 1)
    junc = sk & (nb >= 3)
    near_junc = cv2.dilate(junc.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    branches = sk & ~junc
    n, lab = cv2.connectedComponents(branches.astype(np.uint8), connectivity=8)
    length = np.bincount(lab.ravel(), minlength=n)
    touches_junc = np.zeros(n, bool)
    touches_junc[np.unique(lab[near_junc & branches])] = True
    h, w = sk.shape
    band = np.zeros_like(sk)
    band[:border, :] = band[-border:, :] = band[:, :border] = band[:, -border:] = True
    at_border = np.zeros(n, bool)
    at_border[np.unique(lab[band & branches])] = True
    el = lab[ends]
    spur = touches_junc[el] & (length[el] < spur_length) & ~at_border[el]
    speck = ~touches_junc[el] & (length[el] < min_branch) & ~at_border[el]
    tips = int((~spur & ~speck & ~(band[ends])).sum())
    exits = cv2.connectedComponents((sk & band).astype(np.uint8), connectivity=8)[0] - 1
    return int(round((tips + exits) / 2)), {"ends": tips, "exits": int(exits)}
