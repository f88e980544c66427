"""Constrained decoding over the form's rules, on hand-made box probabilities."""

from __future__ import annotations

import numpy as np

from pipeline.constraints import constrained_reading, top_values
from pipeline.templates import load_templates
from tests.pipeline.helpers import RUNOFF_PARTIES_OFF_BY_ONE, box_probs, runoff_probs
from tests.pipeline.helpers import box as _box

RUNOFF = load_templates()["bo2025-runoff"]


def test_the_fields_of_broken_rules_are_the_suspects() -> None:
    runoff = RUNOFF
    assert runoff.ruleset.fields_of_broken(RUNOFF_PARTIES_OFF_BY_ONE) == {
        "presidente.VOTOS_VALIDOS",
        "presidente.PDC",
        "presidente.LIBRE",
    }
    probs = {k: np.stack([_box(int(c)).probs for c in f"{v:03d}"]) for k, v in RUNOFF_PARTIES_OFF_BY_ONE.items()}
    assert top_values(probs) == RUNOFF_PARTIES_OFF_BY_ONE
    right = RUNOFF_PARTIES_OFF_BY_ONE | {"presidente.LIBRE": 165}
    assert runoff.ruleset.fields_of_broken(right) == set()


def test_consistent_reading_is_left_alone() -> None:
    assert constrained_reading(RUNOFF.ruleset, runoff_probs()) == []


def test_single_misread_digit_is_corrected_by_the_rules() -> None:
    # LIBRE's middle box read as 0 (p .70) though 6 had .28: 104 breaks valid = PDC + LIBRE.
    probs = runoff_probs(presidente__LIBRE=box_probs("104", {1: ("6", 0.28)}))
    fixes = constrained_reading(RUNOFF.ruleset, probs)
    assert len(fixes) == 1 and fixes[0].labels == {"presidente.LIBRE": (1, 6, 4)}
    fix = fixes[0]
    assert fix.odds > 1


def test_paper_with_wrong_sums_stays_as_written() -> None:
    # The jurors wrote 205 valid votes for 40 + 164, and every box is read with confidence.
    probs = runoff_probs(
        presidente__VOTOS_VALIDOS=box_probs("205"),
        mesa__PAPELETAS_EN_ANFORA=box_probs("210"),
        mesa__PAPELETAS_NO_UTILIZADAS=box_probs("030"),
    )
    assert constrained_reading(RUNOFF.ruleset, probs) == []


def test_ambiguous_correction_is_refused() -> None:
    # Either PDC 040 -> 041 or LIBRE 164 -> 165 would fix the sum equally well: no clear winner.
    probs = runoff_probs(
        presidente__VOTOS_VALIDOS=box_probs("205", p=0.99),
        presidente__PDC=box_probs("040", {2: ("1", 0.3)}),
        presidente__LIBRE=box_probs("164", {2: ("5", 0.3)}),
        mesa__PAPELETAS_EN_ANFORA=box_probs("210"),
        mesa__PAPELETAS_NO_UTILIZADAS=box_probs("030"),
    )
    assert constrained_reading(RUNOFF.ruleset, probs) == []
