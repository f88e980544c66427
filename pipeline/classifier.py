"""Digit classification with onnxruntime: one session, batched, calibrated probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pipeline.digit_input import to_model_input
from pipeline.model_card import ModelCard, load_card


def available_providers(prefer_gpu: bool = True) -> list[str]:
    """CUDA first where onnxruntime has it, CPU always."""
    have = ort.get_available_providers()
    wanted = (["CUDAExecutionProvider"] if prefer_gpu else []) + ["CPUExecutionProvider"]
    return [p for p in wanted if p in have]


@dataclass(frozen=True)
class Predictions:
    """Calibrated class probabilities for a batch, (N, n_classes)."""

    probs: npt.NDArray[np.float32]

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        return self.probs.argmax(axis=1)

    @property
    def confidence(self) -> npt.NDArray[np.float32]:
        return self.probs.max(axis=1)


def softmax(logits: npt.NDArray[np.float32], temperature: float = 1.0) -> npt.NDArray[np.float32]:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class DigitClassifier:
    """Loads `<model>.onnx` and its card; `predict` takes prepared canvases (N, S, S) uint8."""

    def __init__(self, model_path: Path, prefer_gpu: bool = True, threads: int = 0) -> None:
        if not model_path.is_file():
            raise FileNotFoundError(f"{model_path}: model file missing")
        self.card: ModelCard = load_card(model_path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_path), opts, providers=available_providers(prefer_gpu))
        self.input_name = self.session.get_inputs()[0].name

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def logits(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if len(canvases) == 0:
            return np.zeros((0, len(self.card.classes)), np.float32)
        out = self.session.run(None, {self.input_name: to_model_input(canvases)})[0]
        return np.asarray(out, np.float32)

    def predict(self, canvases: npt.NDArray[np.uint8], batch_size: int = 1024) -> Predictions:
        parts = [self.logits(canvases[i : i + batch_size]) for i in range(0, max(1, len(canvases)), batch_size)]
        return Predictions(softmax(np.concatenate(parts), self.card.temperature))
