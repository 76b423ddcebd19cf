"""The gate's examples: scalp frames (with the colour, focus and overlay variation of other
microscopes) and things that are not scalp frames.

Non-scalp images are drawn procedurally by kind (flat colour, gradient, noise, document page,
chart, screenshot, clip art, stripes, defocused scene) and taken from the photographs that ship
with scikit-image (faces, animals, objects, textures, other microscopy, a document scan). Each
photograph belongs to exactly one part (train / val / test), so the gate is measured on
pictures it has never seen; procedural images of each part come from disjoint seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

W, H = 640, 480
PARTS = ("train", "val", "test")

# scikit-image's bundled photographs, by part (none of them is a scalp)
PHOTOS = {
    "train": ("brick", "camera", "clock", "coins", "colorwheel", "moon", "text", "rocket",
              "cell", "lfw_subset:0:60"),
    "val": ("horse", "hubble_deep_field", "logo", "microaneurysms", "lfw_subset:60:100"),
    "test": ("astronaut", "chelsea", "coffee", "grass", "gravel", "immunohistochemistry",
             "page", "retina", "lfw_subset:100:200"),
}


def _fit(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA if img.shape[1] > W
                      else cv2.INTER_LINEAR)


def _colour(rng) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def flat(rng):
    im = np.full((H, W, 3), _colour(rng), np.uint8)
    if rng.uniform() < 0.5:
        im = np.clip(im + rng.normal(0, rng.uniform(0.5, 3), im.shape), 0, 255).astype(np.uint8)
    return im


def gradient(rng):
    a, b = np.array(_colour(rng), float), np.array(_colour(rng), float)
    yy, xx = np.mgrid[:H, :W] / np.array([H, W])[:, None, None]
    if rng.uniform() < 0.5:
        t = np.cos(rng.uniform(0, np.pi)) * xx + np.sin(rng.uniform(0, np.pi)) * yy
    else:
        t = np.hypot(xx - rng.uniform(), yy - rng.uniform())
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
    return (a + (b - a) * t[..., None]).astype(np.uint8)


def noise(rng):
    kind = rng.integers(3)
    shape = (H, W, 3) if rng.uniform() < 0.6 else (H, W, 1)
    if kind == 0:
        im = rng.normal(rng.uniform(60, 190), rng.uniform(10, 80), shape)
    elif kind == 1:
        im = rng.uniform(0, 255, shape)
    else:
        im = np.full(shape, rng.uniform(0, 255))
        m = rng.uniform(size=shape[:2])
        im[m < 0.1], im[m > 0.9] = 0, 255
    im = np.broadcast_to(np.clip(im, 0, 255), (H, W, 3)).astype(np.uint8)
    if rng.uniform() < 0.3:
        im = cv2.GaussianBlur(im, (0, 0), rng.uniform(0.5, 1.5))
    return np.ascontiguousarray(im)


_WORDS = "the scalp of patient was examined and a report of findings follows with dates".split()


def _text_line(rng, n):
    return " ".join(rng.choice(_WORDS, n))


def document(rng):
    bg = int(rng.integers(215, 256))
    im = np.full((H, W, 3), bg, np.uint8)
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX,
                           cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_PLAIN]))
    scale = rng.uniform(0.4, 1.1)
    step = int(28 * scale) + 6
    ink = tuple(int(v) for v in rng.integers(0, 80, 3))
    for y in range(int(rng.integers(20, 60)), H - 10, step):
        cv2.putText(im, _text_line(rng, 12), (int(rng.integers(10, 40)), y), font, scale, ink,
                    1, cv2.LINE_AA)
    if rng.uniform() < 0.5:  # a scan: slight rotation, grey noise
        m = cv2.getRotationMatrix2D((W / 2, H / 2), rng.uniform(-3, 3), 1.0)
        im = cv2.warpAffine(im, m, (W, H), borderValue=(bg, bg, bg))
        im = np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)
    return im


def chart(rng):
    im = np.full((H, W, 3), int(rng.integers(230, 256)), np.uint8)
    x0, y0, x1, y1 = 60, H - 50, W - 30, 30
    for y in np.linspace(y1, y0, 6).astype(int):
        cv2.line(im, (x0, y), (x1, y), (210, 210, 210), 1)
    cv2.line(im, (x0, y0), (x1, y0), (0, 0, 0), 2)
    cv2.line(im, (x0, y0), (x0, y1), (0, 0, 0), 2)
    n = int(rng.integers(4, 12))
    if rng.uniform() < 0.5:
        bw = (x1 - x0) // (n + 1)
        for i in range(n):
            top = int(rng.uniform(y1, y0 - 10))
            cv2.rectangle(im, (x0 + 10 + i * bw, top), (x0 + (i + 1) * bw, y0 - 1), _colour(rng), -1)
    else:
        for _ in range(int(rng.integers(1, 4))):
            pts = np.stack([np.linspace(x0, x1, n), rng.uniform(y1, y0, n)], 1).astype(np.int32)
            cv2.polylines(im, [pts], False, _colour(rng), 2, cv2.LINE_AA)
    cv2.putText(im, _text_line(rng, 4), (x0, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    return im


def screenshot(rng):
    im = np.full((H, W, 3), _colour(rng), np.uint8)
    for _ in range(int(rng.integers(4, 14))):
        x, y = int(rng.integers(0, W - 40)), int(rng.integers(0, H - 20))
        cv2.rectangle(im, (x, y), (x + int(rng.integers(40, 300)), y + int(rng.integers(15, 120))),
                      _colour(rng), -1)
        cv2.putText(im, _text_line(rng, 3), (x + 4, y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    _colour(rng), 1, cv2.LINE_AA)
    return im


def clipart(rng):
    im = gradient(rng) if rng.uniform() < 0.5 else flat(rng)
    for _ in range(int(rng.integers(3, 15))):
        c = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        if rng.uniform() < 0.5:
            cv2.circle(im, c, int(rng.integers(10, 120)), _colour(rng), -1, cv2.LINE_AA)
        else:
            pts = rng.integers(0, [W, H], (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(im, [pts], _colour(rng), cv2.LINE_AA)
    return im


def stripes(rng):
    yy, xx = np.mgrid[:H, :W]
    period = rng.uniform(6, 80)
    th = rng.uniform(0, np.pi)
    t = np.cos(th) * xx + np.sin(th) * yy
    wave = np.sin(2 * np.pi * t / period) > 0 if rng.uniform() < 0.5 else \
        (np.sin(2 * np.pi * xx / period) > 0) ^ (np.sin(2 * np.pi * yy / period) > 0)
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    return np.where(wave[..., None], a, b).astype(np.uint8)


def defocused(rng):
    """A defocused scene: large smooth colour regions (an out-of-focus photograph)."""
    small = rng.uniform(0, 255, (int(rng.integers(3, 8)), int(rng.integers(4, 10)), 3))
    im = cv2.resize(small.astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    return np.clip(im, 0, 255).astype(np.uint8)


PROCEDURAL: dict[str, Callable] = {
    "flat colour": flat, "gradient": gradient, "noise": noise, "document": document,
    "chart": chart, "screenshot": screenshot, "clip art": clipart, "stripes": stripes,
    "defocused scene": defocused,
}


def procedural(part: str, per_kind: int, seed: int):
    """``(kind, image)`` pairs of part ``part``: seeds never shared between parts."""
    for k, (kind, fn) in enumerate(PROCEDURAL.items()):
        for i in range(per_kind):
            rng = np.random.default_rng([seed, PARTS.index(part), k, i])
            yield kind, fn(rng)


def _load_photo(name: str) -> list[np.ndarray]:
    import skimage.data as data

    base, *rng_ = name.split(":")
    img = getattr(data, base)()
    imgs = list(img[int(rng_[0]):int(rng_[1])]) if rng_ else [img]
    out = []
    for im in imgs:
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        im = im[..., :3]
        if im.dtype != np.uint8:
            im = (255 * (im.astype(np.float64) / max(1e-9, im.max()))).astype(np.uint8)
        out.append(im)
    return out


def crop_views(img: np.ndarray, n: int, rng) -> list[np.ndarray]:
    """``n`` views of a photograph at 640x480: the whole (letterbox-free, resized) and random
    4:3 crops of 40-100 % of its side, flipped at random."""
    h, w = img.shape[:2]
    views = [_fit(img)]
    for _ in range(n - 1):
        s = rng.uniform(0.4, 1.0)
        cw = int(min(w, h * 4 / 3) * s)
        ch = max(8, int(cw * 3 / 4))
        cw = max(8, cw)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        v = _fit(img[y:y + ch, x:x + cw])
        views.append(v[:, ::-1] if rng.uniform() < 0.5 else v)
    return [np.ascontiguousarray(v) for v in views[:n]]


def photos(part: str, views: int, seed: int):
    """``(kind, image)`` pairs: views of the part's photographs (faces: one view each)."""
    for k, name in enumerate(PHOTOS[part]):
        rng = np.random.default_rng([seed, PARTS.index(part), 100 + k])
        kind = "face photo" if name.startswith("lfw") else f"photo: {name.split(':')[0]}"
        for im in _load_photo(name):
            for v in crop_views(im, 1 if name.startswith("lfw") else views, rng):
                yield kind, v


