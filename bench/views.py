"""How test-time views change what the digit model reads on the MNIST test digits: accuracy, and how
many misreads stay at each confidence (the misreads a review threshold cannot catch).

    python -m bench.views [--model models/convnext_tiny.onnx] [--mnist ../shared/data/mnist]

Each view alone, then the views averaged as the reader averages them (`pipeline.views`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from actas.config import mnist_dir
from actas.synth.handwriting import load_mnist_test
from pipeline.classifier import DigitClassifier
from pipeline.config import SHIPPED_MODEL
from pipeline.digit_input import center_digit
from pipeline.views import DEFAULT_VIEWS, average_over_views, expand

LEVELS = (0.9, 0.99, 0.995)


def line(name: str, probs: npt.NDArray[np.float32], truth: npt.NDArray[np.int64]) -> str:
    wrong = probs.argmax(axis=1) != truth
    conf = probs.max(axis=1)
    parts = [f"{name:24s} {1 - wrong.mean():8.2%}"]
    for level in LEVELS:
        sure = conf >= level
        parts.append(f"{sure.mean():7.1%} {int((wrong & sure).sum()):5d}")
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="ONNX digit model (default: the shipped one)")
    p.add_argument("--mnist", type=Path, default=None, help="directory of the MNIST IDX files")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    args = p.parse_args(argv)
    mnist = load_mnist_test(mnist_dir(args.mnist))
    clf = DigitClassifier(args.model or SHIPPED_MODEL, prefer_gpu=False, threads=args.threads)
    canvases = np.stack([center_digit(im) for im in mnist.images])
    truth = mnist.labels.astype(np.int64)

    head = " | ".join(f"{'>= ' + str(level):>7s} {'wrong':>5s}" for level in LEVELS)
    print(f"{len(truth)} MNIST test digits; per confidence level: share read that sure, misreads among them")
    print(f"{'views':24s} {'accuracy':>8s} | {head}")
    for name in DEFAULT_VIEWS:
        print(line(name, clf.predict(expand(canvases, (name,))).probs, truth))
    start = time.perf_counter()
    averaged = average_over_views(lambda x: clf.predict(x).probs, canvases, DEFAULT_VIEWS)
    took = time.perf_counter() - start
    print(line(f"average of {len(DEFAULT_VIEWS)}", averaged, truth))
    print(f"({took / len(truth) * 1000:.2f} ms per digit for the averaged reading)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
