"""The mesa code from the form's barcodes: each candidate region the template names, in order, read for
the formats it names; the first text that matches the form's pattern wins."""

from __future__ import annotations

import re

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from pipeline.templates import MesaCodeSpec

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
# The region is resampled at these multiples of the reference frame, coarsest first, until a barcode
# reads: bars need resolution, and which resampling keeps a worn barcode's bars apart depends on the
# warp to the pixel. 3x reads most 2025 scans; the faded abroad scan of mesa 10001-4 needs 4x, and its
# re-rendering from a PDF page 5x (measured on the six real 2025 actas and that page).
SCALES = (3.0, 4.0, 5.0, 6.0)


def read_mesa_code(scan: U8, scan_to_ref: F64, spec: MesaCodeSpec) -> str | None:
    """The formatted code (e.g. `800412-1`), or None when no barcode in any region reads."""
    formats = tuple(getattr(zxingcpp.BarcodeFormat, name) for name in spec.formats)
    for scale in SCALES:
        for region in spec.regions:
            found = _read_region(scan, scan_to_ref, region, scale, formats, spec.pattern)
            if found is not None:
                return re.sub(spec.pattern, spec.format, found)
    return None


def _read_region(
    scan: U8,
    scan_to_ref: F64,
    region: tuple[float, float, float, float],
    scale: float,
    formats: tuple[zxingcpp.BarcodeFormat, ...],
    pattern: str,
) -> str | None:
    x, y, w, h = region
    ref_to_patch = np.array([[scale, 0, -x * scale], [0, scale, -y * scale], [0, 0, 1]], np.float64)
    patch = cv2.warpPerspective(
        scan,
        ref_to_patch @ scan_to_ref,
        (int(w * scale), int(h * scale)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    for img in (gray, cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]):
        # a tuple of formats is what zxing-cpp 2.3 asks for (`|` on formats is deprecated); its stub says BarcodeFormats
        for found in zxingcpp.read_barcodes(img, formats=formats):  # type: ignore[arg-type]
            text = str(found.text).strip()
            if re.fullmatch(pattern, text):
                return text
    return None
