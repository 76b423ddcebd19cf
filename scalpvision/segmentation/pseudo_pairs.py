"""Pseudo image/mask pairs for label-free hair segmentation (paper §3.1, App. C).

1. :func:`hair_free_patches` cuts patches with no visible hair from any scalp image, judged by a
   parameterised ridge (line-structure) filter that responds to dark *and* light hairs but not to
   round flakes.
2. :func:`draw_pseudo_hairs` draws 1-10 synthetic hairs - straight lines, power-function curves
   and circle arcs, 1-7 px wide, in the four colour families of the reference code (brown, black,
   blue-tinted, white) - into the image and the mask, then white dandruff-like dots and small
   blobs into the image only (the reference defined its dot drawer but never called it).

The hair drawing here is deliberately independent of the built-in renderer
(:mod:`scalpvision.data.synthetic`): flat-coloured anti-aliased OpenCV strokes, as the paper
draws them, so the segmenter cannot learn the renderer's look.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scalpvision.errors import BadInputError
from scalpvision.segmentation.hessian import eigenvalues, hessian
from scalpvision.segmentation.params import HairDrawParams

# colour families of reference-method.md §2, converted from OpenCV BGR to RGB
_BGR = {
    "brown": [(16, 37, 52), (32, 53, 61), (63, 78, 94), (14, 37, 56), (13, 33, 47),
              (78, 86, 103), (80, 133, 153), (92, 126, 142), (84, 134, 133), (138, 170, 169)],
    "blue": [(61, 55, 20), (93, 92, 31), (151, 139, 67), (175, 169, 104), (193, 189, 124),
             (186, 182, 99), (133, 134, 84), (106, 105, 37), (131, 165, 141), (179, 161, 90),
             (171, 180, 93), (193, 166, 110), (195, 169, 132), (170, 148, 113), (134, 114, 29),
             (255, 255, 110), (255, 255, 180), (255, 255, 130), (255, 255, 126), (113, 116, 80),
             (217, 215, 118)],
    "black": [(66, 66, 61), (89, 85, 79), (48, 41, 33), (16, 16, 16), (27, 27, 27),
              (36, 36, 36), (44, 44, 44), (51, 51, 51), (58, 58, 58), (65, 65, 65)],
    "white": [(v, v, v) for v in (255, 243, 232, 221, 210, 200)],
}
HAIR_COLOURS_RGB = {k: [c[::-1] for c in v] for k, v in _BGR.items()}


@dataclass(frozen=True)
class PatchFilter:
    """Hair-free test: share of ridge pixels in the patch must stay below ``max_ridge_share``."""

    sigmas: tuple[float, ...] = (1.5, 3.0)
    ridge_threshold: float = 20.0  # scale-normalised Hessian anisotropy, grey levels
    max_ridge_share: float = 0.008


def ridge_map(image: np.ndarray, sigmas=(1.5, 3.0)) -> np.ndarray:
    """Line-structure strength (H, W) float32 of an RGB uint8 image: the largest scale-normalised
    Hessian eigenvalue difference |l1| - |l2| over ``sigmas``. High on hairs of either polarity,
    low on flat skin and on round blobs (flakes, follicle openings)."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = np.zeros_like(g)
    for s in sigmas:
        l1, l2 = eigenvalues(*hessian(cv2.GaussianBlur(g, (0, 0), s)))
        aniso = np.abs(np.abs(l1) - np.abs(l2)) * s * s
        out = np.maximum(out, aniso)
    return out


