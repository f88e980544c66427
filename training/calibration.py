"""Temperature scaling (Guo et al. 2017): one scalar that makes the softmax confidences honest.

Fitted on the validation split (digits held out from training plus held-out synthetic blanks),
reported as expected calibration error (ECE, 15 equal-width bins) before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.classifier import softmax

F32 = npt.NDArray[np.float32]


def nll(logits: F32, labels: npt.NDArray[np.int64], temperature: float) -> float:
    p = softmax(logits, temperature)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())


def expected_calibration_error(probs: F32, labels: npt.NDArray[np.int64], bins: int = 15) -> float:
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(float(correct[sel].mean()) - float(conf[sel].mean()))
    return float(ece)


def fit_temperature(logits: F32, labels: npt.NDArray[np.int64]) -> float:
    """Minimise validation NLL over T: a coarse log grid, then a fine one around the best."""
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 81))
    best = min(grid, key=lambda t: nll(logits, labels, float(t)))
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=lambda t: nll(logits, labels, float(t))))


def calibration_report(logits: F32, labels: npt.NDArray[np.int64]) -> dict[str, float]:
    t = fit_temperature(logits, labels)
    return {
        "temperature": round(t, 4),
        "ece_before": expected_calibration_error(softmax(logits, 1.0), labels),
        "ece_after": expected_calibration_error(softmax(logits, t), labels),
        "nll_before": nll(logits, labels, 1.0),
        "nll_after": nll(logits, labels, t),
        "n": len(labels),
    }


def plot_reliability(logits: F32, labels: npt.NDArray[np.int64], temperature: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, 16)
    for t, name in ((1.0, "before (T=1)"), (temperature, f"after (T={temperature:.2f})")):
        probs = softmax(logits, t)
        conf, correct = probs.max(1), probs.argmax(1) == labels
        xs, ys = [], []
        for lo, hi in itertools.pairwise(edges):
            sel = (conf > lo) & (conf <= hi)
            if sel.sum() >= 5:
                xs.append(float(conf[sel].mean()))
                ys.append(float(correct[sel].mean()))
        ax.plot(xs, ys, "o-", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="confidence", ylabel="accuracy", title="Reliability on the validation split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_calibrate(args: argparse.Namespace) -> int:
    import dataclasses

    from training.engine import TrainConfig, load_trained, predict_logits, validation_set

    model, state = load_trained(args.checkpoint)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in names})
    cfg.data_dir = str(args.data_dir)
    # the split the best epoch was chosen on: MNIST's held-back digits and blanks, and the real
    # validation scans' boxes where the run trained on harvested digits (marks included)
    val_set = validation_set(cfg)
    x, y = val_set.tensors()
    logits = predict_logits(model, x).numpy()
    labels = y.numpy()
    report = calibration_report(logits, labels)
    out = args.out or args.checkpoint.parent / "calibration.json"
    out.write_text(json.dumps(report, indent=2))
    plot_reliability(logits, labels, report["temperature"], out.with_name("reliability.png"))
    print(json.dumps(report))
    return 0
