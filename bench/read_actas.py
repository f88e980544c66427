"""Per-stage time of reading an acta: median and 95th percentile over the real samples.

    python -m bench.read_actas [--repeat 5] [--threads 0] [DIR ...]

Prints one row per stage (decode, register, cells, classify, checks, total) and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from bench.samples import DEFAULT_DIRS, scans_in
from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.reader import ActaReader


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", type=Path, nargs="*", default=DEFAULT_DIRS, help="folders of scans (recursive)")
    p.add_argument("--repeat", type=int, default=5, help="reads of each file (the first is a warm-up)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: all cores)")
    p.add_argument("--model", type=Path, default=None)
    args = p.parse_args(argv)

    files = scans_in(args.dirs)
    if not files:
        print("no scans found", flush=True)
        return 2
    t0 = time.perf_counter()
    reader = ActaReader.from_config(
        ReaderConfig(model=args.model or SHIPPED_MODEL, prefer_gpu=False, threads=args.threads)
    )
    print(
        f"start-up (model + templates): {(time.perf_counter() - t0) * 1000:.0f} ms; "
        f"provider {reader.classifier.provider}; model {reader.classifier.card.name}"
    )
    stages: dict[str, list[float]] = {}
    for f in files:
        data = f.read_bytes()
        for i in range(args.repeat):
            r = reader.read(data)
            if i == 0:
                continue  # warm-up
            for k, v in r.timings_ms.items():
                stages.setdefault(k, []).append(v)
    n = len(stages["total"])
    print(
        f"{len(files)} scans x {args.repeat - 1} timed reads = {n} reads; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"{'stage':10s} {'median ms':>10s} {'p95 ms':>10s}")
    for k, vals in stages.items():
        print(f"{k:10s} {statistics.median(vals):10.1f} {percentile(vals, 95):10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
