"""Decoding uploads: every bad input gets its own clear error."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.errors import CorruptImage, EmptyImage, ImageTooLarge, ImageTooSmall, UnsupportedImage
from pipeline.image_io import EXIF_ORIENTATION, decode_image
from tests.conftest import ACTAS


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buf)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but carries almost no data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_real_scan_decodes_to_bgr() -> None:
    data = (ACTAS / "bo2025-runoff" / "mesa_1000551.jpg").read_bytes()
    img = decode_image(data)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[:2] == (1236, 1776)


def _cv2_decoded(data: bytes) -> np.ndarray:
    """What the reader got before a JPEG was decoded once."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return np.asarray(img)


@pytest.mark.parametrize(
    "scan", ["bo2025-runoff/mesa_1000551.jpg", "bo2025-general/mesa_8004121.jpg", "bo2019-general/mesa_10368.jpg"]
)
def test_a_jpeg_decoded_once_gives_cv2s_pixels(scan: str) -> None:
    # the strict integrity decode is the image now: it must be what cv2.imdecode gave the reader
    data = (ACTAS / scan).read_bytes()
    assert np.array_equal(decode_image(data), _cv2_decoded(data))


def _pil_jpeg(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_grey_cmyk_and_exif_turned_jpegs_decode_as_cv2_does() -> None:
    grey = (np.random.default_rng(3).random((400, 500)) * 255).astype(np.uint8)
    turned = Image.fromarray(np.stack([grey] * 3, -1))
    exif = turned.getexif()
    exif[EXIF_ORIENTATION] = 6  # a phone held upright: cv2 turns it, so must we
    for data in (
        _pil_jpeg(Image.fromarray(grey)),
        _pil_jpeg(Image.fromarray(np.stack([grey] * 4, -1), "CMYK")),
        _pil_jpeg(turned, exif=exif.tobytes()),
    ):
        img = decode_image(data)
        assert img.ndim == 3 and np.array_equal(img, _cv2_decoded(data))
    assert decode_image(_pil_jpeg(turned, exif=exif.tobytes())).shape == (500, 400, 3)


@pytest.mark.parametrize("fmt", [".png", ".tiff"])
def test_png_and_tiff_decode(fmt: str) -> None:
    img = np.full((320, 400, 3), 200, np.uint8)
    cv2.circle(img, (200, 160), 30, (0, 0, 255), -1)
    ok, buf = cv2.imencode(fmt, img)
    assert ok
    out = decode_image(bytes(buf))
    assert out.shape == img.shape and np.array_equal(out, img)


def test_empty_file() -> None:
    with pytest.raises(EmptyImage):
        decode_image(b"")


def test_text_file_is_unsupported() -> None:
    with pytest.raises(UnsupportedImage):
        decode_image(b"mesa,PDC,LIBRE\n100055-1,40,164\n")


def test_truncated_jpeg_is_corrupt() -> None:
    data = (ACTAS / "bo2025-runoff" / "mesa_1000551.jpg").read_bytes()
    with pytest.raises(CorruptImage):
        decode_image(data[: len(data) // 2])


def test_garbage_after_png_signature_is_corrupt() -> None:
    with pytest.raises(CorruptImage):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(_png_header_only(30000, 30000))


def test_pixel_limit_is_configurable() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    with pytest.raises(ImageTooLarge):
        decode_image(_jpeg(img), max_pixels=100_000)
    assert decode_image(_jpeg(img), max_pixels=160_000).shape == (400, 400, 3)


def test_pil_written_jpeg_with_exif_decodes() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (500, 400), (255, 255, 255)).save(buf, format="JPEG")
    assert decode_image(buf.getvalue()).shape == (400, 500, 3)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 3000, 3), (3000, 1, 3), (200, 400, 3)])
def test_images_too_small_to_be_a_scan_are_refused(shape: tuple[int, int, int]) -> None:
    ok, buf = cv2.imencode(".png", np.full(shape, 255, np.uint8))
    assert ok
    with pytest.raises(ImageTooSmall, match="at least"):
        decode_image(bytes(buf))
