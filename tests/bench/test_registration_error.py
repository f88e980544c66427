"""The warp-error benchmark: a synthetic acta's true warp against the registration's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from actas.synth.generate import SynthConfig, generate
from actas.synth.handwriting import load_mnist_test
from bench.registration_error import grid_error, main
from pipeline.templates import load_templates
from tests.conftest import MNIST


def test_a_warp_off_by_a_shift_has_that_error() -> None:
    """The true warp here is the identity (the scan is the reference frame); a registered warp that moves
    every point 3 px right is 3 px off everywhere, the true one 0."""
    size = (1600, 1100)
    corners = [[0.0, 0.0], [1600.0, 0.0], [1600.0, 1100.0], [0.0, 1100.0]]
    assert np.allclose(grid_error(np.eye(3), corners, size), 0, atol=1e-3)
    shifted = np.array([[1, 0, 3], [0, 1, 0], [0, 0, 1]], np.float64)
    assert np.allclose(grid_error(shifted, corners, size), 3, atol=1e-3)


def test_the_registration_of_synthetic_actas_is_within_a_few_pixels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runoff = SynthConfig(load_templates()["bo2025-runoff"], seed=3)
    generate(tmp_path, runoff, 2, load_mnist_test(MNIST), progress=False)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "form and variant right 2/2" in out
    over_form = out.split("over the form: ")[1].split("; at the box groups")[0]
    largest = float(over_form.rsplit("largest ", 1)[1])
    assert largest < 8  # measured: at most 5 px on 80 synthetic scans of seed 2026


def test_a_folder_without_synth_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "truth.json").write_text(json.dumps({"actas": {}}))
    assert main([str(tmp_path)]) == 2
    assert "no synth.json" in capsys.readouterr().out


def test_a_damaged_synth_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "synth.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    assert "not a synth.json" in capsys.readouterr().out
