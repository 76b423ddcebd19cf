"""Hair thickness from a hair mask (paper §3.2, eqs. 4-7; reference-method.md §5).

skeleton -> b x b boxes (b = 20) round skeleton pixels -> NMS -> per box, PCA of the skeleton
pixels (eq. 4-5) -> the perpendicular through their mean point (the second principal axis,
eq. 6) -> its two exits from the mask -> width = distance between them (eq. 7).

Differences from the reference code, all deliberate:
* every angle works: the perpendicular is the second eigenvector itself, never a slope, so
  exactly horizontal hairs are measured (the reference records nothing for them, §5);
* the exits are found for all boxes at once on a 0.1-px grid (coarse-to-fine: 0.5-px steps,
  then 0.1-px steps before the first coarse exit), each width averaged over seven parallel
  perpendiculars (sub-pixel, unbiased on pixel staircases) - no Python loop stepping 0.01 px;
* the per-box PCA moments are sums over the skeleton points in each box (one matrix product),
  not per-box loops.

References: Kim et al., ScalpVision, arXiv 2406.17254, §3.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy.special import erf

from scalpvision.features.params import ThicknessParams
from scalpvision.morphology import Components, box_nms_points, skeletonize


@dataclass
class ThicknessResult:
    """``widths`` (K,) float px; ``centers_xy`` (K, 2) the boxes' mean points; ``angles_deg``
    (K,) hair direction; ``anchors_xy`` (K, 2) int, the skeleton pixel each box is centred on."""

    widths: np.ndarray
    centers_xy: np.ndarray
    angles_deg: np.ndarray
    anchors_xy: np.ndarray


def measure_thickness(mask: np.ndarray, p: ThicknessParams = ThicknessParams(),
                      skeleton: np.ndarray | None = None,
                      components: Components | None = None) -> ThicknessResult:
    """Per-box hair widths of ``mask`` ((H, W) bool). An empty mask gives empty arrays.

    ``skeleton``: the skeleton of ``mask`` with no more components removed than here, when the
    caller has it already (thinning is per component, so restricting it to the kept components
    equals thinning them). ``components``: ``mask``'s, when the caller has labelled it."""
    comps = components if components is not None else Components.of(mask)
    m = comps.at_least(p.min_area)
    sk = skeleton & m if skeleton is not None else skeletonize(m, comps)
    ys, xs = np.nonzero(sk)
    # a kept component whose skeleton is shorter than min_skeleton_area gives no boxes
    # (thinning keeps each component connected: its skeleton is one skeleton component)
    lab = comps.labels[ys, xs]
    ok = np.bincount(lab, minlength=len(comps.stats))[lab] >= p.min_skeleton_area
    ys, xs = ys[ok], xs[ok]
    empty = ThicknessResult(np.zeros(0), np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2), int))
    if len(xs) == 0:
        return empty
    pts = np.stack([xs, ys], 1).astype(np.float64)
    centres = pts[box_nms_points(pts, p.box, p.nms_overlap)]
    half = p.box // 2
    # per-box PCA moments from the skeleton points in each box [c - half, c + half): every
    # box's window read from a raster of the kept skeleton (boxes x b^2 lookups, no search
    # structure), then per-box sums by bincount (integer coordinates: the sums are exact)
    h, w = sk.shape
    kept = np.zeros((h, w), bool)
    kept[ys, xs] = True
    cx, cy = centres[:, 0].astype(np.intp), centres[:, 1].astype(np.intp)
    oy, ox = np.divmod(np.arange(p.box * p.box), p.box)
    gx, gy = cx[:, None] + (ox - half), cy[:, None] + (oy - half)  # (K, b^2)
    in_frame = (gx >= 0) & (gx < w) & (gy >= 0) & (gy < h)
    hit = np.zeros(gx.shape, bool)
    hit[in_frame] = kept[gy[in_frame], gx[in_frame]]
    o, flat = np.nonzero(hit)
    x, y, k = gx[o, flat].astype(np.float64), gy[o, flat].astype(np.float64), len(centres)
    n = np.bincount(o, minlength=k).astype(np.float64)
    sx, sy = np.bincount(o, x, k), np.bincount(o, y, k)
    sxx, syy, sxy = np.bincount(o, x * x, k), np.bincount(o, y * y, k), np.bincount(o, x * y, k)
    ok = n >= p.min_box_pixels
    n, sx, sy, sxx, syy, sxy = (a[ok] for a in (n, sx, sy, sxx, syy, sxy))
    anchors = centres[ok].astype(int)
    if len(n) == 0:
        return empty
    mx, my = sx / n, sy / n  # eq. (4): mean point of the hair pixels in the box
    cxx, cyy, cxy = sxx / n - mx**2, syy / n - my**2, sxy / n - mx * my  # eq. (5): covariance
    theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)  # first principal axis: the hair direction
    mean_xy = np.stack([mx, my], 1)
    width = cross_section_widths(m, mean_xy, theta, p)
    good = np.isfinite(width)
    return ThicknessResult(width[good], mean_xy[good], np.degrees(theta[good]) % 180,
                           anchors[good])


