"""Our batched onnxruntime path against the ways a user would otherwise run the same classifier.

    python -m bench.inference [--repeat 3] [DIR ...]      # default: the real samples in ../shared

1. Per acta, in one run: the pipeline as shipped (every cell of the acta in one onnxruntime batch,
   32x32 single-channel input) against the way a simple script does it: PyTorch eager, one digit at a
   time, each cell resized to 64x64 and repeated to three channels with ImageNet normalisation (as
   ImageNet-style fine-tuning scripts do). Both use the shipped ConvNeXt-Tiny weights (read back from
   the ONNX file; for three channels the stem's kernel is split evenly over them), so only the way of
   running differs. Registration, box location and segmentation are the same code in both, so the
   whole-acta time of the simple way is ours with our classify stage swapped for its classify time.
2. onnxruntime CPU against PyTorch CPU for the same model and input, digits per second at batch 96
   (about one acta) and 1024; and with the CUDA provider where onnxruntime has one.

Needs the `train` extra (torch, timm). Prints the machine; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from bench.cells import acta_cells
from bench.samples import DEFAULT_DIRS, scans_in
from pipeline.classifier import DigitClassifier, available_providers
from pipeline.config import FLOAT_MODEL, ReaderConfig
from pipeline.digit_input import CLASSES, to_model_input
from pipeline.reader import ActaReader
from training.models import create_model
from training.onnx_weights import state_dict_from_onnx

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def pytorch_model(onnx_path: Path, in_chans: int) -> torch.nn.Module:
    one = create_model("convnext_tiny", num_classes=len(CLASSES)).eval()
    one.load_state_dict(state_dict_from_onnx(onnx_path, one))
    if in_chans == 1:
        return one
    model = create_model("convnext_tiny", num_classes=len(CLASSES), in_chans=in_chans).eval()
    state = one.state_dict()
    state["stem.0.weight"] = state["stem.0.weight"].repeat(1, in_chans, 1, 1) / in_chans
    model.load_state_dict(state)
    return model


def simple_script_classify(model: torch.nn.Module, canvases: npt.NDArray[np.uint8]) -> list[int]:
    """One digit at a time: resize to 64x64, three channels, ImageNet normalisation, eager forward."""
    out = []
    with torch.no_grad():
        for canvas in canvases:
            img = cv2.resize(canvas, (64, 64), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
            x = (np.repeat(img[None], 3, axis=0) - IMAGENET_MEAN) / IMAGENET_STD
            out.append(int(model(torch.from_numpy(x[None].astype(np.float32))).argmax(1)))
    return out


def onnx_run(clf: DigitClassifier) -> Callable[[npt.NDArray[np.float32]], object]:
    """One call of the classifier's onnxruntime session on prepared input, nothing around it."""
    return lambda x: clf.session.run(None, {clf.input_name: x})


def digits_per_second(fn: Callable[[npt.NDArray[np.float32]], object], x: npt.NDArray[np.float32]) -> float:
    seconds = 3.0
    fn(x)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(x)
        n += len(x)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", type=Path, nargs="*", default=DEFAULT_DIRS, help="folders of scans (recursive)")
    p.add_argument("--repeat", type=int, default=3, help="timed reads of each acta")
    p.add_argument("--limit", type=int, default=0, help="at most this many scans (0: all)")
    p.add_argument("--model", type=Path, default=None, help="a float ONNX model (default: models/convnext_tiny.onnx)")
    args = p.parse_args(argv)
    onnx_path = args.model or FLOAT_MODEL  # a float model: its weights also build the PyTorch side
    files = scans_in(args.dirs)[: args.limit or None]
    if not files:
        print("no scans found")
        return 2
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); model {onnx_path.name}"
    )
    reader = ActaReader.from_config(ReaderConfig(model=onnx_path, prefer_gpu=False))
    simple = pytorch_model(onnx_path, in_chans=3)

    ours_total, ours_classify, simple_classify, cells_per_acta, agree = [], [], [], [], []
    canvases = []
    for f in files:
        data = f.read_bytes()
        cells = acta_cells(reader, f)
        canvases.append(cells.canvases)
        for _ in range(args.repeat):
            r = reader.read(data)
            ours_total.append(r.timings_ms["total"])
            ours_classify.append(r.timings_ms["classify"])
            t0 = time.perf_counter()
            labels = simple_script_classify(simple, cells.canvases)
            simple_classify.append((time.perf_counter() - t0) * 1000)
        ours = reader.classifier.predict(cells.canvases).labels
        agree.append(float(np.mean(np.array(labels) == ours)))
        cells_per_acta.append(len(cells.canvases))
    med = statistics.median
    simple_total = [t - c + s for t, c, s in zip(ours_total, ours_classify, simple_classify, strict=True)]
    print(f"\n1. per acta ({len(files)} scans x {args.repeat} reads, {med(cells_per_acta):.0f} cells per acta median)")
    print(f"{'':44s} {'median ms':>10s} {'p95 ms':>8s}")
    rows = [
        ("classify, ours (onnxruntime, one batch)", ours_classify),
        ("classify, simple (PyTorch eager, 1 digit, 64x64x3)", simple_classify),
        ("whole acta, ours", ours_total),
        ("whole acta, simple", simple_total),
    ]
    for name, values in rows:
        print(f"{name:44s} {med(values):10.1f} {float(np.percentile(values, 95)):8.1f}")
    print(f"ratio, classify stage: {med(simple_classify) / med(ours_classify):.1f}x")
    print(f"ratio, whole acta:     {med(simple_total) / med(ours_total):.1f}x")
    print(
        f"(timing only: the weights were trained at 32x32, so at 64x64 the simple way's labels agree with ours on "
        f"{np.mean(agree):.1%} of the cells; a script fine-tuned at 64x64 would cost the same time)"
    )

    print("\n2. the same model, digits per second")
    one = pytorch_model(onnx_path, in_chans=1)
    gpu = None
    if "CUDAExecutionProvider" in available_providers(prefer_gpu=True):
        gpu = DigitClassifier(onnx_path, prefer_gpu=True)
    pool = np.concatenate(canvases)

    def torch_cpu(x: npt.NDArray[np.float32]) -> object:
        with torch.no_grad():
            return one(torch.from_numpy(x))

    for batch in (96, 1024):
        x = to_model_input(pool[np.arange(batch) % len(pool)])
        print(
            f"batch {batch:5d}: onnxruntime CPU {digits_per_second(onnx_run(reader.classifier), x):8.0f}/s, "
            f"PyTorch CPU {digits_per_second(torch_cpu, x):8.0f}/s"
        )
        if gpu is not None:
            print(f"batch {batch:5d}: onnxruntime CUDA {digits_per_second(onnx_run(gpu), x):8.0f}/s")
        else:
            print(f"batch {batch:5d}: onnxruntime CUDA: no CUDA provider on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
