"""From box probabilities to field values and review reasons, on hand-made cases."""

from __future__ import annotations

import numpy as np

from pipeline.decoding import BoxEvidence, flag_broken_rules, read_field
from pipeline.digit_input import BLANK, CLASSES
from pipeline.rules import check_rules
from pipeline.templates import load_templates


def _box(label: int, p: float = 0.99, ink: bool | None = None) -> BoxEvidence:
    probs = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1), np.float32)
    probs[label] = p
    return BoxEvidence(probs, label != BLANK if ink is None else ink, (0, 0, 10, 10))


def test_leading_blanks_and_zeros() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(BLANK), _box(4), _box(1)])
    assert (f.value, f.text, f.needs_review) == (41, "_41", False)
    g = read_field("presidente", "PDC", "PDC", [_box(0), _box(0), _box(8)])
    assert (g.value, g.text) == (8, "008")


def test_all_blank_is_null() -> None:
    f = read_field("presidente", "MORENA", "MORENA", [_box(BLANK)] * 3)
    assert f.value is None and not f.needs_review


def test_blank_between_digits_is_flagged() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(1), _box(BLANK), _box(4)])
    assert f.needs_review and "blank box next to written digits" in f.reasons


def test_low_confidence_is_flagged() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(0), _box(4, p=0.6), _box(0)])
    assert f.needs_review and any(r.startswith("low confidence") for r in f.reasons)


def test_ink_read_as_blank_is_flagged() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(BLANK, ink=True), _box(4), _box(0)])
    assert f.needs_review and "ink in a box read as blank" in f.reasons


def test_broken_rule_flags_its_fields_only() -> None:
    runoff = load_templates()["bo2025-runoff"]
    values = {"presidente.PDC": 40, "presidente.LIBRE": 164, "presidente.VOTOS_VALIDOS": 205,
              "presidente.VOTOS_BLANCOS": 2, "presidente.VOTOS_NULOS": 3,
              "mesa.ELECTORES_HABILITADOS": 240, "mesa.PAPELETAS_EN_ANFORA": 210, "mesa.PAPELETAS_NO_UTILIZADAS": 30}
    checks = check_rules(runoff, values)
    assert [c.ok for c in checks] == [False, True, True]
    assert (checks[0].left, checks[0].right) == (205, 204)
    fields = [read_field(k.split(".")[0], k.split(".")[1], k, [_box(0)] * 3) for k in values]
    flagged = {f"{f.section}.{f.key}" for f in flag_broken_rules(fields, checks) if f.needs_review}
    assert flagged == {"presidente.VOTOS_VALIDOS", "presidente.PDC", "presidente.LIBRE"}
