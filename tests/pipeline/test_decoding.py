"""From box probabilities to field values and review reasons, on hand-made cases."""

from __future__ import annotations

import numpy as np

from pipeline.constraints import constrained_reading, fields_of_broken_rules, top_values
from pipeline.decoding import (
    CHECKED_MIN_CONFIDENCE,
    FIELD_MIN_CONFIDENCE,
    BoxEvidence,
    apply_correction,
    flag_broken_rules,
    flag_low_confidence,
    read_field,
)
from pipeline.digit_input import BLANK, CLASSES
from pipeline.rules import check_rules
from pipeline.schema import RuleCheck
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
    assert f.needs_review and "blank box between written digits" in f.reasons


def test_a_left_aligned_number_reads_as_written() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(8), _box(BLANK), _box(BLANK)])
    assert (f.value, f.text, f.needs_review) == (8, "8__", False)
    g = read_field("presidente", "PDC", "PDC", [_box(1), _box(2), _box(BLANK)])
    assert (g.value, g.needs_review) == (12, False)


def test_low_confidence_is_flagged_against_the_threshold_that_applies() -> None:
    unsure = read_field("presidente", "PDC", "PDC", [_box(0), _box(4, p=0.8), _box(0)])
    sure = read_field("presidente", "LIBRE", "LIBRE", [_box(0), _box(4), _box(0)])
    assert not unsure.needs_review  # read_field only reads; the review stage judges confidence
    assert CHECKED_MIN_CONFIDENCE <= unsure.confidence < FIELD_MIN_CONFIDENCE  # between the two thresholds
    ok = RuleCheck(rule="r", ok=True, left=8, right=8, fields=["presidente.PDC", "presidente.LIBRE"])
    broken = ok.model_copy(update={"ok": False})
    unchecked = RuleCheck(rule="s", ok=False, left=1, right=2, fields=["presidente.PDC"])
    for checks, threshold in (
        ([ok], CHECKED_MIN_CONFIDENCE),
        ([broken], FIELD_MIN_CONFIDENCE),
        ([ok, unchecked], CHECKED_MIN_CONFIDENCE),
        ([], FIELD_MIN_CONFIDENCE),
    ):
        got = {f.key: f for f in flag_low_confidence([unsure, sure], checks)}
        assert got["PDC"].needs_review == (unsure.confidence < threshold), checks
        assert any(r.startswith("low confidence") for r in got["PDC"].reasons) == (unsure.confidence < threshold)
        assert not got["LIBRE"].needs_review


def test_ink_read_as_blank_is_flagged() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(BLANK, ink=True), _box(4), _box(0)])
    assert f.needs_review and "ink in a box read as blank" in f.reasons


# A runoff acta whose parties add up to 204 where VOTOS_VALIDOS says 205; the other two rules hold.
_RUNOFF_PARTIES_OFF_BY_ONE = {
    "presidente.PDC": 40,
    "presidente.LIBRE": 164,
    "presidente.VOTOS_VALIDOS": 205,
    "presidente.VOTOS_BLANCOS": 2,
    "presidente.VOTOS_NULOS": 3,
    "mesa.ELECTORES_HABILITADOS": 240,
    "mesa.PAPELETAS_EN_ANFORA": 210,
    "mesa.PAPELETAS_NO_UTILIZADAS": 30,
}


def test_broken_rule_flags_its_fields_but_those_a_holding_rule_vouches_for() -> None:
    runoff = load_templates()["bo2025-runoff"]
    values = _RUNOFF_PARTIES_OFF_BY_ONE
    checks = check_rules(runoff, values)
    assert [c.ok for c in checks] == [False, True, True]
    assert (checks[0].left, checks[0].right) == (205, 204)
    fields = [read_field(k.split(".")[0], k.split(".")[1], k, [_box(0)] * 3) for k in values]
    flagged = {f"{f.section}.{f.key}" for f in flag_broken_rules(fields, checks) if f.needs_review}
    # VOTOS_VALIDOS is also in the ballots rule, which holds: it vouches for it, so the error is PDC or LIBRE
    assert flagged == {"presidente.PDC", "presidente.LIBRE"}
    checks = check_rules(runoff, values | {"presidente.VOTOS_NULOS": 4})  # now the ballots rule breaks too
    assert [c.ok for c in checks] == [False, False, True]
    flagged = {f"{f.section}.{f.key}" for f in flag_broken_rules(fields, checks) if f.needs_review}
    assert flagged == {
        "presidente.VOTOS_VALIDOS",
        "presidente.PDC",
        "presidente.LIBRE",
        "presidente.VOTOS_BLANCOS",
        "presidente.VOTOS_NULOS",
    }


def test_the_fields_of_broken_rules_are_the_suspects() -> None:
    runoff = load_templates()["bo2025-runoff"]
    assert fields_of_broken_rules(runoff, _RUNOFF_PARTIES_OFF_BY_ONE) == {
        "presidente.VOTOS_VALIDOS",
        "presidente.PDC",
        "presidente.LIBRE",
    }
    probs = {k: np.stack([_box(int(c)).probs for c in f"{v:03d}"]) for k, v in _RUNOFF_PARTIES_OFF_BY_ONE.items()}
    assert top_values(probs) == _RUNOFF_PARTIES_OFF_BY_ONE
    right = _RUNOFF_PARTIES_OFF_BY_ONE | {"presidente.LIBRE": 165}
    assert fields_of_broken_rules(runoff, right) == set()


