"""Upload validation for the service: what is converted (with a note), what is refused (with
the right 4xx status and a message naming the file and the problem)."""

import io

import numpy as np
import pytest
from PIL import Image

from scalpvision.serve.upload import InputError, UploadRules, decode_upload


def _png(arr, mode=None, fmt="PNG"):
    buf = io.BytesIO()
    (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(buf, format=fmt)
    return buf.getvalue()


RGB = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)


def test_rgb_at_the_expected_size_passes_unchanged():
    d = decode_upload(_png(RGB), "a.png")
    assert d.rgb.shape == (480, 640, 3) and d.rgb.dtype == np.uint8
    assert np.array_equal(d.rgb, RGB) and d.notes == []


@pytest.mark.parametrize("arr,mode,note", [
    (RGB[..., 0], None, "converted L"),
    (np.dstack([RGB, np.full((480, 640), 128, np.uint8)]), None, "converted RGBA"),
    ((RGB[..., 0].astype(np.uint16) * 257), None, "converted I;16"),
])
def test_non_rgb_is_converted_with_a_note(arr, mode, note):
    d = decode_upload(_png(arr, mode), "x.png")
    assert d.rgb.shape == (480, 640, 3) and d.rgb.dtype == np.uint8
    assert any(n.startswith(note) for n in d.notes), d.notes


def test_sixteen_bit_grey_keeps_its_contrast():
    grey = (RGB[..., 0].astype(np.uint16) * 257)
    d = decode_upload(_png(grey), "g16.png")
    assert abs(int(d.rgb[..., 0].astype(int).mean()) - int(RGB[..., 0].mean())) <= 1


def test_other_sizes_are_resized_with_a_note():
    big = np.ascontiguousarray(np.repeat(np.repeat(RGB, 2, 0), 2, 1))
    d = decode_upload(_png(big, fmt="JPEG"), "big.jpg")
    assert d.rgb.shape == (480, 640, 3) and d.original_size == (1280, 960)
    assert "resized 1280x960 to 640x480" in d.notes[0] and "aspect" not in d.notes[0]
    d = decode_upload(_png(RGB[:300]), "wide.png")
    assert "aspect ratio changed" in d.notes[0]


@pytest.mark.parametrize("data,status,words", [
    (b"", 400, "empty upload"),
    (b"hello, this is not an image at all", 415, "text, not a PNG"),
    (b"\x00\x01\x02\x03" * 40, 415, "binary data"),
    (_png(RGB)[:200], 422, "cannot decode the PNG"),
    (_png(RGB[:40, :40]), 422, "too small"),
])
def test_bad_uploads_are_refused_with_a_status(data, status, words):
    with pytest.raises(InputError) as ei:
        decode_upload(data, "bad.bin")
    assert ei.value.status == status and words in str(ei.value) and "bad.bin" in str(ei.value)


def test_upload_size_limit():
    data = _png(RGB)
    with pytest.raises(InputError, match="over the 0.0 MiB upload limit") as ei:
        decode_upload(data, "a.png", UploadRules(max_bytes=1000))
    assert ei.value.status == 413
