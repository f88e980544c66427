"""The model card: what the runtime must know about an exported classifier, read from JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.digit_input import CLASSES, INPUT_SIZE, MARKS, MEAN, STD


class ModelCard(BaseModel):
    """Machine-readable card, `<model>.json` beside `<model>.onnx`."""

    name: str
    architecture: str
    classes: list[str] = Field(default_factory=lambda: list(CLASSES))
    input_size: int = INPUT_SIZE
    input_channels: int = 1
    ink: str = "white on black"
    mean: float = MEAN
    std: float = STD
    temperature: float = 1.0
    parameters: int = 0
    training: dict[str, object] = Field(default_factory=dict)
    metrics: dict[str, object] = Field(default_factory=dict)
    calibration: dict[str, object] = Field(default_factory=dict)
    quantization: dict[str, object] = Field(default_factory=dict)  # empty for a float model
    notes: str = ""


def card_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def load_card(model_path: Path) -> ModelCard:
    path = card_path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model card missing (expected beside {model_path.name})")
    card = ModelCard.model_validate(json.loads(path.read_text()))
    if (card.input_size, card.mean, card.std) != (INPUT_SIZE, MEAN, STD):
        raise ValueError(f"{path}: model's input contract differs from pipeline.digit_input")
    head, marks = tuple(card.classes[: len(CLASSES)]), card.classes[len(CLASSES) :]
    if head != CLASSES or any(m not in MARKS for m in marks) or len(set(marks)) != len(marks):
        raise ValueError(
            f"{path}: classes {card.classes} are not {list(CLASSES)} followed by no-digit marks from {list(MARKS)}"
        )
    return card
