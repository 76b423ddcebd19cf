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
   ((r1 + r2) / sin(t / 2) for hairs of radii r1, r2) - are where two hairs lie on each other
   (the long overlap of hairs at a shallow angle); the crossings become one. **Splits** -
   thinning often makes one crossing two or three forks a short branch apart (a thin hair
   through a thick one): a branch shorter than ``split_scale`` x the largest radius there is
   contracted when the hairs then go on straighter (:func:`_contract_splits`);
4. at each crossing as many hairs as possible go on: branch ends are paired within
   ``continue_angle_deg`` of opposite and in line, the straightest such pairing
   (:func:`_pair_ends`; good continuation). **Through**: an end a crossing leaves unpaired
   goes on to a facing, in-line unpaired end of another crossing at most
   ``max(through_px, through_scale * r)`` away when the straight line between them lies in
   the mask - one hair through a cluster of crossings that thinning cut into several, whose
   inner branches belong to the other hairs (:func:`_through`);
5. **gaps**: a free tip facing another strand's free tip, the gap between them at most
   ``max(gap_px, gap_scale * r)`` px, joins them (a hair the segmenter broke in two); a
   crossing left with one end (its other branches spurs: a blunt or cut end) is a free tip;
   where the analysed area is known, the part of a gap under capture graphics is not counted;
6. a strand at least ``min_strand_length`` px long is a hair.

