"""Scanner and camera nuisances for a rendered acta, moderate by default: real scans, not torture tests.

Resolution (a 150-300 dpi scan of a form about 12.5 inches wide, i.e. about 1900-3750 px), a small
rotation, mild perspective, a margin of scanner bed, uneven light, blur, sensor noise, colour or
grayscale, and JPEG compression. Turns by 90/180/270 degrees only when asked (`turn_rate`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

PAPER_WIDTH_IN = 12.5  # the printed form's width, for dpi -> pixels


@dataclass(frozen=True)
class ScanOptions:
    dpi: tuple[float, float] = (150.0, 300.0)
    max_rotation: float = 3.0  # degrees, either way
    turn_rate: float = 0.0  # chance of an extra 90/180/270 degree turn
    perspective: float = 0.008  # largest corner displacement, as a fraction of the image size
    margin: float = 0.02  # largest scanner-bed margin around the paper, fraction of the size
    blur: tuple[float, float] = (0.0, 0.6)  # Gaussian sigma, output pixels (the real scans are sharp)
    noise: tuple[float, float] = (0.0, 5.0)  # Gaussian sensor noise sigma, grey levels
    light: float = 0.3  # deepest darkening of the uneven light, as a fraction
    grayscale_rate: float = 0.3
    jpeg_quality: tuple[int, int] = (50, 95)

    def record(self) -> dict[str, Any]:
        return asdict(self)


def scan(image: U8, rng: np.random.Generator, options: ScanOptions) -> tuple[bytes, dict[str, Any]]:
    """JPEG bytes of `image` (BGR) as scanned, and what was done to it."""
    o = options
    dpi = float(rng.uniform(*o.dpi))
    factor = dpi * PAPER_WIDTH_IN / image.shape[1]
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    img = np.asarray(cv2.resize(image, None, fx=factor, fy=factor, interpolation=interp), np.uint8)
    angle = float(rng.uniform(-o.max_rotation, o.max_rotation))
    turn = int(rng.integers(1, 4)) * 90 if rng.random() < o.turn_rate else 0
    bed = tuple(float(v) for v in rng.uniform(215, 245, 3))
    img, corners = _warp(img, angle, o.perspective, o.margin, bed, rng)
    if turn:
        img = np.asarray(np.rot90(img, k=turn // 90), np.uint8)
    f = img.astype(np.float32)
    light = float(rng.uniform(0, o.light))
    direction = float(rng.uniform(0, 2 * np.pi))
    f *= _gradient(f.shape[:2], direction, light)[..., None]
    tint = np.array([rng.uniform(0.93, 1.0), rng.uniform(0.96, 1.0), 1.0], np.float32)  # warm paper or lamp
    f *= tint[None, None, :]
    sigma = float(rng.uniform(*o.blur))
    if sigma > 0.2:
        f = np.asarray(cv2.GaussianBlur(f, (0, 0), sigma), np.float32)
    noise = float(rng.uniform(*o.noise))
    f += rng.normal(0.0, noise, f.shape).astype(np.float32) if noise > 0 else 0
    out = np.clip(f, 0, 255).astype(np.uint8)
    gray = bool(rng.random() < o.grayscale_rate)
    if gray:
        out = np.asarray(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), np.uint8)
    quality = int(rng.integers(o.jpeg_quality[0], o.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    record = {
        "dpi": round(dpi, 1),
        "size": [int(out.shape[1]), int(out.shape[0])],
        "rotation": round(angle, 3),
        "turn": turn,
        "corners": [[round(float(v), 1) for v in c] for c in corners],
        "light": round(light, 3),
        "light_direction": round(float(np.degrees(direction)), 1),
        "blur": round(sigma, 3),
        "noise": round(noise, 2),
        "grayscale": gray,
        "jpeg_quality": quality,
    }
    return buf.tobytes(), record


def _warp(
    img: U8, angle: float, perspective: float, margin: float, bed: tuple[float, ...], rng: np.random.Generator
) -> tuple[U8, npt.NDArray[np.float64]]:
    """Rotate, tilt the corners and lay the paper on a scanner bed; where the paper's corners went."""
    h, w = img.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    c = np.array([w / 2, h / 2])
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = (src - c) @ rot.T + c
    dst += rng.uniform(-perspective, perspective, (4, 2)) * np.array([w, h])
    pad = rng.uniform(0, margin, 4) * np.array([w, h, w, h])  # left, top, right, bottom
    dst -= dst.min(axis=0) - pad[:2]
    size = (int(np.ceil(dst[:, 0].max() + pad[2])), int(np.ceil(dst[:, 1].max() + pad[3])))
    m = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    out = cv2.warpPerspective(img, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=bed)
    return np.asarray(out, np.uint8), dst


def _gradient(shape: tuple[int, ...], direction: float, depth: float) -> npt.NDArray[np.float32]:
    """Light falling off linearly across the page, from 1 down to 1 - depth, in `direction`."""
    h, w = shape
    xx = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    yy = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    t = xx * np.cos(direction) + yy * np.sin(direction)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return (1.0 - depth * t).astype(np.float32)
