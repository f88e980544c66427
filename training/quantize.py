"""An exported float model as int8 weights for the CPU: static quantization, calibrated on training data.

    actas-train quantize --onnx models/convnext_tiny.onnx --real DATASET [...] --out models/convnext_tiny_int8.onnx

The MatMuls (ConvNeXt's pointwise layers: about three quarters of its time in onnxruntime) get int8
weights, one scale per output channel, and uint8 activations with fixed ranges (QDQ format, onnxruntime's
`quantize_static`, MinMax ranges). Fixed ranges keep a box's reading independent of the other boxes in
its batch, which dynamic quantization does not. The ranges are measured on training data only: inked
boxes of the real datasets' training scans (never a held-out scan) and MNIST training digits, picked by
`--seed`. The last stage's MatMuls stay float: quantized, they moved the empty box's confidence from
0.9978 to 0.9991, enough to carry fields across the review's 0.993 (docs/benchmarks.md). The card is the
float model's, with a `quantization` record: the source file's sha256, what was quantized, the
calibration data, and the agreement with the float model on the MNIST test digits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.classifier import DigitClassifier
from pipeline.digit_input import center_digit, to_model_input
from pipeline.model_card import card_path
from training.data.real import load_real
from training.data.sources import load_mnist
from training.real_eval import LABELS

BATCH = 32
_STAGE = re.compile(r"/stages\.(\d+)/")


def calibration_canvases(real: Sequence[Path], mnist: Path, count: int, seed: int) -> npt.NDArray[np.uint8]:
    """Up to `count` inked real boxes of training scans and `count` MNIST training digits."""
    rng = np.random.default_rng(seed)
    boxes = load_real(real, LABELS, "train").canvases
    boxes = boxes[boxes.reshape(len(boxes), -1).any(axis=1)] if len(boxes) else boxes
    if not len(boxes):
        raise ValueError(f"no inked training boxes in {', '.join(map(str, real))} to calibrate on")
    digits = load_mnist(mnist, "train").images
    picked = boxes[rng.choice(len(boxes), min(count, len(boxes)), replace=False)]
    written = np.stack([center_digit(digits[i]) for i in rng.choice(len(digits), count, replace=False)])
    return np.concatenate([picked, written])


def float_matmuls_of_last_stage(model: Path) -> list[str]:
    import onnx

    names = [n.name for n in onnx.load(str(model), load_external_data=False).graph.node if n.op_type == "MatMul"]
    stages = [int(m.group(1)) for n in names if (m := _STAGE.search(n))]
    return [n for n in names if stages and (m := _STAGE.search(n)) and int(m.group(1)) == max(stages)]


def quantize(source: Path, out: Path, canvases: npt.NDArray[np.uint8]) -> list[str]:
    """Writes the int8 model to `out`; returns the MatMuls left float."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    x = to_model_input(canvases)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        keep_float = float_matmuls_of_last_stage(pre)
        input_name = DigitClassifier(source, prefer_gpu=False).input_name

        class Batches(CalibrationDataReader):
            def __init__(self) -> None:
                self.batches = iter(x[i : i + BATCH] for i in range(0, len(x), BATCH))

            def get_next(self) -> dict[str, Any] | None:
                batch = next(self.batches, None)
                return None if batch is None else {input_name: batch}

        quantize_static(
            str(pre),
            str(out),
            Batches(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=keep_float,
        )
    return keep_float


def agreement(source: Path, quantized: Path, mnist: Path) -> dict[str, float]:
    """The two models on the 10,000 MNIST test digits (and an empty box)."""
    test = load_mnist(mnist, "test")
    canvases = np.stack([center_digit(im) for im in test.images])
    empty = np.zeros((1, *canvases.shape[1:]), np.uint8)
    a, b = (DigitClassifier(p, prefer_gpu=False) for p in (source, quantized))
    pa, pb = a.predict(canvases).probs, b.predict(canvases).probs
    return {
        "mnist_test_accuracy": float((pb.argmax(1) == test.labels).mean()),
        "mnist_test_accuracy_float": float((pa.argmax(1) == test.labels).mean()),
        "mnist_test_same_class": float((pa.argmax(1) == pb.argmax(1)).mean()),
        "mnist_test_max_probability_change": float(np.abs(pa - pb).max()),
        "empty_box_confidence": float(b.predict(empty).confidence[0]),
        "empty_box_confidence_float": float(a.predict(empty).confidence[0]),
    }


def run_quantize(args: argparse.Namespace) -> int:
    source: Path = args.onnx
    if not source.is_file() or not card_path(source).is_file():
        raise FileNotFoundError(f"{source}: no exported model with its card beside it")
    if args.out.resolve() == source.resolve():
        raise ValueError("--out must not overwrite the float model")
    canvases = calibration_canvases(args.real, args.mnist, args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # written beside the target under a temporary name, model and card, and moved in place together
    partial = args.out.with_name(f".{args.out.stem}.partial.onnx")
    card = json.loads(card_path(source).read_text())
    try:
        card_path(partial).write_text(json.dumps(card))  # the classifier reads a model with its card
        keep_float = quantize(source, partial, canvases)
        card["name"] = args.out.stem
        card["quantization"] = {
            "from": source.name,
            "from_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "method": "onnxruntime quantize_static, QDQ: MatMul weights int8 per channel, activations uint8, MinMax",
            "float_nodes": keep_float,
            "calibration": {
                "real": [str(p) for p in args.real],
                "real_split": "train",
                "real_boxes": int(len(canvases) - args.count),
                "mnist_train_digits": int(args.count),
                "seed": int(args.seed),
            },
            "measured": agreement(source, partial, args.mnist),
        }
        card_path(partial).write_text(json.dumps(card, indent=2) + "\n")
        partial.replace(args.out)
        card_path(partial).replace(card_path(args.out))
    finally:
        partial.unlink(missing_ok=True)
        card_path(partial).unlink(missing_ok=True)
    print(json.dumps(card["quantization"]["measured"], indent=2))
    return 0
