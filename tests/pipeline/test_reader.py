"""End to end on the real actas: every field of the truth files read right, the output's shape."""

from __future__ import annotations

import hashlib

import cv2
import pytest

from pipeline.digit_input import INPUT_SIZE
from pipeline.errors import NotAForm, UnprocessableImage
from pipeline.fields import text_of
from pipeline.reader import ActaReader, by_field
from tests.conftest import real_actas

CASES = real_actas()


@pytest.mark.parametrize(("path", "truth"), CASES, ids=[p.name for p, _ in CASES])
def test_real_acta_reads_every_field(reader: ActaReader, path, truth) -> None:
    data = path.read_bytes()
    reading = reader.read(data)
    assert reading.acta_id == hashlib.sha256(data).hexdigest()
    assert reading.template == path.parent.name
    got = {s: {k: reading.counts[s][k] for k in kv} for s, kv in truth["counts"].items()}
    assert got == truth["counts"]
    if reading.mesa_code is not None:
        assert reading.mesa_code == truth["mesa_code"]


def test_reading_document_shape(reader: ActaReader) -> None:
    path, _truth = CASES[0]
    reading = reader.read(path.read_bytes())
    fields = {f"{f.section}.{f.key}": f for f in reading.fields}
    assert set(fields) == set(reader.templates[reading.template].field_keys)
    for f in reading.fields:
        assert len(f.digits) == 3 and len(f.text) == 3
        assert 0 <= f.confidence <= 1
        assert len(f.reasons) == len(f.reason_codes)
        assert f.needs_review == any(code.flags for code in f.reason_codes)
        for d in f.digits:
            x, y, w, h = d.box  # in the uploaded image's pixels
            assert x >= 0 and y >= 0 and w > 10 and h > 10
    assert reading.needs_review == (
        any(f.needs_review for f in reading.fields) or not all(c.ok for c in reading.checks)
    )
    assert set(reading.timings_ms) >= {"decode", "register", "cells", "classify", "total"}
    assert fields["presidente.MORENA"].value is None  # left blank by hand on this acta


def test_paper_with_wrong_sums_is_flagged(reader: ActaReader) -> None:
    """mesa_100014: 99 ballots in the box + 164 unused != 264 electors (the jurors noted 263 received)."""
    path = next(p for p, _ in CASES if p.name == "mesa_100014.jpg")
    reading = reader.read(path.read_bytes())
    mesa_rule = next(c for c in reading.checks if c.rule.startswith("mesa:"))
    assert not mesa_rule.ok and reading.needs_review


def test_wrong_forced_template_is_refused(reader: ActaReader) -> None:
    path = next(p for p, _ in CASES if p.parent.name == "bo2025-general")
    with pytest.raises(NotAForm):
        reader.read(path.read_bytes(), template="bo2025-runoff")


def test_trace_holds_every_intermediate_and_read_is_its_last(reader: ActaReader) -> None:
    path = next(p for p, _ in CASES if p.name == "mesa_1000551.jpg")
    data = path.read_bytes()
    trace = reader.trace(data)
    tpl = reader.templates[trace.reading.template]
    assert trace.registration.template.id == tpl.id and trace.scan.ndim == 3
    assert list(trace.groups) == tpl.field_keys
    assert len(trace.cells) == sum(spec.digits for _, spec in tpl.fields.values()) == len(trace.probs)
    # over the reader's classes; a cross's share is left out on a form that does not declare it
    assert (trace.probs.sum(axis=1) <= 1 + 1e-4).all() and trace.probs.sum(axis=1).min() > 0.9
    assert all(c.cell.canvas.shape == (INPUT_SIZE, INPUT_SIZE) for c in trace.cells)
    best = by_field([c.field for c in trace.cells], trace.probs)
    for f in trace.reading.fields:  # each box's most probable class is what the field reads
        if not f.auto_corrected:
            assert f.text == text_of([int(i) for i in best[f"{f.section}.{f.key}"].argmax(axis=1)])
    again = reader.read(data)
    assert again.model_dump(exclude={"timings_ms"}) == trace.reading.model_dump(exclude={"timings_ms"})
    assert list(trace.reading.timings_ms) == ["decode", "register", "cells", "classify", "checks", "total"]


def test_an_opencv_failure_is_the_readers_own_error(reader: ActaReader, monkeypatch: pytest.MonkeyPatch) -> None:
    def degenerate(*_args: object, **_kwargs: object) -> None:
        raise cv2.error("OpenCV(5.0) warp.cpp:1: error: (-215:Assertion failed) dsize.area() > 0")

    monkeypatch.setattr("pipeline.reader.segment_groups", degenerate)
    path = CASES[0][0]
    with pytest.raises(UnprocessableImage, match="could not be processed"):
        reader.read(path.read_bytes())
