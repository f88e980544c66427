"""Reviewed fields become training data: `python -m service.review.harvest` over the service's database."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from pipeline.schema import DigitReading
from service.db import session_factory
from service.models import Role
from service.review.harvest import box_labels, harvest, main
from tests.review.conftest import BROKEN
from tests.service.conftest import Api


def _digit(char: str | None, ink: bool) -> DigitReading:
    return DigitReading(char=char, confidence=0.9, box=(0, 0, 10, 10), ink=ink)


def test_box_labels_follow_the_ink_the_reader_saw() -> None:
    three = [_digit("0", True), _digit("1", True), _digit("4", True)]
    assert box_labels(14, three) == ["0", "1", "4"]  # a written leading zero
    blank_lead = [_digit(None, False), _digit("4", True), _digit("1", True)]
    assert box_labels(41, blank_lead) == ["_", "4", "1"]
    assert box_labels(141, blank_lead) is None  # a digit where the reader saw an empty box: left out
    assert box_labels(1234, three) is None  # more digits than boxes
    assert box_labels(None, [_digit(None, False)] * 3) == ["_", "_", "_"]


def test_harvest_writes_each_reviewed_box_at_the_scans_resolution(api: Api, tmp_path: Path, database_url: str) -> None:
    upload = api.upload(BROKEN.read_bytes()).json()
    acta_id = upload["acta_id"]
    body = {"fields": [{"field": "presidente.PDC", "value": 14}, {"field": "mesa.ELECTORES_HABILITADOS", "value": 264}]}
    r = api.client.put(f"/actas/{acta_id}/review", json=body, headers=api.headers(Role.reviewer))
    assert r.status_code == 200, r.text

    out = tmp_path / "out" / "dataset"
    (out / "stale").mkdir(parents=True)  # an earlier dataset: replaced whole
    with session_factory(api.client.app.state.engine)() as session:  # type: ignore[attr-defined]
        summary = harvest(session, out)
    assert (summary.fields, summary.boxes, summary.skipped_fields) == (2, 6, 0)
    assert not (out / "stale").exists() and sorted(p.name for p in out.parent.iterdir()) == ["dataset"]
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    labels = {(x["field"], x["box"]): x["label"] for x in lines}
    assert [labels["mesa.ELECTORES_HABILITADOS", i] for i in range(3)] == ["2", "6", "4"]
    assert all(x["source"] == "review" and x["reviewer"] == "test-reviewer" for x in lines)
    assert all(x["scan_sha256"] == acta_id and x["form"] == "bo2025-runoff" and x["at"] for x in lines)
    boxes = {(f"{f['section']}.{f['key']}", i): d["box"] for f in upload["fields"] for i, d in enumerate(f["digits"])}
    for x in lines:
        crop = cv2.imread(str(out / x["crop"]))
        assert crop is not None
        _, _, w, h = boxes[x["field"], x["box"]]
        assert crop.shape[:2] == (h, w)  # the box as it is on the scan, no resampling

    assert main(["--out", str(out), "--database-url", database_url]) == 0  # the command, rerun
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 6


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_harvest_of_a_database_without_reviews_is_an_empty_dataset(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path / "d"), "--database-url", database_url]) == 0
    assert (tmp_path / "d" / "manifest.jsonl").read_text() == ""
    assert json.loads(capsys.readouterr().out)["boxes"] == 0
