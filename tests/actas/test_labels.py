"""The hand-label files in `labels/`: each parses, and each key names a box of a real scan of its form."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from actas.harvest import read_hand_labels
from pipeline.templates import load_templates
from tests.conftest import ACTAS, REPO

LABEL_FILES = sorted((REPO / "labels").glob("*.tsv"))


@pytest.mark.parametrize("path", LABEL_FILES, ids=lambda p: p.name)
def test_every_hand_label_names_a_box_of_a_scan_of_its_form(path: Path) -> None:
    form = path.stem  # a label file is named after the scans' folder, the form's id
    labels = read_hand_labels([path])
    assert labels
    shas = {hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in (ACTAS / form).glob("*.jpg")}
    tpl = load_templates()[form]
    for key in labels:
        sha, field, box = key.split(":")
        assert sha in shas, key  # a scan of ../shared/data/actas/<form>
        assert field in tpl.fields and 0 <= int(box) < tpl.fields[field][1].digits, key
