"""The one image/mask contract: RGB uint8 images, bool masks, lossless PNG masks on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from scalpvision.errors import MissingInputError, UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(UserError, ValueError):
    """An image file could not be read as an image; the message names the file and why."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3) uint8 RGB``.

    Grey, palette, RGBA (alpha dropped) and 16-bit inputs are converted to 8-bit RGB.
    Raises :class:`ImageReadError` naming the file when it is missing or undecodable.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            return to_rgb_uint8(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot decode image ({exc})") from exc


def to_rgb_uint8(im: Image.Image) -> np.ndarray:
    """Convert any PIL image to ``(H, W, 3) uint8 RGB``, scaling 16-bit data down."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        grey = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def iter_images(paths):
    """``(path, image)`` for each path, in order, reading lazily; an unreadable file gives
    ``(path, ImageReadError)`` instead of raising, so a batch reports it and goes on."""
    for path in paths:
        try:
            yield path, read_image(path)
        except ImageReadError as exc:
            yield path, exc


def write_image(path: str | Path, image: np.ndarray, quality: int = 92) -> None:
    """Write ``(H, W, 3) uint8 RGB``; JPEG for .jpg/.jpeg, lossless otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{path}: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    im = Image.fromarray(image, "RGB")
    if path.suffix.lower() in (".jpg", ".jpeg"):
        im.save(path, quality=quality, subsampling=0 if quality >= 95 else 2)
    else:
        im.save(path)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask file as ``(H, W) bool`` (any non-zero pixel is foreground)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such mask file")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot decode mask ({exc})") from exc
    return arr > 127


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a ``(H, W) bool`` mask as a lossless 0/255 PNG (never JPEG)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: masks are stored as lossless PNG, not {path.suffix}")
    if mask.ndim != 2:
        raise ValueError(f"{path}: expected a (H, W) mask, got shape {mask.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask.astype(bool) * 255).astype(np.uint8), "L").save(path, optimize=False)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of image paths."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(q for q in sorted(p.rglob("*")) if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.exists():
            out.append(p)
        else:
            raise MissingInputError(f"{p}: no such file or folder")
    return out