def _across(centres_xy: np.ndarray, theta: np.ndarray, offs: np.ndarray,
            dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sampling geometry shared by the width readers: points (K, L, n) float32 x, y on
    the perpendiculars to each sample's hair direction ``theta`` ((K,) radians) through its
    centre ((K, 2) xy) moved ``offs`` ((L,) px) along the hair, at signed distances ``dist``
    ((n,), (K, n) or (K, L, n) px) across it."""
    cx, cy = centres_xy[:, 0, None, None], centres_xy[:, 1, None, None]
    tx, ty = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    nx, ny = -ty, tx  # eq. (6): second axis, the perpendicular
    d = dist[None, None, :] if dist.ndim == 1 else dist[:, None, :] if dist.ndim == 2 else dist
    o = offs[None, :, None]
    return ((cx + o * tx + d * nx).astype(np.float32),
            (cy + o * ty + d * ny).astype(np.float32))


def cross_section_widths(mask: np.ndarray, centres_xy: np.ndarray, theta: np.ndarray,
                         p: ThicknessParams = ThicknessParams()) -> np.ndarray:
    """Eq. (6)-(7) for all boxes at once: the width (K,) of ``mask`` ((H, W) bool) across the
    hair through each centre ((K, 2) xy) whose direction is ``theta`` ((K,) radians); NaN where
    too few perpendiculars start inside the mask. This is the step the reference walks in
    0.01-px Python loops (:func:`reference_walk_widths` takes the same boxes)."""
    centres_xy = centres_xy.astype(np.float64)
    # eq. (7): exits on both sides of the perpendicular. Each pixel is a unit square; the
    # cross-section is averaged over parallel perpendiculars spread along the hair, which by
    # Cavalieri's principle gives the raster's area per unit length - unbiased at any angle,
    # also for thin diagonal hairs whose single cross-sections alternate between staircases.
    d = np.arange(p.step / 2, p.max_half_width, p.step)  # (S,)
    offs = np.linspace(-p.spread, p.spread, p.n_lines)  # (L,) along the hair
    mu8 = mask.astype(np.uint8)
    k = len(centres_xy)

    def inside(sign: float, dist: np.ndarray) -> np.ndarray:  # (K, L, n) bool at distances
        px, py = _across(centres_xy, theta, offs, sign * dist)
        return cv2.remap(mu8, px.reshape(k, -1), py.reshape(k, -1), cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0).reshape(k, len(offs), -1) > 0

    def run_length(sign: float) -> np.ndarray:  # (K, L): inside run from the centre, px
        # coarse-to-fine on the same step grid: every 5th sample first, then the 5 samples
        # before the first coarse exit - 85 samples instead of 400. The first exit is the one
        # testing every sample finds unless the line crosses background for less than 0.5 px
        # (the corner of a pixel, on ragged masks), which this reads as still inside
        coarse_k = np.arange(2, len(d), 5)
        out = ~inside(sign, d[coarse_k])
        j = np.where(out.any(2), out.argmax(2), -1)  # (K, L)
        fine_k = np.clip(coarse_k[j.clip(0)][..., None] + np.arange(-4, 1), 0, len(d) - 1)
        out_f = ~inside(sign, d[fine_k])
        first = np.take_along_axis(fine_k, out_f.argmax(2)[..., None], 2)[..., 0]
        return np.where(j >= 0, first * p.step, np.nan)

    cx, cy = _across(centres_xy, theta, offs, np.zeros(1))
    centre_in = cv2.remap(mu8, cx[..., 0], cy[..., 0], cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    per_line = run_length(1.0) + run_length(-1.0)  # (K, L)
    per_line = np.where(centre_in, per_line, np.nan)
    n_ok = np.isfinite(per_line).sum(1)
    enough = n_ok >= max(1, p.n_lines // 2)
    return np.where(enough, np.nansum(per_line, 1) / np.maximum(n_ok, 1), np.nan)


def image_edge_widths(lab: np.ndarray, mask: np.ndarray, centres_xy: np.ndarray,
                      theta: np.ndarray, widths: np.ndarray,
                      p: ThicknessParams = ThicknessParams()) -> np.ndarray:
    """Widths (K,) px between the hair's edges in the image, where the colour across the hair is
    half-way between the skin's and the hair's (full width at half maximum), for the samples of
    :func:`cross_section_widths` (``centres_xy``, ``theta``, their mask ``widths``). ``lab``
    (H, W, 3) float32 CIELAB. A segmenter's mask edge lies where its probability crosses its
    threshold, outside the hair on blurred or low-contrast frames; half the contrast is the
    edge of a hair wider than the blur, whatever the hair's colour.

    Per sample, the colour profile across the hair (averaged over the same parallel lines) is
    read out to the mask's half-width + max(4, half-width) px; the skin is the median colour of
    each side's non-hair points beyond the mask's edge + ``edge_margin``, interpolated across;
    the contrast is the CIELAB distance from it. The edges are the outermost half-contrast
    crossings within the mask's edge +- ``edge_margin`` (outermost: a medulla or a specular
    streak inside a hair is not its edge). The mask's width stays where the hair differs from
    the skin by less than ``edge_min_contrast``, where a side has no skin, or where the
    contrast has not fallen to half at the window's end (a neighbouring hair).

    Blur widens a hair narrower than it at half maximum (a 2-px hair by ~1 px at sigma 1.2).
    The frame's blur sigma is read from the 20-80 % rise of the edges (2 x 0.8416 sigma for a
    blurred step) of its wider hairs - the median over the samples of at least
    ``blur_quantile`` of the FWHMs and ``blur_min_contrast`` - and each FWHM is replaced by
    the width of the flat hair that gives it through that blur (:func:`deblurred_width`)."""
    k = len(widths)
    if k == 0:
        return np.zeros(0)
    hw = np.nan_to_num(widths, nan=2.0) / 2
    reach = hw + np.maximum(4.0, hw)
    s = np.linspace(-1.0, 1.0, 81)[None, :] * reach[:, None]  # (K, n) across the hair
    offs = np.linspace(-p.spread, p.spread, p.n_lines)  # (L,) along it
    px, py = (v.reshape(k, -1) for v in _across(centres_xy, theta, offs, s))
    shape = (k, len(offs), s.shape[1])
    prof = np.stack([cv2.remap(np.ascontiguousarray(lab[..., c]), px, py, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT).reshape(shape).mean(1)
                     for c in range(3)], -1)  # (K, n, 3)
    hair = cv2.remap(mask.astype(np.uint8), px, py, cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT).reshape(shape).max(1) > 0
    skin = (np.abs(s) > hw[:, None] + p.edge_margin) & ~hair
    left, right = skin & (s < 0), skin & (s > 0)
    ok = (left.sum(1) >= 3) & (right.sum(1) >= 3)
    left[~ok], right[~ok] = s[~ok] < 0, s[~ok] > 0  # placeholders, never used

    def median_where(v: np.ndarray, sel: np.ndarray) -> np.ndarray:
        return np.nanmedian(np.where(sel[..., None] if v.ndim == 3 else sel, v, np.nan), 1)

    bl, br = median_where(prof, left), median_where(prof, right)  # (K, 3)
    a = ((s + reach[:, None]) / (2 * reach[:, None]))[..., None]
    contrast = np.linalg.norm(prof - (bl[:, None] + (br - bl)[:, None] * a), axis=2)  # (K, n)
    floor = median_where(contrast, left | right)
    core = np.abs(s) <= np.maximum(hw - 0.5, 0.5)[:, None]
    peak = np.where(core, contrast, -np.inf).max(1)

    def at(v: np.ndarray, q: np.ndarray) -> np.ndarray:  # v[k, q[k]] per sample
        return np.take_along_axis(v, q[:, None], 1)[:, 0]

    def edges(share: float, beyond: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Outermost crossings (K,), (K,) of floor + share x (peak - floor) within the mask's
        edge + ``beyond`` px, and whether both lie inside that window."""
        level = floor + share * (peak - floor)
        win = np.abs(s) <= (hw + beyond)[:, None]
        above = (contrast >= level[:, None]) & win
        i0, i1 = win.argmax(1), s.shape[1] - 1 - win[:, ::-1].argmax(1)
        li, ri = above.argmax(1), s.shape[1] - 1 - above[:, ::-1].argmax(1)
        seen = above.any(1) & (li > i0) & (ri < i1)
        li, ri = np.clip(li, 1, None), np.clip(ri, None, s.shape[1] - 2)

        def crossing(i: np.ndarray, j: np.ndarray) -> np.ndarray:  # where level lies in i..j
            ci, cj = at(contrast, i), at(contrast, j)
            t = (level - ci) / np.where(cj != ci, cj - ci, 1.0)
            return at(s, i) + np.clip(t, 0, 1) * (at(s, j) - at(s, i))

        return crossing(li - 1, li), crossing(ri, ri + 1), seen

    l50, r50, seen = edges(0.5, p.edge_margin)
    ok &= (peak - floor >= p.edge_min_contrast) & seen
    fwhm = r50 - l50
    # the frame's blur: a blurred edge rises from 20 % to 80 % of the contrast over
    # 2 x 0.8416 sigma; read on the samples whose edges lie farthest apart (the wider hairs)
    l20, r20, seen20 = edges(0.2, p.blur_reach)
    l80, r80, seen80 = edges(0.8, p.blur_reach)
    rise = ((l80 - l20) + (r20 - r80)) / 2
    use = ok & seen20 & seen80 & (peak - floor >= p.blur_min_contrast)
    sigma = 0.0
    if use.sum() >= p.blur_min_samples:
        wide = use & (fwhm >= np.quantile(fwhm[use], p.blur_quantile))
        sigma = float(np.median(rise[wide])) / (2 * _Z80)
    return np.where(ok, deblurred_width(fwhm, sigma), widths)


