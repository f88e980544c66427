"""The same bytes give the same reading whatever other forms are loaded, in whatever order, in one process
or another. (Each reference's FLANN index used to draw from one random state shared by all, so adding a
form changed how another form's scans registered, and so their readings.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.reader import ActaReader
from pipeline.schema import ActaReading
from pipeline.templates import load_templates
from tests.conftest import REPO, real_actas

SCANS = [path for path, _ in real_actas()]


def _drawn_form(directory: Path) -> Path:
    """A made-up form, its reference drawn here: rows of labelled boxes and some print. Its id sorts
    before the built-in ones, so its index is built first."""
    rng = np.random.default_rng(7)
    img = np.full((850, 1200), 255, np.uint8)
    for i in range(14):
        y = 60 + 55 * i
        cv2.putText(img, f"PARTIDO {rng.integers(100, 999)} LISTA", (40, y + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2)
        for j in range(3):
            cv2.rectangle(img, (700 + 52 * j, y), (745 + 52 * j, y + 45), 0, 2)
    cv2.imwrite(str(directory / "aa-drawn.png"), img)
    template = {
        "id": "aa-drawn",
        "title": "a form drawn by the determinism test",
        "sections": [{"key": "s", "title": "S", "fields": [{"key": "A", "label": "A", "digits": 3}]}],
        "variants": [
            {"id": "X", "reference": "aa-drawn.png", "size": [1200, 850], "boxes": {"s.A": [700, 60, 149, 45]}}
        ],
    }
    (directory / "aa-drawn.json").write_text(json.dumps(template))
    return directory


def _documents(reader: ActaReader) -> list[dict]:
    return [_document(reader.read(p.read_bytes())) for p in SCANS]


def _document(reading: ActaReading) -> dict:
    return reading.model_dump(mode="json", exclude={"timings_ms"})


@pytest.fixture(scope="module")
def with_builtins(reader: ActaReader) -> list[dict]:
    return _documents(reader)


def test_another_form_loaded_changes_no_reading(reader: ActaReader, with_builtins: list[dict], tmp_path: Path) -> None:
    more = load_templates(_drawn_form(tmp_path))
    assert next(iter(more)) == "aa-drawn" and len(more) == len(reader.templates) + 1
    assert _documents(ActaReader(reader.classifier, more, reader.config)) == with_builtins
    backwards = dict(reversed(list(more.items())))  # the references built in the other order
    assert _documents(ActaReader(reader.classifier, backwards, reader.config)) == with_builtins


def test_another_process_reads_the_same(with_builtins: list[dict]) -> None:
    scans = SCANS[:2]
    out = subprocess.run(
        [sys.executable, "-m", "actas.cli", "read", "--cpu", *map(str, scans)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    documents = [_document(ActaReading.model_validate_json(line)) for line in out.splitlines()]
    assert documents == with_builtins[: len(scans)]