def test_a_broken_rule_flags_only_the_fields_it_could_be_when_given_a_sure_threshold() -> None:
    runoff = load_templates()["bo2025-runoff"]
    values = _RUNOFF_PARTIES_OFF_BY_ONE
    checks = check_rules(runoff, values)
    assert [c.ok for c in checks] == [False, True, True]
    # every box read 0.999 sure but PDC's, read 0.95: among the unvouched PDC and LIBRE, PDC is the suspect
    fields = [
        read_field(k.split(".")[0], k.split(".")[1], k, [_box(0, 0.95 if k == "presidente.PDC" else 0.999)] * 3)
        for k in values
    ]
    everyone = {f"{f.section}.{f.key}" for f in flag_broken_rules(fields, checks, sure=None) if f.needs_review}
    assert everyone == {"presidente.PDC", "presidente.LIBRE"}
    culprits = [f for f in flag_broken_rules(fields, checks, sure=0.99) if f.needs_review]
    assert [f.key for f in culprits] == ["PDC"]
    assert culprits[0].reasons == [f"rule broken: {checks[0].rule}"]


# -- constrained decoding -------------------------------------------------------------------------


def _probs(text: str, alt: dict[int, tuple[str, float]] | None = None, p: float = 0.97) -> np.ndarray:
    """Box probabilities for `text` ('_' blank), with optional (box -> (class, probability)) runners-up."""
    out = np.full((len(text), len(CLASSES)), (1 - p) / (len(CLASSES) - 1), np.float32)
    for i, ch in enumerate(text):
        out[i, BLANK if ch == "_" else int(ch)] = p
    for i, (ch, q) in (alt or {}).items():
        top = int(out[i].argmax())
        out[i, BLANK if ch == "_" else int(ch)] = q
        out[i, top] = 1 - q - (len(CLASSES) - 2) * (1 - p) / (len(CLASSES) - 1)
    return out


def _runoff_probs(**overrides: np.ndarray) -> dict[str, np.ndarray]:
    """A consistent runoff acta: 40 + 164 = 204; 204 + 2 + 3 = 209; 209 + 31 = 240."""
    texts = {
        "presidente.PDC": "040",
        "presidente.LIBRE": "164",
        "presidente.VOTOS_VALIDOS": "204",
        "presidente.VOTOS_BLANCOS": "002",
        "presidente.VOTOS_NULOS": "003",
        "mesa.ELECTORES_HABILITADOS": "240",
        "mesa.PAPELETAS_EN_ANFORA": "209",
        "mesa.PAPELETAS_NO_UTILIZADAS": "031",
    }
    probs = {k: _probs(v) for k, v in texts.items()}
    probs.update({k.replace("__", "."): v for k, v in overrides.items()})
    return probs


def test_consistent_reading_is_left_alone() -> None:
    assert constrained_reading(load_templates()["bo2025-runoff"], _runoff_probs()) == []


def test_single_misread_digit_is_corrected_by_the_rules() -> None:
    # LIBRE's middle box read as 0 (p .70) though 6 had .28: 104 breaks valid = PDC + LIBRE.
    probs = _runoff_probs(presidente__LIBRE=_probs("104", {1: ("6", 0.28)}))
    fixes = constrained_reading(load_templates()["bo2025-runoff"], probs)
    assert len(fixes) == 1 and fixes[0].labels == {"presidente.LIBRE": (1, 6, 4)}
    fix = fixes[0]
    assert fix.odds > 1


def test_paper_with_wrong_sums_stays_as_written() -> None:
    # The jurors wrote 205 valid votes for 40 + 164, and every box is read with confidence.
    probs = _runoff_probs(
        presidente__VOTOS_VALIDOS=_probs("205"),
        mesa__PAPELETAS_EN_ANFORA=_probs("210"),
        mesa__PAPELETAS_NO_UTILIZADAS=_probs("030"),
    )
    assert constrained_reading(load_templates()["bo2025-runoff"], probs) == []


def test_ambiguous_correction_is_refused() -> None:
    # Either PDC 040 -> 041 or LIBRE 164 -> 165 would fix the sum equally well: no clear winner.
    probs = _runoff_probs(
        presidente__VOTOS_VALIDOS=_probs("205", p=0.99),
        presidente__PDC=_probs("040", {2: ("1", 0.3)}),
        presidente__LIBRE=_probs("164", {2: ("5", 0.3)}),
        mesa__PAPELETAS_EN_ANFORA=_probs("210"),
        mesa__PAPELETAS_NO_UTILIZADAS=_probs("030"),
    )
    assert constrained_reading(load_templates()["bo2025-runoff"], probs) == []


def test_correction_keeps_the_original_and_flags_a_thin_margin() -> None:
    boxes = [BoxEvidence(p, True, (0, 0, 10, 10)) for p in _probs("104", {1: ("6", 0.28)})]
    field = read_field("presidente", "LIBRE", "LIBRE", boxes)
    fixed = apply_correction(field, boxes, (1, 6, 4), confidence=0.8, trusted=False)
    assert (fixed.value, fixed.text, fixed.original_value, fixed.original_text) == (164, "164", 104, "104")
    assert fixed.auto_corrected and fixed.needs_review and "correction margin thin" in fixed.reasons
    assert fixed.digits[1].char == "6" and fixed.digits[1].alternatives[0][0] == "0"
