"""Labelled digit cells for the classifier benchmarks, cut by the real pipeline.

Cells come from scans with a `truth.json`. A field's boxes are labelled only where the reading of that
field equals the truth (the text then says what each box holds, `_` for a blank box); other fields are
left out, so no label is a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.reader import ActaReader


@dataclass(frozen=True)
class ActaCells:
    file: Path
    canvases: npt.NDArray[np.uint8]  # (N, 32, 32): the model's input, white ink on black
    labels: list[str]  # one per canvas: "0"-"9", "_" for blank, "?" where the field was misread


def acta_cells(reader: ActaReader, path: Path) -> ActaCells:
    trace = reader.trace(path.read_bytes())
    reading, cells = trace.reading, trace.cells
    truth = _truth_counts(path)
    text = {}
    for f in reading.fields:
        ref = f"{f.section}.{f.key}"
        known = truth is not None and f.section in truth and f.key in truth[f.section]
        right = known and truth is not None and truth[f.section][f.key] == f.value
        text[ref] = list(f.text) if right else ["?"] * len(f.digits)
    labels = [text[c.field].pop(0) for c in cells]
    return ActaCells(path, np.stack([c.cell.canvas for c in cells]), labels)


def _truth_counts(path: Path) -> dict[str, dict[str, int | None]] | None:
    truth_file = path.parent / "truth.json"
    if not truth_file.is_file():
        return None
    entry = json.loads(truth_file.read_text(encoding="utf-8"))["actas"].get(path.name)
    return None if entry is None else entry["counts"]
