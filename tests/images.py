"""Image I/O for tests: OpenCV's readers return None on failure; here that is a test error, and the
arrays are typed as the pipeline takes them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]


def imread(path: Path, flags: int = cv2.IMREAD_COLOR) -> U8:
    img = cv2.imread(str(path), flags)
    assert img is not None, f"{path}: not readable"
    return np.asarray(img, np.uint8)


def imdecode(data: bytes, flags: int = cv2.IMREAD_COLOR) -> U8:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert img is not None, "not a decodable image"
    return np.asarray(img, np.uint8)
