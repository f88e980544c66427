"""Compare exported classifiers side by side: size, accuracy and CPU latency with onnxruntime."""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from pipeline.classifier import DigitClassifier
from training.evaluate import classification_metrics, test_set


def latency_ms(clf: DigitClassifier, canvases: np.ndarray, batch: int, repeats: int = 30) -> float:
    x = canvases[:batch]
    for _ in range(3):
        clf.logits(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        clf.logits(x)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_compare(args: argparse.Namespace) -> int:
    data = test_set(args.data_dir, "mnist", 2000)
    rows = []
    for path in args.onnx:
        clf = DigitClassifier(path, prefer_gpu=False)
        m = classification_metrics(clf.predict(data.canvases).probs, data.labels)
        rows.append(
            f"| {clf.card.architecture} | {clf.card.parameters:,} | {m['digit_accuracy']:.2%} | "
            f"{m['blank_recall']:.2%} | {m['digits_read_as_blank']:.2%} | {path.stat().st_size / 1e6:.1f} MB | "
            f"{latency_ms(clf, data.canvases, args.batch):.1f} ms | {clf.card.training.get('epochs_done', '?')} |"
        )
    table = "\n".join(
        [
            f"| model | parameters | MNIST test accuracy | blank recall | digits read as blank | ONNX size | "
            f"CPU latency, batch of {args.batch} (median) | epochs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return 0
