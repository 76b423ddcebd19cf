"""Built-in synthetic microscopic-scalp images (trichoscopy look) with exact hair ground truth.

:func:`render_scalp` is a pure function: six AI-Hub values (0-3) and a seeded generator in, an
RGB image, a lossless hair mask and a per-hair table out. The values drive the look in the
clinically expected direction:

* value_6 (hair loss): fewer follicular units, fewer hairs per unit, thinner and more vellus hairs;
* value_1 (fine scale) / value_5 (dandruff): more and larger white-yellowish flakes;
* value_2 (sebum): yellowish tint, oily specular sheen, lower texture contrast;
* value_3 (interfollicular erythema): diffuse patchy redness;
* value_4 (follicular erythema / pustules): red halos round follicles, pustules at grade >= 2.

Session-level appearance (skin tone, hair colour, combing direction, optics) comes from a
:class:`SessionStyle`, so images of one subject look alike, as real sessions do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

HAIR_PALETTES_RGB = {  # per-session hair colour families (base RGB, before per-hair jitter)
    "black": (28, 24, 22),
    "dark_brown": (55, 38, 28),
    "brown": (96, 66, 44),
    "auburn": (110, 52, 34),
    "grey": (150, 146, 140),
    "blond": (170, 138, 92),
}
_PALETTE_P = np.array([0.45, 0.25, 0.12, 0.05, 0.08, 0.05])


@dataclass(frozen=True)
class SessionStyle:
    """Appearance shared by all images of one subject session."""

    skin_rgb: tuple[float, float, float]
    hair_family: str
    grey_share: float
    comb_angle: float  # radians, main hair direction
    vignette: float
    blur_sigma: float
    noise_sigma: float
    white_balance: tuple[float, float, float]
    round_field: bool  # trichoscope's circular field of view darkens the corners
    pigment_network: float  # strength of a honeycomb pigment network (0 = none)
    light_gradient: tuple[float, float]  # uneven illumination (relative gain per frame width)

    @staticmethod
    def sample(rng: np.random.Generator) -> SessionStyle:
        tone = rng.uniform(0, 1)  # light -> darker skin
        skin = np.array([232, 196, 178]) * (1 - tone) + np.array([176, 128, 100]) * tone
        skin = skin + rng.normal(0, 6, 3)
        family = str(rng.choice(list(HAIR_PALETTES_RGB), p=_PALETTE_P))
        wb = tuple(float(v) for v in 1 + rng.normal(0, 0.035, 3))
        network = float(rng.uniform(0.08, 0.22)) if rng.uniform() < 0.25 + 0.4 * tone else 0.0
        return SessionStyle(
            skin_rgb=tuple(float(v) for v in np.clip(skin, 90, 250)),
            hair_family=family,
            grey_share=float(rng.choice([0.0, 0.05, 0.15, 0.4])),
            comb_angle=float(rng.uniform(0, 2 * np.pi)),
            vignette=float(rng.uniform(0.15, 0.45)),
            blur_sigma=float(rng.choice([0.0, 0.4, 0.7, 1.1])),
            noise_sigma=float(rng.uniform(1.0, 4.0)),
            white_balance=wb,  # type: ignore[arg-type]
            round_field=bool(rng.uniform() < 0.35),
            pigment_network=network,
            light_gradient=(float(rng.normal(0, 0.12)), float(rng.normal(0, 0.12))),
        )


@dataclass(frozen=True)
class RenderShift:
    """Distribution shifts of the built-in renderer (the generality suite's renderings;
    ``None`` fields keep the built-in distribution). Widths in px."""

    terminal_width: tuple[float, float] | None = None  # terminal hair width range
    lying_hairs: tuple[int, int] | None = None  # hairs lying across the frame, edge to edge
    lying_length: tuple[float, float] = (700.0, 1100.0)
    bundle_share: float = 0.0  # hairs given a mate at a shallow angle (dense crossings)
    bundle_angle_deg: float = 10.0
    taper_share: float = 0.0  # hairs whose last 30 % narrows to 35 % of the width
    shine: float = 0.35  # specular streak strength, up to
    blur_sigma: float | None = None  # replaces the session's defocus


@dataclass
class RenderedScalp:
    """One rendered image. ``image``: (H, W, 3) uint8 RGB; ``mask``: (H, W) bool hair mask;
    ``hairs``: one dict per drawn hair (width_px, length_px, angle_deg, visible_px, vellus);
    ``hair_id``: (H, W) int32, the row in ``hairs`` of the top hair at each pixel, -1 none."""

    image: np.ndarray
    mask: np.ndarray
    hairs: list[dict] = field(default_factory=list)
    hair_id: np.ndarray | None = None

    @property
    def hair_count(self) -> int:
        return sum(1 for h in self.hairs if h["counted"])


# --------------------------------------------------------------------------- noise fields
def _field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth random field in about [-1, 1] with feature size ``cell`` px; (H, W) float32."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big / (np.abs(big).max() + 1e-6)


def _fbm(rng: np.random.Generator, h: int, w: int, cells=(160, 60, 20, 6), gains=(1, .5, .3, .2)):
    out = sum(g * _field(rng, h, w, c) for c, g in zip(cells, gains))
    return out / sum(gains)


# --------------------------------------------------------------------------- hair geometry
def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # (n, 2) xy


def _hair_centerline(rng, start_xy, angle, length, curl) -> np.ndarray:
    """A gently curving strand: quadratic Bezier bent by ``curl`` (fraction of length)."""
    d = np.array([np.cos(angle), np.sin(angle)])
    perp = np.array([-d[1], d[0]])
    end = start_xy + d * length
    ctrl = start_xy + d * length * rng.uniform(0.3, 0.7) + perp * length * curl
    n = max(8, int(length / 6))
    return _bezier(start_xy, ctrl, end, n)


def _distance_to_polyline(px: np.ndarray, py: np.ndarray, pts: np.ndarray,
                          half: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of points (px, py) (each (P,)) to a polyline ``pts`` (S+1, 2) xy;
    with ``half`` ((S+1,) half-widths at the vertices) the signed distance to the edge of a
    stroke whose width varies linearly along each segment."""
    a, b = pts[:-1], pts[1:]  # (S, 2)
    ab = b - a
    ab2 = np.maximum((ab**2).sum(1), 1e-12)
    apx = px[:, None] - a[None, :, 0]  # (P, S)
    apy = py[:, None] - a[None, :, 1]
    t = np.clip((apx * ab[None, :, 0] + apy * ab[None, :, 1]) / ab2[None], 0, 1)
    dx = apx - t * ab[None, :, 0]
    dy = apy - t * ab[None, :, 1]
    if half is None:
        return np.sqrt((dx * dx + dy * dy).min(1))
    local = half[None, :-1] + t * (half[None, 1:] - half[None, :-1])  # (P, S)
    return (np.sqrt(dx * dx + dy * dy) - local).min(1)


