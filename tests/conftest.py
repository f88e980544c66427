"""Shared fixtures: the real data in ../shared, the shipped model, one reader per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.reader import ActaReader, default_model

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ACTAS = SHARED / "data" / "actas"
MNIST = SHARED / "data" / "mnist"


def real_actas() -> list[tuple[Path, dict]]:
    """(image path, truth entry) for every real acta with a truth file."""
    out = []
    for truth_file in sorted(ACTAS.glob("*/truth.json")):
        truth = json.loads(truth_file.read_text())
        for name, entry in sorted(truth["actas"].items()):
            out.append((truth_file.parent / name, entry))
    return out


@pytest.fixture(scope="session")
def reader() -> ActaReader:
    return ActaReader.from_paths(default_model(), prefer_gpu=False)
