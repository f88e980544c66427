"""The float model quantized to int8 weights on training data: it reads as the float model does."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from actas.harvest import harvest
from pipeline.classifier import DigitClassifier
from pipeline.config import FLOAT_MODEL
from pipeline.reader import ActaReader
from tests.conftest import ACTAS, MNIST
from training.cli import main as train_main
from training.data.real import load_real
from training.quantize import run_quantize
from training.real_eval import LABELS

SCANS = [ACTAS / "bo2025-runoff" / n for n in ("mesa_1000551.jpg", "mesa_8002451.jpg")]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, reader: ActaReader) -> tuple[Path, Path]:
    """The same two real scans harvested as training data, and as held-out data only."""
    root = tmp_path_factory.mktemp("quant")
    harvest(reader, SCANS, root / "train", {}, heldout=0.0, seed=1, progress=False)
    harvest(reader, SCANS, root / "heldout", {}, heldout=1.0, seed=1, progress=False)
    return root / "train", root / "heldout"


def _args(out: Path, real: Path, **kw: object) -> argparse.Namespace:
    return argparse.Namespace(
        **{"onnx": FLOAT_MODEL, "real": [real], "mnist": MNIST, "count": 64, "seed": 0, "out": out, **kw}
    )


def test_the_int8_model_reads_as_the_float_one(datasets: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "m" / "int8.onnx"
    assert run_quantize(_args(out, datasets[0])) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["int8.json", "int8.onnx"]  # no partial file left
    card = json.loads(out.with_suffix(".json").read_text())
    q = card["quantization"]
    assert q["from_sha256"] == hashlib.sha256(FLOAT_MODEL.read_bytes()).hexdigest()
    assert q["float_nodes"] and all("stages.3" in n for n in q["float_nodes"])
    assert q["calibration"]["real_boxes"] > 0 and q["calibration"]["mnist_train_digits"] == 64
    m = q["measured"]
    assert m["mnist_test_same_class"] >= 0.999 and m["mnist_test_accuracy"] >= 0.98
    assert abs(m["empty_box_confidence"] - m["empty_box_confidence_float"]) < 5e-4
    assert out.stat().st_size < FLOAT_MODEL.stat().st_size * 0.8  # its last stage stays float
    # the real boxes it was calibrated on, read by both: the same class, probabilities close
    boxes = load_real([datasets[0]], LABELS, "train").canvases
    a, b = (DigitClassifier(p, prefer_gpu=False).predict(boxes).probs for p in (FLOAT_MODEL, out))
    assert np.array_equal(a.argmax(1), b.argmax(1)) and np.abs(a - b).max() < 0.1


def test_quantize_refuses_what_it_cannot_do_and_writes_nothing(
    datasets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "int8.onnx"
    with pytest.raises(ValueError, match="no inked training boxes"):
        run_quantize(_args(out, datasets[1]))  # held-out scans never calibrate
    with pytest.raises(ValueError, match="must not overwrite"):
        run_quantize(_args(FLOAT_MODEL, datasets[0]))
    argv = ["quantize", "--onnx", str(tmp_path / "none.onnx"), "--real", str(datasets[0]), "--out", str(out)]
    assert train_main(argv) == 2
    assert "no exported model" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