def _draw_hair(img, mask, pts, width, color, opacity, shine, rng, taper: float = 1.0,
               covered: list | None = None) -> int:
    """Composite one hair into ``img`` (float32 RGB) and ``mask`` (bool) in place.

    The hair covers every pixel whose centre lies within width/2 of the centreline, so the
    mask's width is the hair's true width at any angle; edges are anti-aliased in the image
    only. ``taper`` < 1 narrows the last 30 % of the hair linearly to ``taper`` x width.
    Returns the number of visible mask pixels it added or covered; ``covered``, when given,
    receives those pixels' flat indices.
    """
    h, w = mask.shape
    if covered is not None:
        covered.append(np.zeros(0, np.int64))  # replaced below when the hair shows
    pad = width / 2 + 2
    x0, y0 = np.floor(pts.min(0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(0) + pad).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if x1 <= x0 or y1 <= y0:
        return 0
    band = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    shift = 4  # sub-pixel polyline for the candidate band
    poly = np.round((pts - [x0, y0]) * (1 << shift)).astype(np.int32)
    cv2.polylines(band, [poly], False, 1, thickness=int(np.ceil(width)) + 4, shift=shift)
    ys, xs = np.nonzero(band)
    if len(xs) == 0:
        return 0
    gx, gy = xs + x0, ys + y0
    half = width / 2
    if taper < 1.0:
        prof = np.ones(len(pts), np.float32)
        k = max(2, int(0.3 * len(pts)))
        prof[-k:] = np.linspace(1, taper, k)
        sd = _distance_to_polyline(gx.astype(np.float32), gy.astype(np.float32),
                                   pts.astype(np.float32), (half * prof).astype(np.float32))
        dist = sd + half  # the edge where the tip narrows lies nearer the centre
    else:
        dist = _distance_to_polyline(gx.astype(np.float32), gy.astype(np.float32),
                                     pts.astype(np.float32))
    alpha = np.clip(half + 0.5 - dist, 0, 1) * opacity
    keep = alpha > 0
    gx, gy, dist, alpha = gx[keep], gy[keep], dist[keep], alpha[keep]
    rel = dist / max(half, 0.5)  # 0 at the centre, 1 at the edge
    shade = 0.8 + 0.35 * rel**2  # hairs are darker in the core, lighter at the rim
    col = np.asarray(color, np.float32)[None] * shade[:, None]
    if shine > 0:  # a specular streak slightly off-centre
        streak = np.exp(-((rel - 0.35) ** 2) / 0.02) * shine
        col = col + (255 - col) * streak[:, None]
    img[gy, gx] = img[gy, gx] * (1 - alpha[:, None]) + col * alpha[:, None]
    inside = dist <= half
    mask[gy[inside], gx[inside]] = True
    if covered is not None:
        covered[-1] = gy[inside] * w + gx[inside]
    return int(inside.sum())


# --------------------------------------------------------------------------- label -> look
_UNITS = {0: (16, 24), 1: (10, 15), 2: (6, 10), 3: (2, 6)}  # follicular units per image
_HAIRS_PER_UNIT_P = {0: (0.2, 0.5, 0.3), 1: (0.4, 0.45, 0.15), 2: (0.65, 0.3, 0.05),
                     3: (0.85, 0.15, 0.0)}
_VELLUS_SHARE = {0: 0.05, 1: 0.15, 2: 0.35, 3: 0.6}
_TERMINAL_WIDTH = {0: (6.0, 11.0), 1: (5.0, 9.5), 2: (4.0, 8.0), 3: (3.5, 7.0)}


def _hair_width(rng, grade: int) -> tuple[float, bool]:
    if rng.uniform() < _VELLUS_SHARE[grade]:
        return float(rng.uniform(1.5, 3.5)), True
    lo, hi = _TERMINAL_WIDTH[grade]
    return float(rng.uniform(lo, hi)), False


def _hair_colour(rng, style: SessionStyle, vellus: bool) -> np.ndarray:
    base = np.array(HAIR_PALETTES_RGB[style.hair_family], np.float32)
    if rng.uniform() < style.grey_share:
        base = np.array(HAIR_PALETTES_RGB["grey"], np.float32)
    base = base * rng.uniform(0.8, 1.2) + rng.normal(0, 5, 3)
    if vellus:  # vellus hairs are less pigmented
        base = base + (np.array(style.skin_rgb) - base) * rng.uniform(0.25, 0.5)
    return np.clip(base, 0, 255)


def _sample_follicles(rng, n: int, h: int, w: int, min_dist: float = 28.0) -> np.ndarray:
    pts: list[np.ndarray] = []
    tries = 0
    while len(pts) < n and tries < n * 40:
        p = rng.uniform([-20, -20], [w + 20, h + 20])
        if all(np.hypot(*(p - q)) >= min_dist for q in pts):
            pts.append(p)
        tries += 1
    return np.array(pts).reshape(-1, 2)


def _blob(img, cx, cy, rx, ry, angle, color, alpha, softness, rng) -> None:
    """Soft irregular blob (flake, sheen spot, pustule) composited into ``img`` in place."""
    h, w = img.shape[:2]
    r = int(max(rx, ry) * 1.6 + 3)
    x0, x1, y0, y1 = int(cx) - r, int(cx) + r + 1, int(cy) - r, int(cy) + r + 1
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xx - cx) * c + (yy - cy) * s, -(xx - cx) * s + (yy - cy) * c
    theta = np.arctan2(v, u)
    wobble = 1 + 0.25 * np.sin(3 * theta + rng.uniform(0, 6)) * rng.uniform(0, 1)
    rr = np.sqrt((u / max(rx, .5)) ** 2 + (v / max(ry, .5)) ** 2) / wobble
    a = np.clip((1 - rr) / max(softness, 1e-3), 0, 1) * alpha
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x1, w), min(y1, h)
    a = a[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0, None]
    region = img[sy0:sy1, sx0:sx1]
    region[:] = region * (1 - a) + np.asarray(color, np.float32) * a


