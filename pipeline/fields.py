"""From per-box class probabilities to field values: digits, the text read, the count, and the reasons
that the boxes alone give for a human look. `value_of` is the one way box labels become a value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.digit_input import BLANK, CLASSES
from pipeline.reasons import KEPT_AFTER_CORRECTION, Reason
from pipeline.schema import DigitReading, FieldReading, PixelBox


@dataclass(frozen=True)
class BoxEvidence:
    probs: npt.NDArray[np.float32]  # calibrated, over CLASSES
    ink: bool  # segmentation found a digit-like mark
    box: PixelBox
    mark: bool = False  # the form's no-digit mark (an `X`): read as no digit, not as ink read as blank
    maybe_mark: bool = False  # something like the mark, not sure: the classifier's reading stands, flagged


def value_of(labels: Sequence[int]) -> int | None:
    """Class indices of a field's boxes -> its count: blank boxes are skipped, None when all are blank."""
    digits = [CLASSES[i] for i in labels if i != BLANK]
    return int("".join(digits)) if digits else None


def labels_for_text(text: str, ink: Sequence[bool]) -> list[str] | None:
    """A field's known value as written in its boxes -> a label per box (CLASSES' names), the inverse of
    `value_of` for training data: the value's digits right-aligned; a box left of them `0` where the
    reader saw ink (jurors write `008`), `blank` where it saw none. None when the value has more digits
    than boxes, or needs a box the reader found empty (the boxes or the value are in doubt)."""
    if len(text) > len(ink):
        return None
    pad = len(ink) - len(text)
    if not all(ink[pad:]):
        return None
    return ["0" if seen else CLASSES[BLANK] for seen in ink[:pad]] + list(text)


def text_of(labels: Sequence[int]) -> str:
    """What the boxes read, '_' for a blank box."""
    return "".join("_" if i == BLANK else CLASSES[i] for i in labels)


def read_digit(ev: BoxEvidence, label: int | None = None) -> DigitReading:
    """The box's reading: its most probable class, or `label` when a correction chose another."""
    order = [int(i) for i in np.argsort(ev.probs)[::-1]]
    best = order[0] if label is None else label
    alts = [(text_of([i]), round(float(ev.probs[i]), 4)) for i in order if i != best][:2]
    char = None if best == BLANK else CLASSES[best]
    return DigitReading(
        char=char, confidence=round(float(ev.probs[best]), 4), box=ev.box, ink=ev.ink, alternatives=alts
    )


def labels_of(digits: Sequence[DigitReading]) -> list[int]:
    return [BLANK if d.char is None else CLASSES.index(d.char) for d in digits]


def with_reasons(field: FieldReading, reasons: Sequence[Reason], **update: object) -> FieldReading:
    """The field with these reasons added (sentences and codes side by side) and `needs_review` recomputed
    from the codes."""
    codes = [*field.reason_codes, *(r.code for r in reasons)]
    return field.model_copy(
        update={
            **update,
            "reasons": [*field.reasons, *(r.detail for r in reasons)],
            "reason_codes": codes,
            "needs_review": any(c.flags for c in codes),
        }
    )


def read_field(section: str, key: str, label: str, boxes: list[BoxEvidence], located: bool = True) -> FieldReading:
    """`located`: the boxes' printed border was found; if not, the crop is unverified and flagged."""
    digits = [read_digit(b) for b in boxes]
    labels = labels_of(digits)
    text = text_of(labels)
    confidence = float(np.prod([d.confidence for d in digits]))
    reasons = []
    # Blank boxes before or after the number are how people right- or left-align it; a blank between
    # digits leaves the number itself in doubt (a digit missed, or two numbers).
    if "_" in text.strip("_"):
        reasons.append(Reason.blank_between_digits())
    if any(d.ink and d.char is None and not b.mark for d, b in zip(digits, boxes, strict=True)):
        reasons.append(Reason.ink_read_as_blank())
    if any(b.maybe_mark for b in boxes):
        reasons.append(Reason.mark_uncertain())
    if not located:
        reasons.append(Reason.border_not_found())
    field = FieldReading(
        section=section,
        key=key,
        label=label,
        value=value_of(labels),
        text=text,
        confidence=round(confidence, 4),
        needs_review=False,
        digits=digits,
    )
    return with_reasons(field, reasons)


def apply_correction(
    field: FieldReading, boxes: list[BoxEvidence], labels: tuple[int, ...], confidence: float, trusted: bool
) -> FieldReading:
    """The field as the constrained decoding reads it, the original reading kept beside it."""
    digits = [read_digit(b, lab) for b, lab in zip(boxes, labels, strict=True)]
    text = text_of(labels)
    reasons = [Reason.corrected(field.text, text)]
    if not trusted:
        reasons.append(Reason.correction_thin())
    kept = [  # still true after correction
        Reason(c, d) for c, d in zip(field.reason_codes, field.reasons, strict=True) if c in KEPT_AFTER_CORRECTION
    ]
    cleared = field.model_copy(update={"reasons": [], "reason_codes": []})
    return with_reasons(
        cleared,
        [*reasons, *kept],
        value=value_of(labels),
        text=text,
        digits=digits,
        confidence=round(confidence, 4),
        auto_corrected=True,
        original_value=field.value,
        original_text=field.text,
    )
