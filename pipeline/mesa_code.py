"""The mesa code from the form's barcodes: each candidate region the template names, in order, read for
the formats it names; the first text that matches the form's pattern wins."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from pipeline.templates import MesaCodeSpec

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
# The region is resampled at these multiples of the reference frame: bars need resolution, and which
# resampling keeps a worn barcode's bars apart depends on the warp to the pixel. A read at 3x is taken
# at once (as it always was). A finer resampling reads more worn barcodes but misreads too, so its text
# counts only when two reads agree (two resamplings, or the grey and the binarised patch). Measured on
# 1,007 scans (1,000 synthetic 2025 actas of seed 2026, the six real 2025 scans and a PDF rendering of
# one): taking the first read at any scale read 996 right and 1 wrong (a Code 128 misread at 4x); this
# rule reads 992 right and none wrong, the faded abroad scan of mesa 10001-4 and its PDF page included
# (3x alone, as before, read 979 of the 1,000 synthetic ones).
FIRST_SCALE = 3.0
FINER_SCALES = (4.0, 5.0, 6.0)
AGREEING_READS = 2


def read_mesa_code(scan: U8, scan_to_ref: F64, spec: MesaCodeSpec) -> str | None:
    """The formatted code (e.g. `800412-1`), or None when no barcode in any region reads."""
    formats = tuple(getattr(zxingcpp.BarcodeFormat, name) for name in spec.formats)
    for region in spec.regions:
        for text in _reads(scan, scan_to_ref, region, FIRST_SCALE, formats, spec.pattern):
            return re.sub(spec.pattern, spec.format, text)
    seen: Counter[str] = Counter()
    for scale in FINER_SCALES:
        for region in spec.regions:
            for text in _reads(scan, scan_to_ref, region, scale, formats, spec.pattern):
                seen[text] += 1
                if seen[text] == AGREEING_READS:
                    return re.sub(spec.pattern, spec.format, text)
    return None


def _reads(
    scan: U8,
    scan_to_ref: F64,
    region: tuple[float, float, float, float],
    scale: float,
    formats: tuple[zxingcpp.BarcodeFormat, ...],
    pattern: str,
) -> Iterator[str]:
    """The text matching `pattern` read from the region's grey patch, then from it binarised (Otsu)."""
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
                yield text
                break