_Z80 = 0.8416212335729143  # the standard normal's 80th percentile


_FWHM_WIDTHS = np.linspace(0.05, 30.0, 600)  # px, the hair widths tabulated
_FWHM_SIGMAS = np.linspace(0.0, 3.0, 61)  # px, the blurs tabulated


@lru_cache(maxsize=None)
def _fwhm_row(i: int) -> np.ndarray:
    """FWHM (W,) px of a flat hair of each width in ``_FWHM_WIDTHS`` seen through a Gaussian
    blur of ``_FWHM_SIGMAS[i]``: its profile is erf((x + w/2) / (sqrt 2 sigma)) - erf((x - w/2)
    / ...). Rows are made when first needed (~0.1 s each): an image needs two."""
    w, sg = _FWHM_WIDTHS, _FWHM_SIGMAS[i]
    if sg == 0:
        return w
    x = np.linspace(0.0, 1.0, 4001)[None, :] * (w[:, None] / 2 + 6 * _FWHM_SIGMAS.max() + 1)
    prof = 0.5 * (erf((x + w[:, None] / 2) / (np.sqrt(2) * sg))
                  - erf((x - w[:, None] / 2) / (np.sqrt(2) * sg)))  # (W, X), falls in x
    half = prof[:, :1] / 2
    j = np.clip((prof >= half).sum(1), 1, x.shape[1] - 1)  # first point below half
    x0, x1 = x[np.arange(len(w)), j - 1], x[np.arange(len(w)), j]
    p0, p1 = prof[np.arange(len(w)), j - 1], prof[np.arange(len(w)), j]
    return 2 * (x0 + (half[:, 0] - p0) / np.where(p1 != p0, p1 - p0, 1) * (x1 - x0))


