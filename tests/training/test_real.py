"""Training on harvested real digits and the no-digit mark, and judging models on held-out real boxes."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from actas.harvest import harvest
from pipeline.classifier import DigitClassifier
from pipeline.digit_input import BLANK, CLASSES, INPUT_SIZE
from pipeline.reader import ActaReader
from tests.conftest import ACTAS, MNIST
from tests.training.helpers import train_briefly
from training.data.dataset import MarkSet
from training.data.marks import synth_x
from training.data.real import RealTrainSet, load_real
from training.engine import TrainConfig, init_weights, load_trained, real_split
from training.export import run_export
from training.models import create_model
from training.real_eval import real_metrics, run_evaluate_real


def cfg(**kw: object) -> TrainConfig:
    return TrainConfig(**{"model": "lenet5", "data_dir": str(MNIST), "run_dir": "unused", **kw})  # type: ignore[arg-type]


SCANS = [ACTAS / "bo2025-runoff" / n for n in ("mesa_1000551.jpg", "mesa_8002451.jpg", "mesa_5018381.jpg")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, reader: ActaReader) -> Path:
    """Three real runoff scans harvested with their truth; one box relabelled `X` by hand."""
    out = tmp_path_factory.mktemp("real") / "ds"
    harvest(reader, SCANS, out, {}, heldout=0.0, seed=1, progress=False)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    key = f"{rows[0]['sha256'][:16]}:{rows[0]['field']}:{rows[0]['box']}"
    harvest(reader, SCANS, out, {key: "X"}, heldout=0.0, seed=1, progress=False)
    return out


def test_real_boxes_load_with_their_class_and_marks_only_where_learnt(dataset: Path) -> None:
    with_x = load_real([dataset], [*CLASSES, "X"], "train")
    without = load_real([dataset], list(CLASSES), "train")
    assert len(with_x) == len(without) + 1 and (with_x.labels == len(CLASSES)).sum() == 1
    assert with_x.canvases.shape[1:] == (INPUT_SIZE, INPUT_SIZE) and with_x.canvases.dtype == np.uint8
    assert set(with_x.sources) == {"truth", "hand"} and len(set(with_x.scans)) == len(SCANS)
    assert len(load_real([dataset], list(CLASSES), "heldout")) == 0
    with pytest.raises(FileNotFoundError, match="not a harvested dataset"):
        load_real([dataset.parent], list(CLASSES), None)


def test_validation_takes_whole_scans(dataset: Path) -> None:
    for seed in range(6):
        train, val = real_split(cfg(real=[str(dataset)], real_val=0.5, marks=["X"], seed=seed))
        assert not set(train.scans) & set(val.scans)
        assert len(train) + len(val) == len(load_real([dataset], [*CLASSES, "X"], "train"))


def test_jittered_real_digits_and_synthetic_marks_are_model_inputs(dataset: Path) -> None:
    real = load_real([dataset], list(CLASSES), "train")
    ts = RealTrainSet(real, repeat=2, seed=0)
    assert len(ts) == 2 * len(real)
    x0, y0 = ts[0]
    x1, y1 = ts[len(real)]  # the same box, jittered on its second showing
    assert x0.shape == (1, INPUT_SIZE, INPUT_SIZE) and y0 == y1 and not torch.equal(x0, x1)
    marks = MarkSet(4, [len(CLASSES)], seed=0)
    assert [marks[i][1] for i in range(4)] == [len(CLASSES)] * 4
    x = synth_x(np.random.default_rng(0))
    assert x.shape == (INPUT_SIZE, INPUT_SIZE) and (x > 128).mean() > 0.03  # an X has ink on both diagonals
    assert x[8:24, 8:24].diagonal().max() > 100 and np.fliplr(x[8:24, 8:24]).diagonal().max() > 100


def test_a_head_grown_for_a_mark_keeps_the_old_classes(tmp_path: Path) -> None:
    old = create_model("lenet5", num_classes=len(CLASSES))
    torch.save(old.state_dict(), tmp_path / "old.pt")
    new = create_model("lenet5", num_classes=len(CLASSES) + 1)
    init_weights(new, cfg(init=str(tmp_path / "old.pt"), marks=["X"]))
    x = torch.rand(5, 1, INPUT_SIZE, INPUT_SIZE)
    with torch.no_grad():
        assert torch.allclose(new.eval()(x)[:, : len(CLASSES)], old.eval()(x), atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        init_weights(create_model("lenet5", num_classes=5), cfg(init=str(tmp_path / "old.pt")))


def test_trained_with_the_mark_exported_and_judged_on_real_boxes(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt = train_briefly("lenet5", run, max_steps=3, real=[str(dataset)], real_val=0.0, marks=["X"], mark_count=8)
    model, state = load_trained(ckpt)
    assert state["config"]["marks"] == ["X"] and model.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 12)
    out = tmp_path / "lenet5.onnx"
    args = argparse.Namespace(checkpoint=ckpt, out=out, data_dir=MNIST, calibration=None, metrics=None, hardware="test")
    assert run_export(args) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["classes"] == [*CLASSES, "X"] and card["training"]["real"] == [str(dataset)]
    assert DigitClassifier(out, prefer_gpu=False).marks == ["X"]
    ev = tmp_path / "eval"
    ns = argparse.Namespace(onnx=[out], real=[dataset], split="train", out=ev)
    assert run_evaluate_real(ns) == 0
    metrics = json.loads((ev / "real_metrics.json").read_text())
    assert metrics["scans"] == len(SCANS) and (ev / "risk_coverage.png").stat().st_size > 1000
    assert "| lenet5" in (ev / "real_eval.md").read_text()


def test_real_metrics_count_an_x_read_as_no_digit_as_right() -> None:
    labels = np.array([1, 1, 7, BLANK, 11])  # two 1s, a 7, a blank, an X
    probs = np.zeros((5, 12), np.float32)
    for i, p in enumerate([1, 7, 7, BLANK, BLANK]):  # one 1 read 7; the X read blank
        probs[i, p] = 0.9
    m = real_metrics(probs, labels, [BLANK, 11])
    assert m["digit_accuracy"] == pytest.approx(2 / 3)
    assert m["per_class"]["1"]["accuracy"] == pytest.approx(0.5)
    assert m["per_class"]["X"]["accuracy"] == 1.0


def test_reviewed_boxes_from_the_service_are_training_data_unless_held_out(dataset: Path, tmp_path: Path) -> None:
    """The service's export (`service.review.harvest`): crops, `_` for blank, no split, `scan_sha256`."""
    rows = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    inked = [r for r in rows if r["ink"] and r["label"] in CLASSES[:BLANK]][:3]
    review = tmp_path / "review"
    lines = []
    for r in inked:
        (review / "crops" / r["sha256"]).mkdir(parents=True, exist_ok=True)
        crop = cv2.imread(str(dataset / r["crop"]))
        assert crop is not None
        assert cv2.imwrite(str(review / "crops" / r["sha256"] / f"{r['field']}-{r['box']}.png"), crop)
        lines.append(
            {
                "scan_sha256": r["sha256"],
                "form": r["form"],
                "field": r["field"],
                "box": r["box"],
                "label": r["label"],
                "source": "review",
                "crop": f"crops/{r['sha256']}/{r['field']}-{r['box']}.png",
            }
        )
    lines.append({**lines[0], "label": "_", "box": 99})
    (review / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    got = load_real([review], list(CLASSES), "train")
    assert len(got) == 4 and set(got.sources) == {"review"} and got.labels[-1] == BLANK
    # the canvas made from the crop is the one the pipeline made when it read the scan
    made = cv2.imread(str(dataset / inked[0]["canvas"]), cv2.IMREAD_GRAYSCALE)
    assert made is not None
    assert np.abs(got.canvases[0].astype(int) - made.astype(int)).mean() < 25
    # a scan another dataset holds out is never trained on, whoever labelled it
    held = tmp_path / "held"
    shutil.copytree(dataset, held)
    manifest = held / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"split":"train"', '"split":"heldout"'))
    assert len(load_real([review, held], list(CLASSES), "train")) == 0