def hair_free_patches(image: np.ndarray, size_wh: tuple[int, int], max_patches: int,
                      filt: PatchFilter = PatchFilter(), stride: int = 16
                      ) -> list[tuple[int, int, int, int]]:
    """Non-overlapping boxes ``(x0, y0, x1, y1)`` of ``size_wh`` that pass the hair-free test,
    best (least ridge) first. ``image``: (H, W, 3) uint8 RGB of any size."""
    pw, ph = size_wh
    h, w = image.shape[:2]
    if pw > w or ph > h:
        return []
    ridge = ridge_map(image, filt.sigmas) > filt.ridge_threshold
    integ = np.pad(ridge.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys = np.arange(0, h - ph + 1, stride)
    xs = np.arange(0, w - pw + 1, stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    share = (integ[yy + ph, xx + pw] - integ[yy, xx + pw] - integ[yy + ph, xx] + integ[yy, xx])
    share = (share / (pw * ph)).ravel()
    order = np.argsort(share, kind="stable")
    chosen: list[tuple[int, int, int, int]] = []
    for i in order:
        if share[i] > filt.max_ridge_share or len(chosen) >= max_patches:
            break
        x0, y0 = int(xx.ravel()[i]), int(yy.ravel()[i])
        if all(x0 >= c[2] or x0 + pw <= c[0] or y0 >= c[3] or y0 + ph <= c[1] for c in chosen):
            chosen.append((x0, y0, x0 + pw, y0 + ph))
    return chosen


def relative_colour(background_rgb: np.ndarray, rng: np.random.Generator,
                    p: HairDrawParams) -> np.ndarray:
    """A hair colour (3,) float32 RGB drawn relative to the mean skin colour: a luminance
    contrast from [contrast_min, contrast_max] grey levels, darker (or, for ``light_share``,
    lighter) than the skin, with a hue mixed from neutral grey, the skin's own tint, a warm
    (brown/blond) tint and a red-brown one. The four fixed colour families of the reference
    leave mid-grey, blond, red and faded hairs out, which a model trained on them then misses."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 luma
    bg = np.asarray(background_rgb, np.float32)
    luma = float(bg @ weights)
    delta = rng.uniform(p.contrast_min, p.contrast_max)
    light = rng.uniform() < p.light_share and luma + p.contrast_min <= 255
    target = min(luma + delta, 255.0) if light else max(luma - delta, 0.0)
    tints = np.stack([np.ones(3, np.float32), np.maximum(bg, 1.0),
                      np.array([1.15, 1.0, 0.75], np.float32),
                      np.array([1.45, 0.85, 0.65], np.float32)])
    tints /= (tints @ weights)[:, None]  # unit luma: the tint changes hue, not contrast
    tint = rng.dirichlet(np.ones(len(tints))) @ tints
    return np.clip(tint * target, 0, 255).astype(np.float32)


def _curve_points(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """(N, 2) xy float points of one random hair: line, power-function curve or circle arc."""
    kind = rng.choice(["line", "power", "arc"])
    if kind == "line":  # endpoints anywhere in the frame (the reference swapped x and y)
        p0, p1 = rng.uniform([0, 0], [w, h]), rng.uniform([0, 0], [w, h])
        return np.stack([p0, p1])
    if kind == "power":  # y = a x^p in a rotated local frame
        length = rng.uniform(0.3, 1.2) * max(w, h)
        p = rng.uniform(1.3, 3.0)
        a = rng.uniform(0.1, 0.5) * length / length**p
        x = np.linspace(0, length, 60)
        local = np.stack([x, a * x**p * rng.choice([-1, 1])], 1)
        t = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        return local @ rot.T + rng.uniform([0, 0], [w, h])
    # arc: a circle of random radius centred near a corner or anywhere, as in reference §2
    r = rng.uniform(40, 550)
    centre = rng.choice([0, 1, 2]) if rng.uniform() < 0.5 else 3
    c = [(0, 0), (w, h), (w, 0), tuple(rng.uniform([0, 0], [w, h]))][centre]
    t0 = rng.uniform(0, 2 * np.pi)
    t = t0 + np.linspace(0, rng.uniform(0.3, 2.0), 80)
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1)


def _blend_hair(img: np.ndarray, pts: np.ndarray, width: int, colour: np.ndarray,
                rng: np.random.Generator, p: HairDrawParams) -> None:
    """Alpha-blend one hair into ``img`` in place, inside the polyline's bounding box: opacity
    from [alpha_min, 1], an optional lighter core (the specular stripe of a lit cylinder, seen
    in real trichoscopy) and a Gaussian defocus of the coverage map."""
    h, w = img.shape[:2]
    sigma = float(rng.uniform(0, p.edge_blur_max)) if p.edge_blur_max > 0 else 0.0
    m = width + int(3 * sigma) + 3
    xy = pts / 16.0
    x0, y0 = (np.floor(xy.min(0)) - m).astype(int).clip(0, [w, h])
    x1, y1 = (np.ceil(xy.max(0)) + m + 1).astype(int).clip(0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    local = pts - np.array([x0, y0], np.int32) * 16
    cov = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.polylines(cov, [local], False, 255, width, cv2.LINE_AA, shift=4)
    cov = cov.astype(np.float32) / 255
    paint = np.broadcast_to(colour, cov.shape + (3,))
    if width >= 3 and rng.uniform() < p.shading_share:
        core = np.zeros_like(cov, dtype=np.uint8)
        cv2.polylines(core, [local], False, 255, max(1, width // 3), cv2.LINE_AA, shift=4)
        core = cv2.GaussianBlur(core.astype(np.float32) / 255, (0, 0), max(0.5, width / 6))
        light = np.clip(colour * rng.uniform(1.2, 1.8) + rng.uniform(15, 50), 0, 255)
        paint = colour + (light - colour) * core[..., None]
    if sigma > 0.2:
        cov = cv2.GaussianBlur(cov, (0, 0), sigma)
    a = (cov * rng.uniform(p.alpha_min, 1.0))[..., None]
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(roi * (1 - a) + paint * a + 0.5, 0, 255).astype(np.uint8)


def draw_pseudo_hairs(background: np.ndarray, rng: np.random.Generator,
                      p: HairDrawParams) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw hairs into a copy of ``background`` ((H, W, 3) uint8 RGB).

    Returns ``(image, mask, n_hairs)``: image (H, W, 3) uint8, mask (H, W) bool with the hairs
    only (dots and blobs are drawn into the image, never the mask).
    """
    img = background.copy()
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    n = int(rng.integers(p.hairs_min, p.hairs_max, endpoint=True))
    skin = background.reshape(-1, 3).mean(0) if p.relative_colour_share > 0 else None
    for _ in range(n):
        if skin is not None and rng.uniform() < p.relative_colour_share:
            colour = relative_colour(skin, rng, p)
        else:
            family = rng.choice(list(HAIR_COLOURS_RGB))
            cols = HAIR_COLOURS_RGB[family]
            colour = np.array(cols[rng.integers(len(cols))], np.float32)
        width = int(rng.integers(p.width_min, p.width_max, endpoint=True))
        pts = np.round(_curve_points(rng, w, h) * 16).astype(np.int32)
        if p.alpha_min >= 1 and p.shading_share <= 0 and p.edge_blur_max <= 0:
            cv2.polylines(img, [pts], False, tuple(int(v) for v in colour), width, cv2.LINE_AA,
                          shift=4)
        else:
            _blend_hair(img, pts, width, colour, rng, p)
        cv2.polylines(mask, [pts], False, 1, width, cv2.LINE_8, shift=4)
    for _ in range(int(rng.integers(p.dots_min, p.dots_max, endpoint=True))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        grey = int(rng.integers(215, 256))
        if rng.uniform() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(1, 6)), (grey,) * 3, -1, cv2.LINE_AA)
        else:
            s = int(rng.integers(1, 8))
            cv2.rectangle(img, (x, y), (x + s, y + int(rng.integers(1, 8))), (grey,) * 3, -1)
    for _ in range(int(rng.integers(0, p.blobs_max, endpoint=True))):
        x, y = rng.uniform([0, 0], [w, h])
        axes = (int(rng.integers(5, 25)), int(rng.integers(3, 12)))
        cv2.ellipse(img, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360,
                    (int(rng.integers(225, 256)),) * 3, -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(0, p.plugs_max, endpoint=True))):
        _draw_plug(img, rng)
    return img, mask.astype(bool), n


