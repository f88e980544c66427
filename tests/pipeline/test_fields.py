"""From box probabilities to field values and the reasons the boxes alone give, on hand-made cases."""

from __future__ import annotations

import numpy as np

from pipeline.digit_input import BLANK
from pipeline.fields import BoxEvidence, apply_correction, read_field, value_of
from pipeline.reasons import ReasonCode
from tests.pipeline.helpers import box as _box
from tests.pipeline.helpers import box_probs as _probs


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


def test_ink_read_as_blank_is_flagged() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(BLANK, ink=True), _box(4), _box(0)])
    assert f.needs_review and "ink in a box read as blank" in f.reasons


def test_correction_keeps_the_original_and_flags_a_thin_margin() -> None:
    boxes = [BoxEvidence(p, True, (0, 0, 10, 10)) for p in _probs("104", {1: ("6", 0.28)})]
    field = read_field("presidente", "LIBRE", "LIBRE", boxes)
    fixed = apply_correction(field, boxes, (1, 6, 4), confidence=0.8, trusted=False)
    assert (fixed.value, fixed.text, fixed.original_value, fixed.original_text) == (164, "164", 104, "104")
    assert fixed.auto_corrected and fixed.needs_review and "correction margin thin" in fixed.reasons
    assert fixed.digits[1].char == "6" and fixed.digits[1].alternatives[0][0] == "0"


def test_value_of_is_the_one_labels_to_value_function() -> None:
    assert value_of([BLANK, 4, 1]) == 41
    assert value_of([0, 0, 8]) == 8
    assert value_of([BLANK] * 3) is None


def test_reason_codes_stand_beside_the_sentences() -> None:
    f = read_field("presidente", "PDC", "PDC", [_box(1), _box(BLANK, ink=True), _box(4)], located=False)
    assert f.reason_codes == [
        ReasonCode.BLANK_BETWEEN_DIGITS,
        ReasonCode.INK_READ_AS_BLANK,
        ReasonCode.BORDER_NOT_FOUND,
    ]
    assert len(f.reasons) == len(f.reason_codes) and f.needs_review


def test_a_trusted_correction_alone_flags_nothing_but_a_lost_border_stays() -> None:
    boxes = [BoxEvidence(p, True, (0, 0, 10, 10)) for p in _probs("104", {1: ("6", 0.28)})]
    field = read_field("presidente", "LIBRE", "LIBRE", boxes)
    fixed = apply_correction(field, boxes, (1, 6, 4), confidence=0.99, trusted=True)
    assert fixed.reason_codes == [ReasonCode.CORRECTED] and not fixed.needs_review
    lost = read_field("presidente", "LIBRE", "LIBRE", boxes, located=False)
    fixed = apply_correction(lost, boxes, (1, 6, 4), confidence=0.99, trusted=True)
    assert fixed.reason_codes == [ReasonCode.CORRECTED, ReasonCode.BORDER_NOT_FOUND] and fixed.needs_review
    assert np.isclose(fixed.confidence, 0.99)
