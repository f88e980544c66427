"""Real and hostile inputs built from the real scans: re-encodings, truncations, bombs, non-forms."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.schema import ActaReading
from tests.images import imread


def reencode_jpeg(path: Path, quality: int = 85) -> bytes:
    """Another scan of the same paper as far as the service can tell: new bytes, same mesa."""
    img = imread(path)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buf)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid, small PNG header declaring width x height pixels (a few rows of data follow)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def not_a_form(seed: int = 0) -> bytes:
    """A picture that is a valid JPEG but no form: shapes, lines and text on a textured background."""
    rng = np.random.default_rng(seed)
    img = (rng.normal(180, 25, (1100, 1600, 3))).clip(0, 255).astype(np.uint8)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = (int(v) for v in rng.integers(0, 1500, 2))
        match int(rng.integers(0, 3)):
            case 0:
                cv2.circle(img, (x, y % 1000), int(rng.integers(10, 120)), colour, -1)
            case 1:
                cv2.rectangle(img, (x, y % 1000), (x + int(rng.integers(20, 300)), y % 1000 + 80), colour, 3)
            case _:
                cv2.putText(img, "FOTO", (x, y % 1000 + 40), cv2.FONT_HERSHEY_SIMPLEX, 2, colour, 4)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buf)


def with_a_digit_erased(path: Path, reading: ActaReading) -> bytes:
    """The same paper with the leading written digit of its first non-blank count painted white: another
    scan of the mesa that reads differently (as a mesa scanned before and after a correction would)."""
    img = imread(path)
    field = next(f for f in reading.fields if f.value)
    digit = next(d for d in field.digits if d.char not in (None, "0"))
    x, y, w, h = digit.box
    cv2.rectangle(img, (x + 3, y + 3), (x + w - 4, y + h - 4), (255, 255, 255), -1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buf)


def multi_page_tiff(paths: list[Path]) -> bytes:
    """A TIFF with one real scan per page."""
    pages = [Image.open(p).convert("RGB") for p in paths]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    return out.getvalue()
