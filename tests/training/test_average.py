"""Weight averaging (`actas-train average`): the interpolation, the checkpoint it writes, its card row."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import MNIST
from tests.training.helpers import train_briefly
from training.average import average_checkpoint, interpolate
from training.cli import main
from training.engine import load_trained, predict_logits
from training.export import run_export


def test_interpolate_is_the_weighted_mean_of_float_weights_and_keeps_counters() -> None:
    a = {"w": torch.zeros(3), "n": torch.tensor(4)}
    b = {"w": torch.full((3,), 2.0), "n": torch.tensor(9)}
    assert torch.equal(interpolate(a, b, 0.25)["w"], torch.full((3,), 0.5))
    assert torch.equal(interpolate(a, b, 1.0)["w"], b["w"]) and int(interpolate(a, b, 1.0)["n"]) == 4
    with pytest.raises(ValueError, match="within 0 and 1"):
        interpolate(a, b, 1.5)
    with pytest.raises(ValueError, match="differ in names"):
        interpolate(a, {"w": b["w"]}, 0.5)
    with pytest.raises(ValueError, match=r"\(3,\) against \(4,\)"):
        interpolate(a, {"w": torch.zeros(4), "n": b["n"]}, 0.5)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    return train_briefly("lenet5", root / "a", seed=1), train_briefly("lenet5", root / "b", seed=2)


def test_the_averaged_checkpoint_reads_between_its_two_models(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    x = torch.rand(16, 1, 32, 32)
    logits = {}
    for w in (0.0, 0.5, 1.0):
        out = average_checkpoint(a, b, w, tmp_path / f"avg{w}.pt")
        model, state = load_trained(out)
        logits[w] = predict_logits(model, x)
        assert state["config"]["average"] == {"checkpoint": str(a), "with": str(b), "weight_of_with": w}
    assert torch.allclose(logits[0.0], predict_logits(load_trained(a)[0], x), atol=1e-6)
    assert torch.allclose(logits[1.0], predict_logits(load_trained(b)[0], x), atol=1e-6)
    assert not torch.allclose(logits[0.5], logits[0.0]) and not torch.allclose(logits[0.5], logits[1.0])

    # exported, the card says what was averaged
    args = argparse.Namespace(
        checkpoint=tmp_path / "avg0.5.pt", out=tmp_path / "m" / "lenet5.onnx", data_dir=MNIST,
        calibration=None, metrics=None, hardware="test",
    )  # fmt: skip
    assert run_export(args) == 0
    card = json.loads((tmp_path / "m" / "lenet5.json").read_text())
    assert card["training"]["average"]["weight_of_with"] == 0.5
    assert "weights averaged | 0.50 x this run's weights + 0.50 x" in (tmp_path / "m" / "lenet5.md").read_text()


def test_cli_average_refuses_a_bad_weight_or_another_architecture(
    two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_runs
    out = tmp_path / "avg.pt"
    assert main(["average", "--checkpoint", str(a), "--with", str(b), "--weight", "2", "--out", str(out)]) == 2
    assert "within 0 and 1" in capsys.readouterr().err and not out.exists()
    alex = train_briefly("alexnet", tmp_path / "alex", max_steps=1)
    assert main(["average", "--checkpoint", str(a), "--with", str(alex), "--out", str(out)]) == 2
    assert "does not fit" in capsys.readouterr().err and not out.exists()
    assert main(["average", "--checkpoint", str(a), "--with", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    assert not out.exists()
    assert main(["average", "--checkpoint", str(a), "--with", str(b), "--out", str(out)]) == 0 and out.is_file()
    # an average of an average keeps both records
    assert main(["average", "--checkpoint", str(out), "--with", str(a), "--out", str(tmp_path / "avg2.pt")]) == 0
    record = load_trained(tmp_path / "avg2.pt")[1]["config"]["average"]
    assert record["with"] == str(a) and record["before"]["with"] == str(b)
