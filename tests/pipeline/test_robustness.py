"""The real actas under the ways scans go wrong: the same counts come out, or the field is flagged.

A different number that is not flagged fails the test: that is the worst failure for users.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from pipeline.reader import ActaReader
from tests.conftest import real_actas
from tests.images import imdecode, imread

Transform = Callable[[np.ndarray], np.ndarray]


def rotate(deg: float) -> Transform:
    def f(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        return cv2.warpAffine(img, m, (nw, nh), borderValue=(235, 235, 235))

    return f


def phone_perspective(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = np.array([[0.06 * w, 0.05 * h], [0.97 * w, 0.0], [w, h], [0.0, 0.93 * h]], np.float32)
    return cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=(40, 40, 40))


def scale(f: float) -> Transform:
    return lambda img: cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def jpeg40(img: np.ndarray) -> np.ndarray:
    _ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 40])
    return imdecode(bytes(buf))


def grayscale(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def shadow(img: np.ndarray) -> np.ndarray:
    _h, w = img.shape[:2]
    ramp = np.linspace(1.0, 0.35, w, dtype=np.float32)[None, :, None]  # darker towards one side
    return np.clip(img.astype(np.float32) * ramp, 0, 255).astype(np.uint8)


TRANSFORMS: dict[str, Transform] = {
    "rotate+10": rotate(10),
    "rotate-10": rotate(-10),
    "rotate180": rotate(180),
    "perspective": phone_perspective,
    "scale0.5": scale(0.5),
    "scale1.5": scale(1.5),
    "jpeg40": jpeg40,
    "grayscale": grayscale,
    "shadow": shadow,
}
CASES = real_actas()


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transformed_actas_read_right_or_flag(reader: ActaReader, name: str) -> None:
    silent_errors: list[str] = []
    flagged_errors: list[str] = []
    for path, truth in CASES:
        img = TRANSFORMS[name](imread(path))
        _ok, buf = cv2.imencode(".png", img)
        reading = reader.read(bytes(buf))
        assert reading.template == path.parent.name
        fields = {f"{f.section}.{f.key}": f for f in reading.fields}
        for section, kv in truth["counts"].items():
            for key, expected in kv.items():
                f = fields[f"{section}.{key}"]
                if f.value != expected:
                    (flagged_errors if f.needs_review else silent_errors).append(
                        f"{path.name} {section}.{key}: read {f.value} ({f.text}), truth {expected}"
                    )
    assert not silent_errors, silent_errors
