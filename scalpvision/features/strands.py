"""Hairs as strands of the mask's skeleton graph: the count and the per-hair table.

The skeleton is cut at its junctions into branches; each branch is one piece of one hair, and
strands are chains of branches joined where a hair goes on through a crossing. Everything that
scales with the hair scales with the local radius ``r`` (the mask's distance transform on the
skeleton), so a 15-px hair is handled like a 3-px one:

1. **junctions** are discs of radius ``max(junction_radius, junction_scale * r)`` round every
   skeleton pixel with three or more neighbours; overlapping discs are one crossing;
2. **spurs** - a branch from a junction to a free tip shorter than
   ``max(spur_length, spur_scale * r)`` - are the forks thinning leaves at blunt ends, tapering
   tips and on a thick hair's sides; they are dropped;
3. **bridges** - a branch between two crossings, each with two ends going on opposite it at an
   angle t to each other, shorter than ``bridge_scale`` x the overlap such a crossing makes
   (2 r / sin(t / 2)) - are where two hairs lie on each other (the long overlap of thick hairs
   at a shallow angle); so is any branch between two forks shorter than ``split_scale * r``
   (thinning often makes one crossing two forks a few pixels apart); the crossings become one;
4. at each crossing the branch ends are paired most-opposite first while their directions are
   within ``continue_angle_deg`` of opposite (good continuation);
5. **gaps**: a free tip whose continuation meets another strand's free tip within
   ``max(gap_px, gap_scale * r)`` px, both pointing at each other, joins them (a hair the
   segmenter broke in two);
6. a strand at least ``min_strand_length`` px long is a hair.

Widths are measured only where one hair is: on branches (never a bridge or spur), farther than
``clear_scale * r`` from any crossing, tip or frame edge, by the eq. (4)-(7) cross-section of
:mod:`scalpvision.features.thickness`; a hair's width is the median of its samples after those
more than ``merged_ratio`` x that median (stretches merged with a neighbour) are dropped. "Mean
width" of an image is then per hair (the mean of the hairs' widths); the samples' own mean is
per unit length. Both are reported; each is compared with the truth of the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scalpvision.features.params import StrandParams, ThicknessParams
from scalpvision.features.thickness import measure_thickness
from scalpvision.morphology import Components, skeletonize

_N8 = np.ones((3, 3), np.float32)


@dataclass
class HairTrace:
    """``hairs``: one row per counted hair (strand, length_px, width_px, samples, angle_deg,
    x, y); ``sample_widths`` (K,) px of single-hair samples (every strand's);
    ``sample_strand`` (K,) their strand ids; ``count`` = len(hairs); ``details``: graph sizes."""

    hairs: list[dict]
    sample_widths: np.ndarray
    sample_strand: np.ndarray
    details: dict

    @property
    def count(self) -> int:
        return len(self.hairs)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], int)


def _neighbours(sk: np.ndarray) -> np.ndarray:
    s8 = sk.astype(np.uint8)
    return cv2.filter2D(s8, -1, _N8, borderType=cv2.BORDER_CONSTANT) - s8


def _discs(shape, ys, xs, radii) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    for y, x, r in zip(ys.tolist(), xs.tolist(), radii.tolist()):
        cv2.circle(out, (x, y), int(round(r)), 1, -1)
    return out > 0


def _end_direction(ys, xs, cy, cx, radius, inner: float = 0.0) -> tuple[float, float]:
    """Unit vector from (cx, cy) towards the mean of the points between ``inner`` and
    ``inner + radius`` from it (the nearest ``radius`` when none is, all points when none is
    either). Near a fork the skeleton bends towards the other branch; ``inner`` skips that."""
    d = np.hypot(xs - cx, ys - cy)
    near = (d >= inner) & (d <= inner + radius)
    if not near.any():
        near = d <= radius
    if not near.any():
        near = np.ones_like(d, bool)
    vx, vy = xs[near].mean() - cx, ys[near].mean() - cy
    n = max(np.hypot(vx, vy), 1e-9)
    return vx / n, vy / n


def trace_hairs(mask: np.ndarray, p: StrandParams,
                thickness: ThicknessParams = ThicknessParams(),
                skeleton: np.ndarray | None = None,
                components: Components | None = None) -> HairTrace:
    """Strands, count and per-hair widths of ``mask`` ((H, W) bool); an empty mask gives no
    hairs. ``skeleton`` / ``components``: as in :func:`measure_thickness`."""
    comps = components if components is not None else Components.of(mask)
    m = comps.at_least(p.min_area)
    sk = skeleton & m if skeleton is not None else skeletonize(m, comps)
    empty = HairTrace([], np.zeros(0), np.zeros(0, int),
                      {"branches": 0, "junctions": 0, "spurs": 0, "bridges": 0})
    if not sk.any():
        return empty
    h, w = m.shape
    radius = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 5)  # (H, W) px
    nb = _neighbours(sk)

    # 1. crossings: discs scaled by the local radius, overlapping discs merged
    jy, jx = np.nonzero(sk & (nb >= 3))
    jr = np.maximum(p.junction_radius, p.junction_scale * radius[jy, jx])
    jdisc = _discs(m.shape, jy, jx, jr)
    n_j, jlab = cv2.connectedComponents(jdisc.astype(np.uint8), connectivity=8)
    branches = sk & ~jdisc
    n_b, blab = cv2.connectedComponents(branches.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(branches)
    lb = blab[ys, xs]
    order = np.argsort(lb, kind="stable")
    ys, xs, lb = ys[order], xs[order], lb[order]
    starts = np.searchsorted(lb, np.arange(n_b + 1))
    length = np.diff(starts).astype(float)  # (n_b,) px; branch 0 is background
    b_radius = np.array([np.median(radius[ys[a:b], xs[a:b]]) if b > a else 0.0
                         for a, b in zip(starts[:-1], starts[1:])])

    # branch <-> crossing contacts: (branch, crossing, contact y, contact x)
    grown = cv2.dilate(jlab.astype(np.float32), np.ones((3, 3), np.uint8)).astype(int)
    cy, cx = np.nonzero(branches & (grown > 0))
    contacts: dict[tuple[int, int], tuple[int, int]] = {}
    for y, x in zip(cy.tolist(), cx.tolist()):
        contacts.setdefault((int(blab[y, x]), int(grown[y, x])), (y, x))
    by_branch: dict[int, list[int]] = {}
    for b, j in contacts:
        by_branch.setdefault(b, []).append(j)
    # tips: skeleton end points (one neighbour) outside the crossings
    ty, tx = np.nonzero(branches & (nb == 1))
    tips: dict[int, list[tuple[int, int]]] = {}
    for y, x in zip(ty.tolist(), tx.tolist()):
        tips.setdefault(int(blab[y, x]), []).append((y, x))

    # direction in which each branch leaves each crossing it touches
    direction: dict[tuple[int, int], tuple[float, float]] = {}
    for (b, j), (y, x) in contacts.items():
        if b == 0:
            continue
        a0, a1 = starts[b], starts[b + 1]
        reach = max(p.direction_radius, p.direction_scale * b_radius[b])
        direction[(b, j)] = _end_direction(ys[a0:a1], xs[a0:a1], y, x, reach,
                                           p.direction_skip * b_radius[b])
    at: dict[int, list[int]] = {}
    for b, j in direction:
        at.setdefault(j, []).append(b)
    cos_lim = -np.cos(np.radians(p.continue_angle_deg))

    def overlap_length(b: int, j: int) -> float:
        """How long two hairs entering crossing j opposite b would lie on each other: the
        overlap of two strips of radius r crossing at angle t is 2 r / sin(t / 2) long; 0
        when fewer than two other ends go on opposite b."""
        vb = np.array(direction[(b, j)])
        go_on = [o for o in at[j] if o != b and float(np.dot(vb, direction[(o, j)])) < cos_lim]
        if len(go_on) < 2:
            return 0.0
        v = np.array([direction[(o, j)] for o in go_on])
        cos = np.clip(v @ v.T, -1, 1)
        np.fill_diagonal(cos, -1)
        a, c = np.unravel_index(np.argmax(cos), cos.shape)  # the two closest in direction
        half = max(np.arccos(cos[a, c]) / 2, np.radians(2.0))
        r = max(min(b_radius[go_on[a]], b_radius[go_on[c]]), 1.0)
        return 2 * r / np.sin(half)

    # 2. spurs: one crossing, one free tip, short against the crossing's radius
    spur = np.zeros(n_b, bool)
    bridge = np.zeros(n_b, bool)
    cross = _UnionFind(n_j)
    for b in range(1, n_b):
        js = by_branch.get(b, [])
        r = b_radius[b]
        if len(js) == 1 and b in tips:
            y, x = contacts[(b, js[0])]
            spur[b] = length[b] < max(p.spur_length, p.spur_scale * max(radius[y, x], r))
    for b in range(1, n_b):  # 3. bridges: two hairs lying on each other between crossings
        js = by_branch.get(b, [])
        split = len(js) == 2 and length[b] < p.split_scale * max(b_radius[b], 1.0) and all(
            len(at[j]) >= 3 for j in js)  # one crossing thinned into two forks
        if split or len(js) == 2 and length[b] < p.bridge_scale * min(
                overlap_length(b, j) for j in js):
            bridge[b] = True
            cross.union(js[0], js[1])
    croot = cross.roots()

    # 4. pair branch ends through each crossing
    strands = _UnionFind(n_b)
    ends: dict[int, list[tuple[int, float, float]]] = {}
    for (b, j), (vx, vy) in direction.items():
        if spur[b] or bridge[b]:
            continue
        ends.setdefault(int(croot[j]), []).append((b, vx, vy))
    for group in ends.values():
        if len(group) < 2:
            continue
        vec = np.array([(vx, vy) for _, vx, vy in group])
        cos = vec @ vec.T
        np.fill_diagonal(cos, 1.0)
        used = np.zeros(len(group), bool)
        for flat in np.argsort(cos, axis=None):
            a, c = divmod(int(flat), len(group))
            if cos[a, c] > cos_lim:
                break
            if used[a] or used[c] or group[a][0] == group[c][0]:
                continue
            used[a] = used[c] = True
            strands.union(group[a][0], group[c][0])

    # 5. gaps: facing free tips of different strands
    tip_list = []  # (branch, y, x, outward unit vector)
    for b, pts in tips.items():
        if spur[b] or bridge[b] or b == 0:
            continue
        a0, a1 = starts[b], starts[b + 1]
        for y, x in pts:
            vx, vy = _end_direction(ys[a0:a1], xs[a0:a1], y, x,
                                    max(p.direction_radius, p.direction_scale * b_radius[b]))
            tip_list.append((b, y, x, -vx, -vy))
    if len(tip_list) > 1:
        t = np.array([(y, x, vx, vy) for _, y, x, vx, vy in tip_list])
        tb = np.array([b for b, *_ in tip_list])
        dy, dx = t[None, :, 0] - t[:, None, 0], t[None, :, 1] - t[:, None, 1]
        dist = np.hypot(dx, dy)
        reach = np.maximum(p.gap_px, p.gap_scale * b_radius[tb])
        with np.errstate(invalid="ignore", divide="ignore"):
            ux, uy = dx / dist, dy / dist
        ca = np.cos(np.radians(p.gap_angle_deg))
        facing = ((ux * t[:, None, 2] + uy * t[:, None, 3]) > ca) & \
                 ((-ux * t[None, :, 2] - uy * t[None, :, 3]) > ca)
        ok = facing & (dist <= reach[:, None]) & (dist > 0)
        for a, c in sorted(zip(*np.nonzero(np.triu(ok))), key=lambda ac: dist[ac]):
            strands.union(int(tb[a]), int(tb[c]))  # a no-op when already one strand

    # 6. strands long enough to be hairs
    roots = strands.roots()
    keep = (np.arange(n_b) > 0) & ~spur & ~bridge
    strand_len = np.bincount(roots[keep], weights=length[keep], minlength=n_b)
    hair_roots = np.nonzero(strand_len >= p.min_strand_length)[0]

    # widths where one hair is measured
    border = np.zeros(m.shape, bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    excl_y = np.concatenate([jy, ty])
    excl_x = np.concatenate([jx, tx])
    excl_r = np.concatenate([jr + p.clear_scale * radius[jy, jx],
                             p.clear_scale * np.maximum(radius[ty, tx], b_radius[blab[ty, tx]])
                             + 2])
    near = _discs(m.shape, excl_y, excl_x, excl_r)
    edge = cv2.distanceTransform((~border).astype(np.uint8), cv2.DIST_L2, 3)
    single = branches & keep[blab] & ~near & (edge > p.clear_scale * radius + 2)
    sample_w, sample_s = np.zeros(0), np.zeros(0, int)
    if single.any():
        th = measure_thickness(m, thickness, single, comps)
        ax = th.anchors_xy.astype(int)
        sample_s = roots[blab[ax[:, 1], ax[:, 0]]]
        on_hair = np.isin(sample_s, hair_roots)
        sample_w, sample_s = th.widths[on_hair], sample_s[on_hair]
    hairs = []
    for k, s in enumerate(hair_roots.tolist()):
        mine = sample_w[sample_s == s]
        width = float("nan")
        if len(mine):
            med = np.median(mine)
            good = mine[mine <= p.merged_ratio * med]
            width = float(np.median(good))
        bs = np.nonzero(keep & (roots == s))[0]
        idx = np.concatenate([np.arange(starts[b], starts[b + 1]) for b in bs])
        px, py = xs[idx].astype(float), ys[idx].astype(float)
        cxx, cyy = np.cov(px, py) if len(px) > 1 else ((1, 0), (0, 1))
        theta = 0.5 * np.arctan2(2 * cxx[1], cxx[0] - cyy[1])
        hairs.append({"strand": k, "length_px": float(strand_len[s]), "width_px": width,
                      "samples": int(len(mine)), "angle_deg": float(np.degrees(theta) % 180),
                      "x": float(px.mean()), "y": float(py.mean())})
    return HairTrace(hairs, sample_w, sample_s,
                     {"branches": int(keep.sum()), "junctions": int(n_j - 1),
                      "spurs": int(spur.sum()), "bridges": int(bridge.sum())})