def vary_scalp(img: np.ndarray, rng) -> np.ndarray:
    """A scalp frame as another microscope might render it: white balance and saturation
    (down to grey), gamma, contrast, defocus, JPEG, and capture-software graphics."""
    im = img.astype(np.float32)
    if rng.uniform() < 0.6:  # desaturate towards grey
        grey = im.mean(axis=2, keepdims=True)
        im = grey + (im - grey) * rng.uniform(0.0, 1.0)
    if rng.uniform() < 0.6:  # white balance
        im = im * rng.uniform(0.75, 1.25, 3)
    if rng.uniform() < 0.5:  # gamma and contrast
        im = 255 * (np.clip(im, 0, 255) / 255) ** rng.uniform(0.7, 1.4)
        m = im.mean()
        im = m + (im - m) * rng.uniform(0.7, 1.3)
    out = np.clip(im, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.5:  # hue rotation
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + int(rng.integers(-20, 21))) % 180
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if rng.uniform() < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 2.0))
    if rng.uniform() < 0.3:  # capture-software graphics: a caption and a scale bar
        col = (255, 255, 255) if rng.uniform() < 0.5 else (255, 255, 0)
        cv2.putText(out, "x60  2026-12-02 10:41", (int(rng.integers(5, 300)), int(rng.integers(20, 470))),
                    cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.4, 0.9), col, 1, cv2.LINE_AA)
        x, y = int(rng.integers(380, 560)), int(rng.integers(420, 470))
        cv2.line(out, (x, y), (x + 60, y), col, 2)
    if rng.uniform() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out
