"""A second scalp renderer, written apart from :mod:`scalpvision.data.synthetic` so that the
hair features can be judged on images nobody tuned on: its own skin model, its own hair
geometry (cubic curves that cross the frame edge to edge, tapering tips, bundles of hairs
crossing at shallow angles), its own rasteriser (anti-aliased discs on a 4x grid; a pixel is
hair where the hair covers at least half of it), its own distractors (flakes, follicular plugs,
clipped glare) and capture-software graphics (a grey status strip with text, a red circle, a
scale bar) inside a round field of view.

:func:`render_trichoscope` is a pure function of a seeded generator and a :class:`Look`; it
returns the image, the hair mask (hair pixels inside the analysed area), the analysed area,
an id map (which hair each pixel shows) and one truth row per hair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SS = 4  # supersampling of the rasteriser


@dataclass(frozen=True)
class Look:
    """Distributions of one rendering of the suite (all widths in px)."""

    width_range: tuple[float, float] = (1.0, 15.0)
    n_hairs: tuple[int, int] = (6, 22)
    edge_to_edge_share: float = 0.6  # hairs entering and leaving the frame
    taper_share: float = 0.6  # hairs with a tapering tip inside the frame
    bundle_share: float = 0.35  # extra hairs laid at a shallow angle beside an earlier one
    bundle_angle_deg: float = 12.0
    specular_min_width: float = 6.0  # hairs at least this wide carry a lighter streak
    hair_colours: tuple[str, ...] = ("black", "brown", "red_brown", "grey", "white")
    flakes: tuple[int, int] = (0, 12)
    plugs: tuple[int, int] = (0, 6)
    glare: tuple[int, int] = (0, 3)
    blur_sigma: tuple[float, float] = (0.0, 1.4)
    jpeg_quality: tuple[int, int] = (55, 95)
    round_field_share: float = 0.4
    graphics_share: float = 0.5  # frames carrying capture-software graphics
    size_wh: tuple[int, int] = (640, 480)


@dataclass
class Trichogram:
    """``image`` (H, W, 3) uint8 RGB; ``mask`` (H, W) bool hair inside the analysed area;
    ``area`` (H, W) bool analysed area (field of view minus graphics); ``hair_id`` (H, W) int32
    top hair at each pixel (-1 none); ``hairs``: one dict per hair (width_px: mean width along
    its visible length, visible_length_px, contrast, colour, counted); ``distractor`` (H, W)
    bool flakes, follicular plugs and glare not under a hair, inside the analysed area (what a
    segmenter must not call hair)."""

    image: np.ndarray
    mask: np.ndarray
    area: np.ndarray
    hair_id: np.ndarray
    hairs: list[dict] = field(default_factory=list)
    distractor: np.ndarray | None = None

    @property
    def hair_count(self) -> int:
        return sum(1 for h in self.hairs if h["counted"])


_COLOURS = {  # linear-ish RGB of the hair shaft in white light
    "black": (22, 20, 24), "brown": (70, 48, 34), "red_brown": (128, 62, 38),
    "grey": (138, 136, 134), "white": (226, 224, 218),
}


def _skin(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Skin from spectral noise: a 1/f field shapes the melanin/haemoglobin mix per pixel."""
    def spectral(beta: float) -> np.ndarray:
        fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.rfftfreq(w), indexing="ij")
        f = np.hypot(fx, fy)
        f[0, 0] = 1.0
        spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**beta
        spec[0, 0] = 0
        out = np.fft.irfft2(spec, s=(h, w))
        return ((out - out.mean()) / (out.std() + 1e-9)).astype(np.float32)

    melanin = rng.uniform(0.05, 0.6) + 0.05 * spectral(1.8)
    blood = rng.uniform(0.05, 0.35) + 0.06 * spectral(1.4)
    # Beer-Lambert-like absorption of three bands by the two chromophores
    absorb = (melanin[..., None] * np.array([0.45, 0.75, 1.05], np.float32)
              + blood[..., None] * np.array([0.05, 0.55, 0.35], np.float32))
    img = 245 * np.exp(-absorb) * (1 + 0.03 * spectral(0.6))[..., None]
    pores = rng.uniform(size=(h, w)) < 0.0006
    dots = cv2.GaussianBlur(pores.astype(np.float32), (0, 0), 2.0) * 30
    return np.clip(img * (1 - np.minimum(dots, 0.5))[..., None], 0, 255)


