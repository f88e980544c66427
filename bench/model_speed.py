"""Milliseconds per box of each ONNX digit model, the model alone, on canvases the reader made.

    python -m bench.model_speed [MODEL.onnx ...] [--scans DIR] [--batch 80] [--threads 1] [--repeat 5]

Default: the float model and its int8 quantization in models/, on the inked boxes of the real scans in
../shared/data/actas/bo2025-runoff (segmented by the shipped reader). Prints the best of `--repeat`
timed runs per model, after one warm-up run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.samples import scans_in
from pipeline.classifier import DigitClassifier
from pipeline.config import FLOAT_MODEL, SHIPPED_MODEL, ReaderConfig
from pipeline.reader import ActaReader

DEFAULT_SCANS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "actas" / "bo2025-runoff"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="*", default=[FLOAT_MODEL, SHIPPED_MODEL])
    p.add_argument("--scans", type=Path, default=DEFAULT_SCANS)
    p.add_argument("--batch", type=int, default=80, help="boxes per onnxruntime call (an acta sends 50-90)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    reader = ActaReader.from_config(ReaderConfig(prefer_gpu=False))
    boxes = [c.cell.canvas for f in scans_in([args.scans]) for c in reader.trace(f.read_bytes()).cells]
    inked = np.stack([b for b in boxes if b.any()])
    if len(inked) < args.batch:
        inked = np.concatenate([inked] * (args.batch // len(inked) + 1))
    batch = inked[: args.batch]
    print(f"{len(batch)} inked boxes a call, {args.threads} onnxruntime thread(s), best of {args.repeat}")
    for path in args.models:
        clf = DigitClassifier(path, prefer_gpu=False, threads=args.threads)
        clf.logits(batch)
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            clf.logits(batch)
            best = min(best, time.perf_counter() - start)
        print(f"{path.name:32s} {best / len(batch) * 1000:6.3f} ms a box")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
