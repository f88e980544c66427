"""Export to ONNX: checker, dynamic batch, parity with PyTorch, and the model card beside it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.classifier import DigitClassifier
from pipeline.config import FLOAT_MODEL as DEFAULT_MODEL
from pipeline.digit_input import CLASSES, center_digit, to_model_input
from tests.conftest import MNIST
from tests.training.helpers import train_briefly
from training.calibration import calibration_report, expected_calibration_error, fit_temperature
from training.data.sources import load_mnist
from training.engine import load_trained
from training.export import run_export
from training.models import create_model
from training.onnx_weights import state_dict_from_onnx


def _export(checkpoint: Path, out: Path) -> int:
    args = argparse.Namespace(
        checkpoint=checkpoint, out=out, data_dir=MNIST, calibration=None, metrics=None, hardware="test"
    )
    return run_export(args)


@pytest.mark.parametrize("name", ["lenet5", "convnext_tiny"])
def test_export_passes_parity_and_writes_the_card(tmp_path: Path, name: str) -> None:
    run = tmp_path / "run"
    checkpoint = train_briefly(name, run, max_steps=2)
    (run / "calibration.json").write_text(json.dumps({"temperature": 1.5, "ece_before": 0.1, "ece_after": 0.05}))
    out = tmp_path / "models" / f"{name}.onnx"
    assert _export(checkpoint, out) == 0  # raises ParityError if onnxruntime and PyTorch disagree by > 1e-4
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["architecture"] == name and card["classes"] == list(CLASSES)
    assert card["temperature"] == 1.5 and card["input_size"] == 32
    assert "from scratch" in out.with_suffix(".md").read_text()
    clf = DigitClassifier(out, prefer_gpu=False)
    for batch in (1, 7):  # dynamic batch axis
        assert clf.logits(np.zeros((batch, 32, 32), np.uint8)).shape == (batch, len(CLASSES))
    # and back: the exported weights load into the architecture again (fine-tuning with --init x.onnx)
    model, _state = load_trained(checkpoint)
    fresh = create_model(name, num_classes=len(CLASSES)).eval()
    fresh.load_state_dict(state_dict_from_onnx(out, fresh))
    for key, value in model.state_dict().items():
        assert torch.allclose(fresh.state_dict()[key].float(), value.float(), atol=1e-6), key


def test_a_model_trained_on_from_an_export_keeps_that_exports_record(tmp_path: Path) -> None:
    out = tmp_path / "models" / "lenet5.onnx"

    def train_and_export(run: Path, init: Path | None) -> dict[str, object]:
        checkpoint = train_briefly("lenet5", run, init=str(init) if init else None, clean_fraction=0.3)
        assert _export(checkpoint, out) == 0
        training = json.loads(out.with_suffix(".json").read_text())["training"]
        assert isinstance(training, dict)
        return training

    first = train_and_export(tmp_path / "stage1", None)
    assert first["init"] == "from scratch" and first["init_training"] is None
    second = train_and_export(tmp_path / "stage2", out)  # the export it starts from is then overwritten
    assert second["init"] == str(out) and second["clean_fraction"] == 0.3
    assert second["init_training"] == first
    assert "the model shipped before this one: 1 epochs, from scratch" in out.with_suffix(".md").read_text()


def test_the_shipped_model_loads_back_into_pytorch() -> None:
    """The shipped ONNX file's weights in timm's ConvNeXt-Tiny give onnxruntime's logits on real digits."""
    canvases = np.stack([center_digit(img) for img in load_mnist(MNIST, "test").images[:64]])
    classes = DigitClassifier(DEFAULT_MODEL, prefer_gpu=False).card.classes  # the digits, blank, the marks
    model = create_model("convnext_tiny", num_classes=len(classes)).eval()
    model.load_state_dict(state_dict_from_onnx(DEFAULT_MODEL, model))
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(to_model_input(canvases))).numpy()
    onnx_logits = DigitClassifier(DEFAULT_MODEL, prefer_gpu=False).logits(canvases)
    assert np.abs(torch_logits - onnx_logits).max() < 1e-3


def test_temperature_scaling_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    labels = rng.integers(0, len(CLASSES), n)
    logits = rng.normal(0, 1, (n, len(CLASSES))).astype(np.float32)
    logits[np.arange(n), labels] += 2.0
    logits *= 4.0  # four times too confident
    t = fit_temperature(logits, labels)
    assert t > 1.5  # overconfident logits need softening
    report = calibration_report(logits, labels)
    assert report["ece_after"] < report["ece_before"] / 2
    probs = np.eye(len(CLASSES), dtype=np.float32)[labels]
    assert expected_calibration_error(probs, labels) == 0.0