def deblurred_width(fwhm: np.ndarray, sigma: float) -> np.ndarray:
    """The width (K,) px of a flat hair whose full width at half maximum through a Gaussian
    blur of ``sigma`` px is ``fwhm`` (K,): blur widens a hair's half maximum by up to 2.355
    sigma (a thin hair), not at all a hair much wider than the blur. Beyond the table's 30 px
    the FWHM is kept; a FWHM below the blur's own gives the table's smallest width; a blur
    over the table's 3 px is taken as 3 px."""
    sig = _FWHM_SIGMAS
    f = np.nan_to_num(np.asarray(fwhm, float), nan=0.0)
    if sigma <= 0:
        return f
    i = int(np.clip(np.searchsorted(sig, sigma), 1, len(sig) - 1))
    t = min((sigma - sig[i - 1]) / (sig[i] - sig[i - 1]), 1.0)
    row = _fwhm_row(i - 1) * (1 - t) + _fwhm_row(i) * t
    return np.where(f > row[-1], f, np.interp(f, row, _FWHM_WIDTHS))


def reference_walk_widths(mask: np.ndarray, centres_xy: np.ndarray, angles_deg: np.ndarray,
                          step: float = 0.01, search: float = 50.0) -> np.ndarray:
    """A straightforward re-implementation of the reference's per-box walk (§5 step 6): from
    each centre, step ``step`` px along the perpendicular while the pixel under the point is
    hair; width = distance between the last inside points. Python loops, for the benchmark's
    speed comparison only (it is what :func:`measure_thickness` replaces)."""
    h, w = mask.shape
    out = []
    for (cx, cy), a in zip(centres_xy, np.radians(angles_deg)):
        ux, uy = -np.sin(a), np.cos(a)
        ends = []
        for sign in (1, -1):
            last = (cx, cy)
            t = step
            while t < search:
                x, y = cx + sign * ux * t, cy + sign * uy * t
                xi, yi = int(np.floor(x)), int(np.floor(y))
                if not (0 <= xi < w and 0 <= yi < h) or not mask[yi, xi]:
                    break
                last = (x, y)
                t += step
            ends.append(last)
        out.append(float(np.hypot(ends[0][0] - ends[1][0], ends[0][1] - ends[1][1])))
    return np.asarray(out)