def _curve(rng: np.random.Generator, w: int, h: int, look: Look,
           near: np.ndarray | None) -> np.ndarray:
    """Centreline (N, 2) xy of a cubic Bezier, sampled every 0.25 px."""
    if near is not None:  # a bundle mate: the earlier hair turned by a small angle
        c = near.mean(0)
        a = np.radians(rng.uniform(-look.bundle_angle_deg, look.bundle_angle_deg))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        ctrl = (near[[0, len(near) // 3, 2 * len(near) // 3, -1]] - c) @ rot.T + c
        ctrl = ctrl + rng.normal(0, 6, (4, 2))
    elif rng.uniform() < look.edge_to_edge_share:
        t = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(t), np.sin(t)])
        mid = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h])
        span = 1.2 * np.hypot(w, h)
        p0, p3 = mid - d * span / 2, mid + d * span / 2
        bend = np.array([-d[1], d[0]]) * rng.normal(0, 80, 2)[:, None]
        ctrl = np.stack([p0, p0 + (p3 - p0) / 3 + bend[0], p0 + 2 * (p3 - p0) / 3 + bend[1], p3])
    else:  # a hair emerging inside the frame
        p0 = rng.uniform([0, 0], [w, h])
        t = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(80, 500)
        d = np.array([np.cos(t), np.sin(t)])
        ctrl = np.stack([p0 + d * length * k + np.array([-d[1], d[0]]) * rng.normal(0, 25)
                         for k in (0, 1 / 3, 2 / 3, 1)])
        ctrl[0] = p0
    seg = np.linalg.norm(np.diff(ctrl, axis=0), axis=1).sum()
    t = np.linspace(0, 1, max(8, int(seg * 4)))[:, None]
    b = np.array([1, 3, 3, 1])
    basis = np.concatenate([b[k] * t**k * (1 - t) ** (3 - k) for k in range(4)], 1)
    return basis @ ctrl