def _draw_plug(img: np.ndarray, rng: np.random.Generator) -> None:
    """A follicular plug (sebum/keratin at a follicle opening) in place: a soft yellowish disc
    a little darker than the skin around it - round, so the segmenter learns it is not hair."""
    h, w = img.shape[:2]
    r = float(rng.uniform(3, 10))
    c = rng.uniform([0, 0], [w, h])
    m = int(r) + 4
    x0, y0 = (np.floor(c) - m).astype(int).clip(0, [w, h])
    x1, y1 = (np.ceil(c) + m + 1).astype(int).clip(0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    a = np.clip(r - np.hypot(xx - c[0], yy - c[1]) + 0.5, 0, 1)[..., None] * rng.uniform(0.6, 1)
    roi = img[y0:y1, x0:x1].astype(np.float32)
    colour = roi.reshape(-1, 3).mean(0) * np.array([1.0, 0.93, 0.7]) * rng.uniform(0.8, 1.0)
    img[y0:y1, x0:x1] = np.clip(roi * (1 - a) + colour * a + 0.5, 0, 255).astype(np.uint8)


def background_from_patch(patch: np.ndarray, size_wh: tuple[int, int],
                          rng: np.random.Generator) -> np.ndarray:
    """Resize a hair-free patch to the output size (bicubic, as the paper), with random flips
    and a mild brightness/colour jitter. Returns (H, W, 3) uint8 RGB."""
    out = cv2.resize(patch, size_wh, interpolation=cv2.INTER_CUBIC)
    if rng.uniform() < 0.5:
        out = out[:, ::-1]
    if rng.uniform() < 0.5:
        out = out[::-1]
    gain = rng.uniform(0.85, 1.15) * rng.uniform(0.95, 1.05, 3)
    return np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def collect_patches(images, size_wh: tuple[int, int], per_image: int,
                    filt: PatchFilter) -> list[tuple[np.ndarray, str, tuple[int, int, int, int]]]:
    """Hair-free patches from ``images``, an iterable of ``(source_name, (H, W, 3) uint8 RGB)``.
    Returns ``[(patch, source_name, box_xyxy), ...]``."""
    out = []
    for name, img in images:
        for box in hair_free_patches(img, size_wh, per_image, filt):
            x0, y0, x1, y1 = box
            out.append((img[y0:y1, x0:x1].copy(), name, box))
    return out


def iter_pseudo_pairs(patches, n_pairs: int, rng: np.random.Generator,
                      size_wh: tuple[int, int], draw: HairDrawParams):
    """Yield ``n_pairs`` of ``(image, mask, patch_index, n_hairs)``; patches are drawn uniformly."""
    if not patches:
        raise BadInputError("no hair-free patches were found; loosen the patch filter "
                         "(ridge_threshold / max_ridge_share) or add source images")
    for _ in range(n_pairs):
        k = int(rng.integers(len(patches)))
        bg = background_from_patch(patches[k][0], size_wh, rng)
        img, mask, n = draw_pseudo_hairs(bg, rng, draw)
        yield img, mask, k, n
