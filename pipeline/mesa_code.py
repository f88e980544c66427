"""The mesa code from the form's Code 128 barcode, read in the region the template names."""

from __future__ import annotations

import re

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from pipeline.templates import MesaCodeSpec

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
CODE128 = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128)
SCALE = 3.0  # resample the region at 3x the reference frame: bars need resolution


def read_mesa_code(scan: U8, scan_to_ref: F64, spec: MesaCodeSpec) -> str | None:
    """The formatted code (e.g. `800412-1`), or None when no barcode in the region reads."""
    x, y, w, h = spec.region
    ref_to_patch = np.array([[SCALE, 0, -x * SCALE], [0, SCALE, -y * SCALE], [0, 0, 1]], np.float64)
    patch = cv2.warpPerspective(
        scan,
        ref_to_patch @ scan_to_ref,
        (int(w * SCALE), int(h * SCALE)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    for img in (gray, cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]):
        for found in zxingcpp.read_barcodes(img, formats=CODE128):
            text = found.text.strip()
            if re.fullmatch(spec.pattern, text):
                return re.sub(spec.pattern, spec.format, text)
    return None