def _box(pts: np.ndarray, radius: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    pad = radius.max() + 2
    x0, y0 = np.maximum(np.floor(pts.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + pad).astype(int), [w, h])
    return int(x0), int(y0), int(x1), int(y1)


_DISC_EXCESS = 0.45  # sub-pixels: OpenCV's filled circle reaches this far past its radius


def _coverage(pts: np.ndarray, radius: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Area coverage (y1 - y0, x1 - x0) float32 of the union of discs inside ``box``. The
    discs are drawn :data:`_DISC_EXCESS` sub-pixels smaller than their radius, so that a
    hair's area per unit length is its stated width (uncorrected, OpenCV's filled circles
    made every hair ~0.2 px wider than its truth row)."""
    x0, y0, x1, y1 = box
    canvas = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)
    sub = (pts - [x0, y0]) * SS
    for (x, y), r in zip(sub[::2], radius[::2]):  # every 0.5 px along the hair
        if -r * SS <= x < canvas.shape[1] + r * SS and -r * SS <= y < canvas.shape[0] + r * SS:
            cv2.circle(canvas, (int(round(x * 16)), int(round(y * 16))),
                       max(1, int(round((r * SS - _DISC_EXCESS) * 16))), 1, -1, cv2.LINE_8, 4)
    return cv2.resize(canvas.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)


def _graphics(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Draw capture-software graphics in place; their pixels (H, W) bool."""
    h, w = img.shape[:2]
    g = np.zeros((h, w), np.uint8)
    kinds = [k for k in ("strip", "circle", "scale") if rng.uniform() < 0.6] or ["strip"]
    for kind in kinds:
        layer = np.zeros((h, w), np.uint8)
        if kind == "strip":
            sh = int(rng.integers(18, 34))
            y0 = h - sh if rng.uniform() < 0.75 else 0
            grey = float(rng.uniform(90, 200))
            img[y0:y0 + sh] = grey
            layer[y0:y0 + sh] = 1
            cv2.putText(img, f"2026-12-0{rng.integers(1, 9)} x{rng.choice([50, 70, 200])}",
                        (8, y0 + sh - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        elif kind == "circle":
            c = (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h))
            r = int(rng.uniform(30, 110))
            cv2.circle(img, c, r, (235, 20, 25), 2, cv2.LINE_AA)
            cv2.circle(layer, c, r, 1, 4)
        else:
            x0, y0 = int(rng.uniform(20, w - 200)), int(rng.uniform(30, h - 60))
            length = int(rng.uniform(60, 140))
            cv2.rectangle(img, (x0, y0), (x0 + length, y0 + 3), (250, 250, 250), -1)
            cv2.putText(img, "100 um", (x0, y0 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (250, 250, 250), 1)
            cv2.rectangle(layer, (x0 - 2, y0 - 22), (x0 + max(length, 60) + 2, y0 + 5), 1, -1)
        g |= layer
    return g > 0


def render_trichoscope(rng: np.random.Generator, look: Look = Look()) -> Trichogram:
    """Render one frame of ``look``; deterministic for a given generator state."""
    w, h = look.size_wh
    img = _skin(rng, h, w)
    distractor = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(*look.flakes, endpoint=True))):  # flakes under the hair
        c = rng.uniform([0, 0], [w, h])
        poly = c + rng.normal(0, rng.uniform(4, 18), (7, 2))
        hull = [cv2.convexHull(poly.astype(np.int32))]
        cv2.fillPoly(img, hull, (244, 242, 236), cv2.LINE_AA)
        cv2.fillPoly(distractor, hull, 1)
    for _ in range(int(rng.integers(*look.plugs, endpoint=True))):  # follicular plugs
        c = tuple(int(v) for v in rng.uniform([0, 0], [w, h]))
        r = int(rng.uniform(4, 10))
        cv2.circle(img, c, r, (214, 196, 140), -1, cv2.LINE_AA)
        cv2.circle(distractor, c, r, 1, -1)

    skin_lum = float(img.mean())
    hair_id = np.full((h, w), -1, np.int32)
    cover = np.zeros((h, w), np.float32)
    layers = np.zeros((h, w), np.int16)  # how many hairs cover each pixel (at >= 50 %)
    hairs: list[dict] = []
    lines: list[np.ndarray] = []
    for i in range(int(rng.integers(*look.n_hairs, endpoint=True))):
        near = lines[int(rng.integers(len(lines)))] if lines and rng.uniform() < look.bundle_share else None
        pts = _curve(rng, w, h, look, near)
        wid = float(rng.uniform(*look.width_range)) if near is None else float(
            np.clip(rng.normal(hairs[-1]["width_px"], 1.5), *look.width_range))
        prof = np.full(len(pts), wid)
        tip_inside = (0 <= pts[-1, 0] < w) and (0 <= pts[-1, 1] < h)
        if tip_inside and rng.uniform() < look.taper_share:
            k = int(0.3 * len(pts))
            prof[-k:] = wid * np.linspace(1, 0.35, k)
        box = _box(pts, np.maximum(prof / 2, 0.5), h, w)
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            continue
        cov = _coverage(pts, np.maximum(prof / 2, 0.5), box)
        bh, bw = cov.shape
        name = str(rng.choice(look.hair_colours))
        col = np.array(_COLOURS[name], np.float32) * rng.uniform(0.85, 1.15)
        region = img[y0:y0 + bh, x0:x0 + bw]
        a = (cov * rng.uniform(0.85, 1.0))[..., None]
        shaft = np.broadcast_to(col, region.shape).copy()
        if wid >= look.specular_min_width:  # a light streak along the shaft: the inner disc
            inner = _coverage(pts, np.maximum(prof / 7, 0.5), box)
            shaft = shaft + (255 - shaft) * (0.55 * inner[..., None])
        region[:] = region * (1 - a) + shaft * a
        own = cov >= 0.5
        hair_id[y0:y0 + bh, x0:x0 + bw][own] = i
        layers[y0:y0 + bh, x0:x0 + bw] += own
        cover[y0:y0 + bh, x0:x0 + bw] = np.maximum(cover[y0:y0 + bh, x0:x0 + bw], cov)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        lines.append(pts)
        hairs.append({"hair_id": i, "width_px": wid, "colour": name,
                      "contrast": abs(float(col.mean()) - skin_lum), "_pts": pts[inside],
                      "_prof": prof[inside], "tapered": bool(prof[-1] < wid)})

    for _ in range(int(rng.integers(*look.glare, endpoint=True))):  # clipped glare on top
        c = tuple(int(v) for v in rng.uniform([0, 0], [w, h]))
        ax = (int(rng.uniform(6, 30)), int(rng.uniform(3, 12)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(img, c, ax, angle, 0, 360, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.ellipse(distractor, c, ax, angle, 0, 360, 1, -1)
    sigma = float(rng.uniform(*look.blur_sigma))
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, 2.5, img.shape)

    area = np.ones((h, w), bool)
    if rng.uniform() < look.round_field_share:  # the trichoscope's round field of view
        r = rng.uniform(0.52, 0.62) * w
        yy, xx = np.mgrid[0:h, 0:w]
        rr = np.hypot(xx - w / 2 + rng.normal(0, 8), yy - h / 2 + rng.normal(0, 8))
        img = img * np.clip((r - rr) / 6 + 0.5, 0, 1)[..., None] + 4
        area &= rr <= r - 3
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.uniform() < look.graphics_share:
        area &= ~_graphics(rng, img)
    q = int(rng.integers(*look.jpeg_quality, endpoint=True))
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()

    mask = (cover >= 0.5) & area
    for hr in hairs:  # truth over the part of each hair that lies in the analysed area
        pts, prof = hr.pop("_pts"), hr.pop("_prof")
        ix = np.clip(pts.astype(int), 0, [w - 1, h - 1])
        seen = area[ix[:, 1], ix[:, 0]] if len(ix) else np.zeros(0, bool)
        alone = seen & (layers[ix[:, 1], ix[:, 0]] == 1) if len(ix) else seen
        step = np.r_[0, np.hypot(*np.diff(pts, axis=0).T)] if len(pts) else np.zeros(0)
        vis_len = float((step * seen).sum())
        hr["visible_length_px"] = round(vis_len, 1)
        hr["width_px"] = round(float((prof * step * seen).sum() / vis_len), 3) if vis_len else 0.0
        hr["visible_px"] = int(((hair_id == hr["hair_id"]) & area).sum())
        hr["alone_length_px"] = round(float((step * alone).sum()), 1)
        hr["counted"] = hr["alone_length_px"] >= max(20.0, 3 * hr["width_px"])
    distractor = (distractor > 0) & area & (cover < 0.5)
    return Trichogram(img, mask, area, np.where(area, hair_id, -1), hairs, distractor)
