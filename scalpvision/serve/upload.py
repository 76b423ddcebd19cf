"""Upload validation for the service: decoding one uploaded image, and the ASGI guard in front
of the upload endpoints.

Every problem with user input raises :class:`InputError` with an HTTP status (400, 413, 415,
422) and a message naming the file and the problem; the service turns it into a JSON error.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field

import numpy as np

from scalpvision.errors import UserError

MAGIC = {  # leading bytes -> format; the upload's bytes decide, not its file name
    b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP",
    b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WEBP",
}
MAX_PIXELS = 40_000_000
MIN_SIDE = 64


class InputError(UserError, ValueError):
    """A user-input problem; ``status`` is the HTTP status the service answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int = 12 * 1024 * 1024
    size: tuple[int, int] = (640, 480)   # (width, height) the models expect


@dataclass
class DecodedImage:
    rgb: np.ndarray                      # (H, W, 3) uint8 at the expected size
    notes: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)
    original_mode: str = ""
    name: str = "upload"
    scalp_check: dict | None = None      # the gate's answer, once admitted


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in MAGIC.items():
        if data.startswith(magic) and (fmt != "WEBP" or data[8:12] == b"WEBP"):
            return fmt
    return None


def decode_upload(data: bytes, name: str = "upload", rules: UploadRules = UploadRules()
                  ) -> DecodedImage:
    """Validate and decode one uploaded image to RGB uint8 at ``rules.size``.

    Grey, palette, RGBA and 16-bit images are converted (with a note); another size is resized
    (with a note). Raises :class:`InputError` for everything it cannot use.
    """
    from PIL import Image, UnidentifiedImageError

    from scalpvision.io import to_rgb_uint8

    if not data:
        raise InputError(f"{name}: empty upload", 400)
    if len(data) > rules.max_bytes:
        raise InputError(f"{name}: {len(data) / 2**20:.1f} MiB is over the "
                         f"{rules.max_bytes / 2**20:.1f} MiB upload limit", 413)
    fmt = sniff_format(data)
    if fmt is None:
        head = data[:16]
        kind = "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data"
        raise InputError(f"{name}: unsupported content - {kind}, not a PNG, JPEG, BMP, TIFF or "
                         "WebP image", 415)
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(f"{name}: {w}x{h} is over {MAX_PIXELS // 10**6} megapixels", 413)
            im.load()
            mode = im.mode
            rgb = to_rgb_uint8(im)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise InputError(f"{name}: cannot decode the {fmt} image ({exc})", 422) from exc
    notes = []
    if mode != "RGB":
        notes.append(f"converted {mode} to 8-bit RGB")
    if min(w, h) < MIN_SIDE:
        raise InputError(f"{name}: {w}x{h} is too small (the shorter side must be at least "
                         f"{MIN_SIDE} px)", 422)
    tw, th = rules.size
    if (w, h) != (tw, th):
        import cv2

        interp = cv2.INTER_AREA if w > tw else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (tw, th), interpolation=interp)
        aspect = "" if abs(w / h - tw / th) < 0.02 else " (aspect ratio changed)"
        notes.append(f"resized {w}x{h} to {tw}x{th}{aspect}; widths are in resized pixels")
    return DecodedImage(rgb, notes, (w, h), mode, name)


def png_b64(arr: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


class UploadGuard:
    """ASGI middleware in front of the upload endpoints: refuses what the framework would
    otherwise answer with a 500 or read whole - a body over the size limit (413, before it is
    read), a content type that is not multipart or JSON (415), a multipart body that does not
    parse or has no ``image`` file (400) - each as a JSON error. Good requests are replayed
    to the app unchanged."""

    SLACK = 256 * 1024   # multipart framing and form fields on top of the image

    def __init__(self, app, paths: tuple[str, ...] = (), max_bytes: int = 12 * 2**20):
        self.app, self.paths, self.max_bytes = app, set(paths), max_bytes

    async def _error(self, send, status: int, message: str) -> None:
        body = json.dumps({"error": message, "status": status}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path", "").rstrip("/") not in self.paths):
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers, UploadFile
        from starlette.formparsers import MultiPartException, MultiPartParser

        headers = Headers(scope=scope)
        limit = self.max_bytes + self.SLACK
        ctype = headers.get("content-type", "")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return await self._error(send, 413, f"request body of {int(length) / 2**20:.1f} MiB "
                                                f"is over the {self.max_bytes / 2**20:.1f} MiB "
                                                "upload limit")
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._error(send, 413, f"request body is over the "
                                                    f"{self.max_bytes / 2**20:.1f} MiB upload limit")
            if not msg.get("more_body"):
                break
        body = b"".join(chunks)
        if ctype.startswith("multipart/form-data"):
            async def stream():
                yield body
            try:
                form = await MultiPartParser(headers, stream(), max_files=4, max_fields=16,
                                             max_part_size=limit).parse()
            except (MultiPartException, ValueError, KeyError) as exc:
                return await self._error(send, 400, f"malformed multipart body ({exc})")
            image = form.get("image")
            ok = isinstance(image, UploadFile)
            for _, v in form.multi_items():
                if isinstance(v, UploadFile):
                    await v.close()
            if not ok:
                return await self._error(send, 400, "no file field 'image' in the multipart "
                                                    "body (send the scalp image as 'image')")
        elif not ctype.startswith("application/json"):
            return await self._error(send, 415, f"content type {ctype or 'none'!r} not accepted: "
                                                "send multipart/form-data with an 'image' file")
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)
