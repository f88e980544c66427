"""The quick quantiles give numpy's values exactly, on pixel-like arrays of every size and dtype."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.quantiles import median, percentile


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_values_as_numpy(dtype: type) -> None:
    rng = np.random.default_rng(17)
    for i in range(3000):
        n = int(rng.integers(1, 4000))
        a: np.ndarray = (rng.random((n,)) * 255).astype(dtype)
        if i % 3 == 0:
            a = np.round(a)  # ties, as grey levels have
        if i % 5 == 0:
            a = a.reshape(1, n)  # 2-D, as a box's pixels are
        for q in (0, 25, 80, 90, 99.5, 100):
            assert percentile(a, q) == float(np.percentile(a, q)), (n, q)
        assert median(a) == float(np.median(a)), n
