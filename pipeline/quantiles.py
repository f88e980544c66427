"""`np.percentile` (its default, linear method) and `np.median`, the same values without their overhead:
on a box's few thousand pixels the wrappers cost more than the partition (64 against 9 us each, measured
here), and segmenting a box takes five of them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt


def percentile(a: npt.NDArray[np.number[Any]], q: float) -> float:
    """`float(np.percentile(a, q))`, bit for bit (tests/pipeline/test_quantiles.py)."""
    flat = a.ravel()
    at = q / 100 * (flat.size - 1)
    lo = math.floor(at)
    hi = min(lo + 1, flat.size - 1)
    part = np.partition(flat, [lo, hi])
    below, above = part[lo], part[hi]
    t, step = at - lo, above - below
    # numpy's own interpolation: from the nearer end, so that t = 1 gives `above` exactly
    return float(above - step * (1 - t)) if t >= 0.5 else float(below + step * t)


def median(a: npt.NDArray[np.number[Any]]) -> float:
    """`float(np.median(a))`, bit for bit."""
    flat = a.ravel()
    half = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, half)[half])
    part = np.partition(flat, [half - 1, half])
    return float((part[half - 1] + part[half]) / 2)
