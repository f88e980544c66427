"""Shared fixtures: the real data in ../shared, the shipped model, one reader per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.reader import ActaReader

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ACTAS = SHARED / "data" / "actas"
MNIST = SHARED / "data" / "mnist"


# The per-acta tests run on the scans of the forms the shipped templates read, and only those: the 100
# 2019 scans are scored by `actas eval` and the benchmarks (CI has 90 minutes for everything).
PER_ACTA_SETS = ("bo2025-general", "bo2025-runoff")


def real_actas(sets: tuple[str, ...] = PER_ACTA_SETS) -> list[tuple[Path, dict]]:
    """(image path, truth entry) for every real acta of these sets (folders of ../shared/data/actas)."""
    out = []
    for truth_file in sorted(ACTAS / s / "truth.json" for s in sets):
        truth = json.loads(truth_file.read_text())
        for name, entry in sorted(truth["actas"].items()):
            out.append((truth_file.parent / name, entry))
    return out


@pytest.fixture(scope="session")
def reader() -> ActaReader:
    return ActaReader.from_config(ReaderConfig(model=SHIPPED_MODEL, prefer_gpu=False))
