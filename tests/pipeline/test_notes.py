"""The notes box (OBSERVACIONES): written notes found on real scans, an empty box left alone, a strike-out
across an empty box not taken for writing, and a written note flagging every field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from pipeline.notes import notes_ink
from pipeline.reader import ActaReader
from pipeline.reasons import ReasonCode
from pipeline.registration import Registration
from pipeline.templates import TemplateError, load_template, load_templates
from tests.conftest import ACTAS
from tests.images import imread

Y2019 = ACTAS / "bo2019-general"
NOTED = "mesa_52078.jpg"  # "los votos de 21F corresponde a la casilla del MAS-IPSP, corre y vale"
EMPTY = "mesa_35777.jpg"  # nothing written under OBSERVACIONES


def registered(reader: ActaReader, name: str) -> tuple[npt.NDArray[np.uint8], Registration]:
    scan = imread(Y2019 / name)
    reg, _ = reader.locate(scan)
    return scan, reg


def to_scan(reg: Registration, points: list[tuple[float, float]]) -> list[tuple[int, int]]:
    pts = cv2.perspectiveTransform(np.array([points], np.float64), np.linalg.inv(reg.scan_to_ref))[0]
    return [(int(x), int(y)) for x, y in pts]


def test_a_written_note_is_found_and_an_empty_box_is_not(reader: ActaReader) -> None:
    for name, written in ((NOTED, True), (EMPTY, False)):
        scan, reg = registered(reader, name)
        assert reg.variant.notes is not None
        ink = notes_ink(scan, reg.scan_to_ref, reg.variant.notes)
        assert ink.written is written, (name, ink)
        x, y, w, h = ink.box  # the box in the scan's pixels, inside it
        assert min(x, y) >= 0 and x + w <= scan.shape[1] and y + h <= scan.shape[0] and w > h > 0


def test_a_strike_out_is_not_a_note_and_words_are(reader: ActaReader) -> None:
    scan, reg = registered(reader, EMPTY)
    assert reg.variant.notes is not None
    x, y, w, h = reg.variant.notes
    struck = scan.copy()  # jurors strike the empty box so that nothing can be added
    a, b = to_scan(reg, [(x + 10, y + h - 10), (x + w - 10, y + 10)])
    cv2.line(struck, a, b, (120, 40, 20), 4, cv2.LINE_AA)
    ink = notes_ink(struck, reg.scan_to_ref, reg.variant.notes)
    assert not ink.written and ink.strikes >= 1, ink
    noted = scan.copy()
    (ox, oy), (ex, _) = to_scan(reg, [(x + 20, y + 40), (x + w - 20, y + 40)])
    scale = (ex - ox) / 900  # a line of handwriting-like text across the box, at the scan's size
    text, font = "los votos del MAS son 14, corre y vale", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
    cv2.putText(noted, text, (ox, oy), font, 1.6 * scale, (90, 30, 10), max(2, int(3 * scale)), cv2.LINE_AA)
    assert notes_ink(noted, reg.scan_to_ref, reg.variant.notes).written


def test_a_faint_grey_scan_keeps_its_note(reader: ActaReader) -> None:
    scan, reg = registered(reader, NOTED)
    assert reg.variant.notes is not None
    faint = np.clip(scan.astype(np.float32) * 0.55 + 90, 0, 255).astype(np.uint8)  # washed-out, grey paper
    assert notes_ink(faint, reg.scan_to_ref, reg.variant.notes).written


def test_a_written_note_flags_every_field_and_the_switch_turns_it_off(reader: ActaReader) -> None:
    data = (Y2019 / NOTED).read_bytes()
    reading = reader.read(data)
    assert reading.notes is not None and reading.notes.written
    assert reading.needs_review and all(ReasonCode.NOTE_WRITTEN in f.reason_codes for f in reading.fields)
    off = ActaReader(reader.classifier, reader.templates, replace(reader.config, flag_notes=False))
    quiet = off.read(data)
    assert quiet.notes is None and not any(ReasonCode.NOTE_WRITTEN in f.reason_codes for f in quiet.fields)
    assert [f.value for f in quiet.fields] == [f.value for f in reading.fields]  # the note changes flags only
    empty = reader.read((Y2019 / EMPTY).read_bytes())
    assert empty.notes is not None and not empty.notes.written
    assert not any(ReasonCode.NOTE_WRITTEN in f.reason_codes for f in empty.fields)


def test_a_notes_box_outside_the_frame_is_refused(tmp_path: Path) -> None:
    tpl = load_templates()["bo2019-general"]
    src = (tpl.directory / "bo2019-general.json").read_text(encoding="utf-8")
    bad = src.replace('"notes": [40, 836, 845, 132]', '"notes": [40, 836, 1845, 132]', 1)
    assert bad != src
    (tmp_path / "bo2019-general.json").write_text(bad, encoding="utf-8")
    with pytest.raises(TemplateError, match="notes box"):
        load_template(tmp_path / "bo2019-general.json")
