"""Exported models judged on real harvested digits of scans they were not trained on.

    actas-train evaluate-real --onnx A.onnx [B.onnx ...] --real DATASET [...] --out DIR [--split heldout]

For each model, through onnxruntime as the reader runs it: per-class accuracy and a confusion table on
the real boxes (digits, `blank`, and the `X` jurors write in unused boxes, which counts as right when
read as "no digit": the mark or blank); the risk-coverage curve over the digit boxes (the error among
the digits kept against the share kept, keeping the most confident first), which is what the review
thresholds stand on. Writes `real_metrics.json`, `real_eval.md` (one table, every model) and
`risk_coverage.png` (every model on one plot) into DIR.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.classifier import DigitClassifier, softmax
from pipeline.digit_input import BLANK, CLASSES, MARKS
from training.data.real import JUDGING_SOURCES, RealDigits, load_real

LABELS = [*CLASSES, *MARKS]
# coverages at which the table reports the error among kept digits
COVERAGES = (0.5, 0.8, 0.9, 0.95, 1.0)


def model_rows(clf: DigitClassifier, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Probabilities over LABELS (a mark the model lacks gets 0)."""
    p = softmax(clf.logits(canvases), clf.card.temperature) if len(canvases) else np.zeros((0, 0), np.float32)
    out = np.zeros((len(canvases), len(LABELS)), np.float32)
    for j, name in enumerate(clf.card.classes):
        out[:, LABELS.index(name)] = p[:, j]
    return out


def risk_coverage(conf: npt.NDArray[np.float32], right: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, error among kept) keeping the most confident first."""
    order = np.argsort(-conf, kind="stable")
    wrong = np.cumsum(~right[order])
    kept = np.arange(1, len(order) + 1)
    return kept / max(1, len(order)), wrong / kept


def real_metrics(
    probs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], no_digit: Sequence[int]
) -> dict[str, Any]:
    """`labels` index LABELS. A box labelled with a mark is right when read as any of `no_digit`."""
    pred = probs.argmax(1)
    n = len(LABELS)
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (labels, pred), 1)
    digit = labels < BLANK
    marks = labels > BLANK
    right = pred == labels
    right[marks] = np.isin(pred[marks], list(no_digit))
    per_class = {
        LABELS[i]: {"n": int((labels == i).sum()), "accuracy": float(right[labels == i].mean())}
        for i in range(n)
        if (labels == i).any()
    }
    cov, err = risk_coverage(probs[digit].max(1), right[digit])
    at = {}
    for c in COVERAGES:
        k = max(1, int(round(c * len(cov)))) if len(cov) else 0
        at[f"{c:.2f}"] = float(err[k - 1]) if k else None
    return {
        "n_digits": int(digit.sum()),
        "digit_accuracy": float(right[digit].mean()) if digit.any() else None,
        "one_accuracy": per_class.get("1", {}).get("accuracy"),
        "blank_recall": per_class.get("blank", {}).get("accuracy"),
        "digits_read_as_blank": float((pred[digit] == BLANK).mean()) if digit.any() else None,
        "marks_read_as_no_digit": float(right[marks].mean()) if marks.any() else None,
        "n_marks": int(marks.sum()),
        "per_class": per_class,
        "error_at_coverage": at,
        "confusion": cm.tolist(),
        "curve": {
            "coverage": cov[:: max(1, len(cov) // 200)].tolist(),
            "error": err[:: max(1, len(err) // 200)].tolist(),
        },
    }


def _pct(v: object) -> str:
    return f"{v:.2%}" if isinstance(v, float) else "-"


def table(results: dict[str, dict[str, Any]]) -> str:
    head = (
        "| model | digits | digit accuracy | `1` accuracy | blank recall | digits read blank | X read as no digit | "
        + " | ".join(f"error at {float(c):.0%} kept" for c in COVERAGES)
        + " |"
    )
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(COVERAGES)]
    for name, m in results.items():
        rows.append(
            f"| {name} | {m['n_digits']} | {_pct(m['digit_accuracy'])} | {_pct(m['one_accuracy'])} | "
            f"{_pct(m['blank_recall'])} | {_pct(m['digits_read_as_blank'])} | "
            f"{_pct(m['marks_read_as_no_digit'])} ({m['n_marks']}) | "
            + " | ".join(_pct(m["error_at_coverage"][f"{c:.2f}"]) for c in COVERAGES)
            + " |"
        )
    return "\n".join(rows)


def confusion_table(m: dict[str, Any]) -> str:
    cm = np.array(m["confusion"])
    used = [i for i in range(len(LABELS)) if cm[i].sum() or cm[:, i].sum()]
    rows = ["| truth \\ read | " + " | ".join(LABELS[j] for j in used) + " |", "|---|" + "---:|" * len(used)]
    rows += [f"| {LABELS[i]} | " + " | ".join(str(cm[i, j]) if cm[i, j] else "." for j in used) + " |" for i in used]
    return "\n".join(rows)


def plot_risk_coverage(results: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, m in results.items():
        c = m["curve"]
        ax.plot(c["coverage"], np.maximum(np.array(c["error"]), 1e-4), label=f"{name} ({_pct(m['digit_accuracy'])})")
    ax.set(xlabel="share of digits kept (most confident first)", ylabel="error among kept", yscale="log", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_real(models: Sequence[Path], real: RealDigits) -> dict[str, dict[str, Any]]:
    labels = real.labels
    out = {}
    for path in models:
        clf = DigitClassifier(path, prefer_gpu=False)
        probs = model_rows(clf, real.canvases)
        no_digit = [BLANK, *(LABELS.index(m) for m in clf.marks)]
        name = f"{clf.card.architecture} ({path.stem})"
        if name in out:  # two models of one name (a candidate beside the shipped one): name them by path
            name = f"{clf.card.architecture} ({path})"
        out[name] = real_metrics(probs, labels, no_digit)
    return out


def run_evaluate_real(args: argparse.Namespace) -> int:
    # a model is judged on labels no model made (`checked` ones train only)
    real = load_real(args.real, LABELS, None if args.split == "all" else args.split, JUDGING_SOURCES)
    if not len(real):
        raise ValueError(f"no labelled boxes of split {args.split!r} in {', '.join(map(str, args.real))}")
    results = evaluate_real(args.onnx, real)
    args.out.mkdir(parents=True, exist_ok=True)
    scans = len(set(real.scans))
    (args.out / "real_metrics.json").write_text(json.dumps({"scans": scans, "models": results}, indent=2))
    title = f"{len(real)} real boxes of {scans} {args.split} scans"
    md = [f"Real boxes: {title} ({', '.join(map(str, args.real))}).", "", table(results)]
    for name, m in results.items():
        md += ["", f"Confusion, {name}:", "", confusion_table(m)]
    (args.out / "real_eval.md").write_text("\n".join(md) + "\n")
    plot_risk_coverage(results, args.out / "risk_coverage.png", title)
    print("\n".join(md[:3]))
    return 0
