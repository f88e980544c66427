"""Test-set evaluation: accuracy, per-class precision/recall/F1, confusion matrix and training curves.

The test set is MNIST's (or EMNIST's) test split prepared by `center_digit`, plus held-out synthetic
blanks from a seed no training run uses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.classifier import DigitClassifier, fold_marks, softmax
from pipeline.digit_input import BLANK, CLASSES
from training.calibration import expected_calibration_error
from training.data.dataset import EvalSet, make_eval_set
from training.data.sources import load_source

TEST_BLANK_SEED = 20251019  # never used for training or validation blanks


def test_set(data_dir: Path, source: str, n_blanks: int) -> EvalSet:
    return make_eval_set(load_source(source, data_dir, "test"), n_blanks, TEST_BLANK_SEED)


def confusion_matrix(labels: npt.NDArray[np.int64], pred: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def classification_metrics(probs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> dict[str, Any]:
    pred = probs.argmax(1)
    cm = confusion_matrix(labels, pred, len(CLASSES))
    per_class = {}
    for i, name in enumerate(CLASSES):
        tp = cm[i, i]
        prec = tp / max(1, cm[:, i].sum())
        rec = tp / max(1, cm[i, :].sum())
        per_class[name] = {
            "precision": float(prec),
            "recall": float(rec),
            "f1": float(2 * prec * rec / max(1e-12, prec + rec)),
            "support": int(cm[i, :].sum()),
        }
    digits = labels != BLANK
    return {
        "digit_accuracy": float((pred[digits] == labels[digits]).mean()),
        "n_digits": int(digits.sum()),
        "blank_recall": float((pred[~digits] == BLANK).mean()) if (~digits).any() else None,
        "n_blanks": int((~digits).sum()),
        "digits_read_as_blank": float((pred[digits] == BLANK).mean()),
        "accuracy_all": float((pred == labels).mean()),
        "ece": expected_calibration_error(probs, labels),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def plot_confusion(cm: npt.NDArray[np.int64], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    shown = np.log1p(cm)
    ax.imshow(shown, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shown[i, j] > shown.max() / 2 else "black",
                )
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(history: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(ep, [h["val_loss"] for h in history], "o-", label="validation")
    a.set(xlabel="epoch", ylabel="loss", title="loss")
    a.legend()
    b.plot(ep, [1 - h["train_acc"] for h in history], "o-", label="train (augmented)")
    b.plot(ep, [1 - h["val_acc"] for h in history], "o-", label="validation")
    b.set(xlabel="epoch", ylabel="error rate", yscale="log", title="error")
    b.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def probabilities(args: argparse.Namespace, data: EvalSet) -> tuple[npt.NDArray[np.float32], str]:
    if args.onnx:
        clf = DigitClassifier(args.onnx, prefer_gpu=False)
        return clf.predict(data.canvases).probs, clf.card.name
    from training.engine import load_trained, predict_logits

    model, state = load_trained(args.checkpoint)
    calib = args.checkpoint.parent / "calibration.json"
    t = json.loads(calib.read_text())["temperature"] if calib.is_file() else 1.0
    x, _ = data.tensors()
    marks = list(state["config"].get("marks", []))
    return fold_marks(softmax(predict_logits(model, x).numpy(), t), marks, ()).probs, str(state["config"]["model"])


def run_evaluate(args: argparse.Namespace) -> int:
    data = test_set(args.data_dir, args.source, args.blanks)
    probs, name = probabilities(args, data)
    metrics = classification_metrics(probs, data.labels)
    metrics["model"] = name
    metrics["source"] = args.source
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_confusion(np.array(metrics["confusion"]), args.out / "confusion.png", f"{name}: test confusion")
    history = args.history or (args.checkpoint.parent / "history.json" if args.checkpoint else None)
    if history and Path(history).is_file():
        plot_history(json.loads(Path(history).read_text()), args.out / "training_curves.png", name)
    print(
        f"{name}: digit accuracy {metrics['digit_accuracy']:.4%} on {metrics['n_digits']} test digits, "
        f"blank recall {metrics['blank_recall']:.4%} on {metrics['n_blanks']} blanks, "
        f"digits read as blank {metrics['digits_read_as_blank']:.4%}, ECE {metrics['ece']:.4f}"
    )
    for cls, m in metrics["per_class"].items():
        print(f"  {cls:>5}  P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  n {m['support']}")
    return 0