Widths are measured only where one hair is: on branches (never a bridge or spur), farther than
``clear_scale * r`` from any crossing, tip or frame edge, by the eq. (4)-(7) cross-section of
:mod:`scalpvision.features.thickness`; with the frame given and ``width_edge: image``, between
the hair's edges in the image (half-way between hair and skin colour) rather than the mask's.
What still reaches a sample only ever widens it (a neighbour lying along the hair, a crossing
hair the perpendicular runs into, a cut oblique to a bend), so a hair's width is the mean of its
samples at most ``merged_ratio`` x their median - the truth's own quantity, the mean width along
the hair, over the stretches where it is measured alone. "Mean width" of an image is then per
hair (the mean of the hairs' widths); the samples' own mean is per unit length. Both are
reported; each is compared with the truth of the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scalpvision.features.params import StrandParams, ThicknessParams
from scalpvision.features.thickness import image_edge_widths, measure_thickness
from scalpvision.morphology import Components, skeletonize

_N8 = np.ones((3, 3), np.float32)


@dataclass
class HairTrace:
    """``hairs``: one row per counted hair (strand, length_px, width_px, samples, angle_deg,
    x, y); ``sample_widths`` (K,) px of single-hair samples (every strand's);
    ``sample_strand`` (K,) their strand ids; ``count`` = len(hairs); ``details``: graph sizes;
    ``labels``: (H, W) int32, on the skeleton pixels of each counted hair its row in ``hairs``
    (the ``strand`` column), -1 elsewhere."""

    hairs: list[dict]
    sample_widths: np.ndarray
    sample_strand: np.ndarray
    details: dict
    labels: np.ndarray | None = None

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


_EXACT_ENDS = 12  # crossings with at most this many ends are paired exactly


def _pair_ends(vec: np.ndarray, pos: np.ndarray, radius: float, branch: list[int],
               cos_lim: float) -> list[tuple[int, int]]:
    """Pairs (i, k) of the ends of one crossing that go on through it: ``vec`` (N, 2) unit
    directions (x, y) away from the crossing, ``pos`` (N, 2) where they leave it, ``radius`` the
    largest hair radius there, ``branch`` their branches. An end is used once, a branch never with
    itself; a pair only while the cosine of its angle is below ``cos_lim`` and each end lies on
    the other's line within the crossing's largest radius + 2 px (+ a quarter of their
    distance: ends of one hair through a merged crossing are in line, two hairs ending side by
    side are not). As many hairs as possible go on, the straightest such pairing among them
    (exact up to :data:`_EXACT_ENDS` ends; beyond, most opposite first)."""
    n = len(vec)
    if n < 2:
        return []
    cos = vec @ vec.T
    same = np.asarray(branch)[:, None] == np.asarray(branch)[None, :]
    d = pos[None, :, :] - pos[:, None, :]  # (N, N, 2) from end i to end k
    side = np.abs(d[..., 0] * vec[:, None, 1] - d[..., 1] * vec[:, None, 0])
    slack = radius + 2 + 0.25 * np.hypot(d[..., 0], d[..., 1])
    ok = (cos < cos_lim) & ~same & (np.maximum(side, side.T) <= slack)
    if n > _EXACT_ENDS:
        used = np.zeros(n, bool)
        pairs = []
        for flat in np.argsort(np.where(ok, cos, 2.0), axis=None):
            a, c = divmod(int(flat), n)
            if not ok[a, c]:
                break
            if not (used[a] or used[c]):
                used[a] = used[c] = True
                pairs.append((a, c))
        return pairs
    memo: dict[int, tuple[int, float, tuple]] = {}

    def best(free: int) -> tuple[int, float, tuple]:
        """(pairs, summed cosine, pairing) of the ends in bitmask ``free``."""
        if free in memo:
            return memo[free]
        if free & (free - 1) == 0:
            return 0, 0.0, ()
        a = (free & -free).bit_length() - 1
        rest = free & ~(1 << a)
        top = best(rest)  # end a left alone
        for c in range(a + 1, n):
            if rest >> c & 1 and ok[a, c]:
                k, sc, pr = best(rest & ~(1 << c))
                cand = (k + 1, sc + float(cos[a, c]), pr + ((a, c),))
                if cand[0] > top[0] or (cand[0] == top[0] and cand[1] < top[1]):
                    top = cand
        memo[free] = top
        return top

    return list(best((1 << n) - 1)[2])


def _inside_share(t: np.ndarray, a: int, c: int, area: np.ndarray) -> float:
    """Share of the straight line from tip ``a`` to tip ``c`` (rows (y, x, ...) of ``t``)
    that lies in the analysed ``area``."""
    n = max(int(np.hypot(t[c, 0] - t[a, 0], t[c, 1] - t[a, 1])), 1) + 1
    yy = np.clip(np.round(np.linspace(t[a, 0], t[c, 0], n)).astype(int), 0, area.shape[0] - 1)
    xx = np.clip(np.round(np.linspace(t[a, 1], t[c, 1], n)).astype(int), 0, area.shape[1] - 1)
    return float(area[yy, xx].mean())


def _facing(t: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ends ``t`` (N, 4) rows (y, x, vx, vy) with (vx, vy) the unit direction in which each
    hair would go on: (facing (N, N) bool - directions within ``angle_deg`` of opposite, each
    end ahead of the other -, distance (N, N) px, off-line (N, N) px: how far each lies off
    the other's line, the larger of the two)."""
    dy, dx = t[None, :, 0] - t[:, None, 0], t[None, :, 1] - t[:, None, 1]
    vx, vy = t[:, 2], t[:, 3]
    ahead_a = dx * vx[:, None] + dy * vy[:, None]  # along end a's direction
    ahead_c = -(dx * vx[None, :] + dy * vy[None, :])
    side = np.maximum(np.abs(dx * vy[:, None] - dy * vx[:, None]),
                      np.abs(dx * vy[None, :] - dy * vx[None, :]))
    opposite = (vx[:, None] * vx[None, :] + vy[:, None] * vy[None, :]) \
        < -np.cos(np.radians(angle_deg))
    return opposite & (ahead_a > 0) & (ahead_c > 0), np.hypot(dx, dy), side


def _through(p: StrandParams, loose: list[tuple[int, float, float, int, int]],
             m: np.ndarray, b_radius: np.ndarray, strands: _UnionFind) -> None:
    """Join ends that crossings left unpaired (``loose``: (branch, vx, vy, x, y), (vx, vy)
    pointing away from the crossing along the branch) to facing ends of other strands: within
    ``continue_angle_deg`` of opposite, each off the other's line by at most the larger radius
    + 2 px + ``through_lateral`` x their distance, at most ``max(through_px, through_scale *
    r)`` apart, and the straight line between them at least ``through_share`` in the mask
    ``m``. Most opposite first; an end is joined once."""
    if p.through_scale <= 0 or len(loose) < 2:
        return
    e = np.array(loose, float)
    b = e[:, 0].astype(int)
    t = np.column_stack([e[:, 4], e[:, 3], -e[:, 1], -e[:, 2]])  # (y, x, on-going direction)
    r = np.maximum(b_radius[b][:, None], b_radius[b][None, :])
    facing, dist, side = _facing(t, p.continue_angle_deg)
    ok = (facing & (side <= r + 2 + p.through_lateral * dist)
          & (dist <= np.maximum(p.through_px, p.through_scale * r)))
    cos = t[:, 2:] @ t[:, 2:].T
    done: set[int] = set()
    for a, c in sorted(zip(*np.nonzero(np.triu(ok))), key=lambda ac: cos[ac]):
        if a in done or c in done or strands.find(b[a]) == strands.find(b[c]):
            continue
        if _inside_share(t, a, c, m) >= p.through_share:
            strands.union(int(b[a]), int(b[c]))
            done |= {int(a), int(c)}


def _contract_splits(p: StrandParams, n_b: int, by_branch: dict, direction: dict,
                     contacts: dict, length: np.ndarray, b_radius: np.ndarray, spur: np.ndarray,
                     bridge: np.ndarray, cross: _UnionFind, cos_lim: float) -> None:
    """Thinning splits one crossing into forks a short branch apart (a thin hair through a
    thick one makes two or three). A branch between two crossings shorter than
    ``split_scale`` x the largest hair radius there is contracted (marked a bridge, its
    crossings made one): always when it is shorter than the hairs there are wide; never when
    it goes on at neither crossing and is long enough to be a hair of its own; else when the
    hairs then go on straighter - fewer ends left unpaired, or as few when one side only
    passes a hair on (two ends). Shortest first, until nothing changes."""
    if p.split_scale <= 0:
        return
    r_max: dict[int, float] = {}
    for b, j in direction:
        r_max[j] = max(r_max.get(j, 0.0), b_radius[b])
    cand = sorted((b for b in range(1, n_b) if len(by_branch.get(b, [])) == 2
                   and not (spur[b] or bridge[b])
                   and length[b] < p.split_scale * max(r_max.get(j, 0.0) for j in by_branch[b])),
                  key=lambda b: length[b])
    if not cand:
        return

    at_root: dict[int, list[tuple[int, int]]] = {}  # a crossing's ends, kept merged on union
    for b, j in direction:
        if not (spur[b] or bridge[b]):
            at_root.setdefault(cross.find(j), []).append((b, j))

    rank = {e: i for i, e in enumerate(direction)}

    def ends_at(root: int) -> list[tuple[int, int]]:
        return sorted((e for e in at_root.get(root, []) if not bridge[e[0]]), key=rank.__getitem__)

    def contract(b: int, j1: int, j2: int) -> None:
        r1, r2 = cross.find(j1), cross.find(j2)
        bridge[b] = True
        cross.union(j1, j2)
        at_root[cross.find(j1)] = at_root.pop(r1, []) + at_root.pop(r2, [])

    def pairing(es: list[tuple[int, int]]) -> tuple[int, set]:
        """(ends left unpaired, the ends paired) of the crossing with ends ``es``."""
        vec = np.array([direction[e] for e in es]).reshape(-1, 2)
        pos = np.array([contacts[e][::-1] for e in es], float).reshape(-1, 2)
        branch = [b for b, _ in es]
        pairs = _pair_ends(vec, pos, float(b_radius[branch].max(initial=0.0)), branch, cos_lim)
        return len(es) - 2 * len(pairs), {es[i] for pr in pairs for i in pr}

    changed = True
    while changed:
        changed = False
        for b in cand:
            j1, j2 = by_branch[b]
            r1, r2 = cross.find(j1), cross.find(j2)
            if bridge[b] or r1 == r2:
                continue
            if length[b] <= max(r_max[j1], r_max[j2], p.junction_radius):
                contract(b, j1, j2)  # shorter than the hairs are wide: inside the crossing
                changed = True
                continue
            e1, e2 = ends_at(r1), ends_at(r2)
            (u1, p1), (u2, p2) = pairing(e1), pairing(e2)
            if ((b, j1) not in p1 | p2 and (b, j2) not in p1 | p2
                    and length[b] >= p.min_strand_length):
                continue  # b goes on at neither crossing: a hair of its own, keep it
            after, _ = pairing([e for e in e1 + e2 if e[0] != b])
            if after < u1 + u2 or (after == u1 + u2 and min(len(e1), len(e2)) <= 2):
                contract(b, j1, j2)
                changed = True


def trace_hairs(mask: np.ndarray, p: StrandParams,
                thickness: ThicknessParams = ThicknessParams(),
                skeleton: np.ndarray | None = None,
                components: Components | None = None,
                area: np.ndarray | None = None,
                image: np.ndarray | None = None) -> HairTrace:
    """Strands, count and per-hair widths of ``mask`` ((H, W) bool); an empty mask gives no
    hairs. ``skeleton`` / ``components``: as in :func:`measure_thickness`. ``area``: the
    analysed area ((H, W) bool); a gap that lies outside it (under capture graphics) is not
    seen, so only its part inside counts against ``gap_px``. ``image``: the (H, W, 3) uint8
    RGB frame of the mask; with ``width_edge: image`` the widths are measured between the
    hair's edges in it (:func:`image_edge_widths`), without it at the mask's edge."""
    comps = components if components is not None else Components.of(mask)
    m = comps.at_least(p.min_area)
    sk = skeleton & m if skeleton is not None else skeletonize(m, comps)
    empty = HairTrace([], np.zeros(0), np.zeros(0, int),
                      {"branches": 0, "junctions": 0, "spurs": 0, "bridges": 0},
                      np.full(mask.shape, -1, np.int32))
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
    # every crossing a branch pixel touches (8-neighbourhood): a 1-px branch between the two
    # forks of a thin X touches both; each contact is the branch's first pixel, in raster
    # order, next to that crossing
    near = cv2.dilate(jdisc.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    cy, cx = np.nonzero(branches & near)
    padded = np.pad(jlab, 1)
    hits = np.stack([padded[cy + 1 + dy, cx + 1 + dx] for dy in (-1, 0, 1)
                     for dx in (-1, 0, 1)], 1)  # (P, 9) crossing labels around each pixel
    contacts: dict[tuple[int, int], tuple[int, int]] = {}
    for y, x, around in zip(cy.tolist(), cx.tolist(), hits.tolist()):
        for j in sorted(set(around) - {0}, reverse=True):
            contacts.setdefault((int(blab[y, x]), j), (y, x))
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
        overlap of two strips of radii r1, r2 crossing at angle t is (r1 + r2) / sin(t / 2)
        long (a thin hair lies inside a thick one for as long as the thick one is wide); 0
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
        return max(b_radius[go_on[a]] + b_radius[go_on[c]], 2.0) / np.sin(half)

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
        if len(js) == 2 and length[b] < p.bridge_scale * min(overlap_length(b, j) for j in js):
            bridge[b] = True
            cross.union(js[0], js[1])
    _contract_splits(p, n_b, by_branch, direction, contacts, length, b_radius, spur, bridge,
                     cross, cos_lim)
    croot = cross.roots()

    # 4. pair branch ends through each crossing
    strands = _UnionFind(n_b)
    ends: dict[int, list[tuple[int, float, float, int, int]]] = {}
    for (b, j), (vx, vy) in direction.items():
        if spur[b] or bridge[b]:
            continue
        y, x = contacts[(b, j)]
        ends.setdefault(int(croot[j]), []).append((b, vx, vy, x, y))
    loose = []  # ends a crossing of two or more leaves unpaired
    for group in ends.values():
        g = np.array(group, float)
        branch = [e[0] for e in group]
        paired = set()
        for a, c in _pair_ends(g[:, 1:3], g[:, 3:5], float(b_radius[branch].max()), branch,
                              cos_lim):
            strands.union(group[a][0], group[c][0])
            paired |= {a, c}
        if len(group) > 1:
            loose += [end for k, end in enumerate(group) if k not in paired]
    _through(p, loose, m, b_radius, strands)

    # 5. gaps: facing free tips of different strands; a crossing left with one end (its
    # other branches were spurs: a blunt end) is a free tip too
    tip_list = []  # (branch, y, x, outward unit vector, px the hair goes on beyond the tip)
    spur_len: dict[int, float] = {}  # per crossing: how far its spurs reach past it
    for b in np.nonzero(spur)[0].tolist():
        r = int(croot[by_branch[b][0]])
        spur_len[r] = max(spur_len.get(r, 0.0), length[b] + p.junction_radius)
    for (b, j), (vx, vy) in direction.items():
        if not (spur[b] or bridge[b]) and len(ends.get(int(croot[j]), [])) == 1:
            y, x = contacts[(b, j)]
            tip_list.append((b, y, x, -vx, -vy, spur_len.get(int(croot[j]), 0.0)))
    for b, pts in tips.items():
        if spur[b] or bridge[b] or b == 0:
            continue
        a0, a1 = starts[b], starts[b + 1]
        for y, x in pts:
            vx, vy = _end_direction(ys[a0:a1], xs[a0:a1], y, x,
                                    max(p.direction_radius, p.direction_scale * b_radius[b]),
                                    p.direction_skip * b_radius[b])  # a cut end bends too
            tip_list.append((b, y, x, -vx, -vy, 0.0))
    if len(tip_list) > 1:
        t = np.array([row[1:5] for row in tip_list], float)  # (y, x, vx, vy)
        tb = np.array([row[0] for row in tip_list])
        beyond = np.array([row[5] for row in tip_list])
        # facing within gap_angle_deg, off the other's line by at most the angle's spread
        # plus a diameter (a blunt end's skeleton tip lies off the centreline by up to a radius)
        facing, dist, side = _facing(t, p.gap_angle_deg)
        r2 = 2 * np.maximum(b_radius[tb][:, None], b_radius[tb][None, :])
        facing &= side <= r2 + dist * np.tan(np.radians(p.gap_angle_deg))
        gap = dist - beyond[:, None] - beyond[None, :]  # what the mask leaves out
        reach = np.maximum(p.gap_px, p.gap_scale * b_radius[tb])
        ok = facing & (gap <= reach[:, None]) & (dist > 0)
        if area is not None and not area.all():  # gaps under graphics: count the seen part
            hidden = facing & ~ok & (dist > 0) & (gap <= p.hidden_gap_px)
            for a, c in zip(*np.nonzero(np.triu(hidden))):
                ok[a, c] = gap[a, c] * _inside_share(t, a, c, area) <= reach[a]
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
        widths = th.widths
        if image is not None and p.width_edge == "image":
            lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
            widths = image_edge_widths(lab, m, th.centers_xy, np.radians(th.angles_deg),
                                       widths, thickness)
        sample_w, sample_s = widths[on_hair], sample_s[on_hair]
    hairs = []
    labels = np.full(m.shape, -1, np.int32)
    for k, s in enumerate(hair_roots.tolist()):
        mine = sample_w[sample_s == s]
        width = float("nan")
        if len(mine):
            width = float(mine[mine <= p.merged_ratio * np.median(mine)].mean())
        bs = np.nonzero(keep & (roots == s))[0]
        idx = np.concatenate([np.arange(starts[b], starts[b + 1]) for b in bs])
        labels[ys[idx], xs[idx]] = k
        px, py = xs[idx].astype(float), ys[idx].astype(float)
        cxx, cyy = np.cov(px, py) if len(px) > 1 else ((1, 0), (0, 1))
        theta = 0.5 * np.arctan2(2 * cxx[1], cxx[0] - cyy[1])
        hairs.append({"strand": k, "length_px": float(strand_len[s]), "width_px": width,
                      "samples": int(len(mine)), "angle_deg": float(np.degrees(theta) % 180),
                      "x": float(px.mean()), "y": float(py.mean())})
    return HairTrace(hairs, sample_w, sample_s,
                     {"branches": int(keep.sum()), "junctions": int(n_j - 1),
                      "spurs": int(spur.sum()), "bridges": int(bridge.sum())}, labels)
