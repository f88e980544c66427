"""Synthetic no-digit marks: the `X` jurors write across a box they leave unused (the 2020 form).

An `X` is two strokes crossing near the box's centre, of uneven length, angle and pressure, sometimes
running past the box's inner edge (where the pipeline cut it), sometimes with a hook at a stroke's
end. It goes through `center_digit` like any ink, so it arrives as the pipeline would hand it over.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.digit_input import center_digit
from training.data.augment import add_scan_nuisance

U8 = npt.NDArray[np.uint8]
_SIZE = 112  # drawn at this size, then centred down to the input size


def synth_x(rng: np.random.Generator) -> U8:
    img = np.zeros((_SIZE, _SIZE), np.float32)
    c = _SIZE / 2 + rng.uniform(-8, 8, size=2)
    width = int(rng.integers(4, 11))
    base = float(rng.uniform(35, 55))  # the first stroke's angle from the horizontal, degrees
    for angle in (base, 180 - base + float(rng.uniform(-15, 15))):
        a = math.radians(angle + float(rng.uniform(-6, 6)))
        r0, r1 = rng.uniform(22, 52, size=2)  # half-lengths either side of the crossing, uneven
        off = rng.uniform(-6, 6, size=2)
        p0 = (c + off - r0 * np.array([math.cos(a), math.sin(a)])).astype(int)
        p1 = (c + off + r1 * np.array([math.cos(a), math.sin(a)])).astype(int)
        cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), float(rng.uniform(170, 255)), width)
        if rng.random() < 0.2:  # a hook where the pen lifted
            hook = p1 + rng.integers(-10, 11, size=2)
            cv2.line(img, (int(p1[0]), int(p1[1])), (int(hook[0]), int(hook[1])), 200.0, max(2, width - 2))
    if rng.random() < 0.3:  # strokes cut by the box's inner edge
        m = int(rng.integers(6, 20))
        side = int(rng.integers(0, 4))
        if side == 0:
            img[:m] = 0
        elif side == 1:
            img[-m:] = 0
        elif side == 2:
            img[:, :m] = 0
        else:
            img[:, -m:] = 0
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.8, 2.0))), np.float32)
    return add_scan_nuisance(center_digit(np.clip(img, 0, 255).astype(np.uint8)), rng)
