"""Digit classification with onnxruntime: one session, batched, calibrated probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pipeline.digit_input import BLANK, CLASSES, INPUT_SIZE, to_model_input
from pipeline.model_card import ModelCard, load_card


def available_providers(prefer_gpu: bool = True) -> list[str]:
    """CUDA first where onnxruntime has it, CPU always."""
    have = ort.get_available_providers()
    wanted = (["CUDAExecutionProvider"] if prefer_gpu else []) + ["CPUExecutionProvider"]
    return [p for p in wanted if p in have]


@dataclass(frozen=True)
class Predictions:
    """Calibrated probabilities for a batch over the reader's classes (N, len(CLASSES)), and the
    model's no-digit marks before they were folded (N, marks; empty for a model without any)."""

    probs: npt.NDArray[np.float32]
    marks: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))

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
        self._empty: npt.NDArray[np.float32] | None = None

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def logits(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """An empty canvas (a blank box, most boxes of an acta) always gives the same logits: they are
        computed once, and only canvases with ink go through the model."""
        out = np.empty((len(canvases), len(self.card.classes)), np.float32)
        inked = canvases.reshape(len(canvases), -1).any(axis=1)
        if not inked.all():
            out[~inked] = self._empty_logits()
        if inked.any():
            out[inked] = self._run(canvases[inked])
        return out

    def _empty_logits(self) -> npt.NDArray[np.float32]:
        if self._empty is None:  # two threads may both compute it: the same value
            self._empty = self._run(np.zeros((1, INPUT_SIZE, INPUT_SIZE), np.uint8))[0]
        return self._empty

    def _run(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        out = self.session.run(None, {self.input_name: to_model_input(canvases)})[0]
        return np.asarray(out, np.float32)

    @property
    def marks(self) -> list[str]:
        """The no-digit marks the model knows, in output order after CLASSES."""
        return self.card.classes[len(CLASSES) :]

    def predict(
        self, canvases: npt.NDArray[np.uint8], batch_size: int = 1024, no_digit_marks: tuple[str, ...] = ()
    ) -> Predictions:
        """`no_digit_marks`: the marks the form's jurors write in an unused box; a mark's probability
        counts as `blank` there. A mark the form does not name is left out of the row, so the box's
        best class keeps only its own share and the box is in doubt rather than a confident digit."""
        parts = [self.logits(canvases[i : i + batch_size]) for i in range(0, max(1, len(canvases)), batch_size)]
        probs = softmax(np.concatenate(parts), self.card.temperature)
        return fold_marks(probs, self.marks, no_digit_marks)


def fold_marks(probs: npt.NDArray[np.float32], marks: list[str], no_digit_marks: tuple[str, ...]) -> Predictions:
    """Model rows (N, CLASSES + marks) -> the reader's rows (N, CLASSES) (see `DigitClassifier.predict`)."""
    n = len(CLASSES)
    out = probs[:, :n].copy()
    for j, mark in enumerate(marks):
        if mark in no_digit_marks:
            out[:, BLANK] += probs[:, n + j]
    return Predictions(out, probs[:, n:].copy())