def render_scalp(values: dict[str, int], rng: np.random.Generator,
                 style: SessionStyle | None = None, width: int = 640,
                 height: int = 480, shift: RenderShift | None = None) -> RenderedScalp:
    """Render one microscopic scalp image for the six AI-Hub ``values`` (each 0-3);
    ``shift`` moves the hair distributions (the default draws exactly the built-in set).

    Returns a :class:`RenderedScalp` with ``image`` (H, W, 3) uint8 RGB, ``mask`` (H, W) bool
    and the per-hair ground truth. Deterministic for a given generator state.
    """
    v = {k: int(values[k]) for k in (f"value_{i}" for i in range(1, 7))}
    for k, g in v.items():
        if not 0 <= g <= 3:
            raise ValueError(f"{k}={g}: AI-Hub values are 0..3")
    style = style or SessionStyle.sample(rng)
    h, w = height, width
    skin = np.array(style.skin_rgb, np.float32)

    # 1. skin: low-frequency colour variation, fine texture and skin furrows
    tex = _fbm(rng, h, w)
    fine = _field(rng, h, w, 3.0)
    furrow = np.abs(_field(rng, h, w, 45.0))
    gloss = 1 - 0.35 * v["value_2"] / 3  # sebum flattens the texture
    lum = 1 + (0.07 * tex + 0.035 * fine * gloss) - 0.06 * np.exp(-furrow * 12) * gloss
    if style.pigment_network > 0:  # honeycomb network: zero-crossings of a band-pass field
        net = np.exp(-np.abs(_field(rng, h, w, rng.uniform(10, 16))) * 9)
        lum = lum - style.pigment_network * net * (0.6 + 0.4 * np.clip(tex + 0.5, 0, 1))
    img = skin[None, None] * lum[..., None]
    img[..., 0] += 6 * tex  # natural reddish mottling

    # 2. interfollicular erythema (value_3): diffuse, patchy redness
    ery = max(v["value_3"], 0) / 3
    if ery > 0:
        patch = np.clip(0.55 + 0.6 * _field(rng, h, w, 120.0), 0, 1) * ery
        img[..., 0] += 30 * patch
        img[..., 1] -= 45 * patch
        img[..., 2] -= 35 * patch

    # 3. sebum (value_2): yellowish tint
    seb = v["value_2"] / 3
    img[..., 0] += 8 * seb
    img[..., 1] += 6 * seb
    img[..., 2] -= 26 * seb

    # 4. follicles: openings, perifollicular redness (value_4)
    grade6 = v["value_6"]
    n_units = int(rng.integers(*_UNITS[grade6], endpoint=True))
    follicles = _sample_follicles(rng, n_units, h, w)
    for fx, fy in follicles:
        if v["value_4"] > 0:
            rad = rng.uniform(10, 18) * (0.7 + 0.15 * v["value_4"])
            _blob(img, fx, fy, rad, rad, 0, (205, 70, 70), 0.18 * v["value_4"], 0.9, rng)
        _blob(img, fx, fy, rng.uniform(3, 7), rng.uniform(3, 7), rng.uniform(0, 3),
              skin * rng.uniform(0.4, 0.65), 0.8, 0.5, rng)
    if v["value_4"] >= 2:  # pustules: yellow-white centre with a red ring
        for _ in range(int(rng.integers(1, 2 + 2 * (v["value_4"] - 1)))):
            px, py = rng.uniform([0, 0], [w, h])
            r = rng.uniform(6, 12)
            _blob(img, px, py, r * 1.7, r * 1.7, 0, (210, 60, 60), 0.55, 0.8, rng)
            _blob(img, px, py, r, r, 0, (238, 226, 170), 0.85, 0.5, rng)

    # 5. flakes under the hair: fine scale (value_1) and dandruff plaques (value_5)
    for _ in range(int(v["value_1"] * rng.uniform(18, 30))):
        x, y = rng.uniform([0, 0], [w, h])
        r = rng.uniform(2, 6)
        _blob(img, x, y, r, r * rng.uniform(.4, 1), rng.uniform(0, 3), (250, 248, 240),
              rng.uniform(.6, .9), .6, rng)
    for _ in range(int(v["value_5"] * rng.uniform(3, 6))):
        x, y = rng.uniform([0, 0], [w, h])
        r = rng.uniform(10, 30)
        col = (250, 248, 238) if rng.uniform() < .6 else (240, 232, 200)
        _blob(img, x, y, r, r * rng.uniform(.4, .9), rng.uniform(0, 3), col,
              rng.uniform(.75, .95), .35, rng)

    # 6. hairs: from follicles along the combing direction, plus lying hairs from outside
    mask = np.zeros((h, w), bool)
    hairs: list[dict] = []
    p_units = _HAIRS_PER_UNIT_P[grade6]
    starts: list[tuple[np.ndarray, float]] = []
    for f in follicles:
        k = 1 + int(rng.choice(3, p=p_units))
        for _ in range(k):
            starts.append((f + rng.normal(0, 1.5, 2), style.comb_angle + rng.normal(0, 0.35)))
    for _ in range(int(rng.integers(0, 4 - grade6 // 2, endpoint=True))):  # hairs lying across
        edge = rng.uniform([-60, -60], [w + 60, h + 60])
        starts.append((edge, float(np.arctan2(h / 2 - edge[1], w / 2 - edge[0])
                                   + rng.normal(0, 0.5))))
    lengths: dict[int, float] = {}
    covered: list[np.ndarray] = []  # flat pixel indices of each hair, in drawing order
    if shift is not None and shift.lying_hairs is not None:  # long hairs crossing the frame
        for _ in range(int(rng.integers(*shift.lying_hairs, endpoint=True))):
            c = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h])
            a = float(rng.uniform(0, 2 * np.pi))
            ln = float(rng.uniform(*shift.lying_length))
            lengths[len(starts)] = ln
            starts.append((c - ln / 2 * np.array([np.cos(a), np.sin(a)]), a))
    if shift is not None and shift.bundle_share > 0:  # mates at a shallow angle
        for j in np.nonzero(rng.uniform(size=len(starts)) < shift.bundle_share)[0]:
            st, a = starts[j]
            lengths[len(starts)] = lengths.get(int(j), 0.0)
            starts.append((st + rng.normal(0, 6, 2),
                           a + np.radians(rng.uniform(-1, 1) * shift.bundle_angle_deg)))
    for i, (start, angle) in enumerate(starts):
        hw, vellus = _hair_width(rng, grade6)
        if shift is not None and shift.terminal_width is not None and not vellus:
            hw = float(rng.uniform(*shift.terminal_width))
        length = rng.uniform(60, 220) if vellus else rng.uniform(160, 650)
        length = lengths.get(i) or length
        pts = _hair_centerline(rng, start, angle, length, rng.normal(0, 0.15))
        colour = _hair_colour(rng, style, vellus)
        taper = 1.0
        if shift is not None and rng.uniform() < shift.taper_share:
            taper = 0.35
        shine = (shift.shine if shift is not None else 0.35)
        before = mask.sum()
        vis = _draw_hair(img, mask, pts, hw, colour, 0.75 if vellus else 0.97,
                         rng.uniform(0, shine) * (not vellus), rng, taper, covered)
        new_px = int(mask.sum() - before)
        seg = np.diff(pts, axis=0)
        true_w = hw if taper == 1.0 else hw * (0.7 + 0.15 * (1 + taper))  # mean along the hair
        hairs.append({
            "width_px": round(true_w, 3), "length_px": round(float(np.hypot(*seg.T).sum()), 1),
            "angle_deg": round(float(np.degrees(np.arctan2(seg[:, 1].sum(), seg[:, 0].sum()))), 1),
            "visible_px": vis, "new_px": new_px, "vellus": vellus,
        })
    # a hair counts where the mask can show it: at least max(20 px, 3 widths) of its length
    # covered by no other hair (a hair lying under or along others is not countable)
    layers = np.bincount(np.concatenate(covered), minlength=h * w) if covered else None
    hair_id = np.full(h * w, -1, np.int32)
    for i, px in enumerate(covered):  # drawing order: a later hair lies on top
        hair_id[px] = i
    for hr, px in zip(hairs, covered):
        alone = float((layers[px] == 1).sum()) / max(hr["width_px"], 1.0)
        hr["alone_length_px"] = round(alone, 1)
        hr["counted"] = alone >= max(20.0, 3 * hr["width_px"])

    # 7. oily sheen on top (value_2): specular spots along skin and hair
    for _ in range(int(v["value_2"] * rng.uniform(3, 7))):
        x, y = rng.uniform([0, 0], [w, h])
        r = rng.uniform(6, 22)
        _blob(img, x, y, r, r * rng.uniform(.2, .6), rng.uniform(0, 3), (255, 252, 240),
              rng.uniform(.35, .7), 1.0, rng)

    # 8. optics: vignetting / round field of view, white balance, blur, sensor noise
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gx, gy = style.light_gradient
    vig = (1 - style.vignette * r2 / 2) * (1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5))
    if style.round_field:
        rr = np.sqrt(((xx - w / 2) / (0.62 * w)) ** 2 + ((yy - h / 2) / (0.62 * w)) ** 2)
        vig = vig * np.clip((1.0 - rr) / 0.12 + 0.15, 0.15, 1)
    img = img * vig[..., None] * np.array(style.white_balance, np.float32)[None, None]
    blur = style.blur_sigma if shift is None or shift.blur_sigma is None else shift.blur_sigma
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, style.noise_sigma, img.shape).astype(np.float32)
    return RenderedScalp(np.clip(img + 0.5, 0, 255).astype(np.uint8), mask, hairs,
                         hair_id.reshape(h, w))
