"""Decode an uploaded scan safely: sniff the format, bound the pixel count, refuse truncated files."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from pipeline.errors import CorruptImage, EmptyImage, ImageTooLarge, ImageTooSmall, UnsupportedImage

U8 = npt.NDArray[np.uint8]

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}
DEFAULT_MAX_PIXELS = 60_000_000  # 400 dpi A3 is about 30 Mpx
MIN_SIDE = 300  # a scan whose short side is below this cannot show a form's boxes (A4 at 150 dpi: 1240)


def sniff_format(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> U8:
    """Bytes of a JPEG, PNG or TIFF -> BGR uint8 array; raises an ImageError subclass otherwise."""
    if not data:
        raise EmptyImage("the file is empty")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedImage("not a JPEG, PNG or TIFF image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(f"image has too many pixels ({exc})") from exc
    except Exception as exc:  # PIL raises many types for damaged headers
        raise CorruptImage(f"damaged {fmt} header") from exc
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmall(f"image is {width}x{height} pixels; a scanned acta is at least {MIN_SIDE} px on each side")
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}")
    if fmt == "JPEG" and b"\xff\xd9" not in data[-1024:]:
        raise CorruptImage("truncated JPEG (no end-of-image marker)")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise CorruptImage(f"the {fmt} data could not be decoded")
    return np.asarray(img, np.uint8)
