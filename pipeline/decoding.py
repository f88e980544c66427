"""From per-box class probabilities to field values, with the reasons a field needs a human look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.digit_input import BLANK, CLASSES
from pipeline.schema import DigitReading, FieldReading, PixelBox, RuleCheck

# A field is trusted when the probability that every one of its boxes is read right is at least this.
FIELD_MIN_CONFIDENCE = 0.90


@dataclass(frozen=True)
class BoxEvidence:
    probs: npt.NDArray[np.float32]  # calibrated, over CLASSES
    ink: bool  # segmentation found a digit-like mark
    box: PixelBox


def read_digit(ev: BoxEvidence, label: int | None = None) -> DigitReading:
    """The box's reading: its most probable class, or `label` when a correction chose another."""
    order = [int(i) for i in np.argsort(ev.probs)[::-1]]
    best = order[0] if label is None else label
    alts = [(_char(i), round(float(ev.probs[i]), 4)) for i in order if i != best][:2]
    char = None if best == BLANK else CLASSES[best]
    return DigitReading(
        char=char, confidence=round(float(ev.probs[best]), 4), box=ev.box, ink=ev.ink, alternatives=alts
    )


def _char(i: int) -> str:
    return "_" if i == BLANK else CLASSES[i]


def text_and_value(digits: list[DigitReading]) -> tuple[str, int | None]:
    """What the boxes read ('_' for a blank box) and the count: blanks are skipped, None if all blank."""
    text = "".join(d.char or "_" for d in digits)
    written = text.replace("_", "")
    return text, int(written) if written else None


def read_field(section: str, key: str, label: str, boxes: list[BoxEvidence], located: bool = True) -> FieldReading:
    """`located`: the boxes' printed border was found; if not, the crop is unverified and flagged."""
    digits = [read_digit(b) for b in boxes]
    text, value = text_and_value(digits)
    written = text.lstrip("_")
    confidence = float(np.prod([d.confidence for d in digits]))
    reasons = []
    if "_" in written:
        reasons.append("blank box next to written digits")
    if any(d.ink and d.char is None for d in digits):
        reasons.append("ink in a box read as blank")
    if not located:
        reasons.append("printed box border not found: the crop may be off")
    if confidence < FIELD_MIN_CONFIDENCE:
        reasons.append(f"low confidence ({confidence:.2f})")
    return FieldReading(
        section=section,
        key=key,
        label=label,
        value=value,
        text=text,
        confidence=round(confidence, 4),
        needs_review=bool(reasons),
        reasons=reasons,
        digits=digits,
    )


def apply_correction(
    field: FieldReading, boxes: list[BoxEvidence], labels: tuple[int, ...], confidence: float, trusted: bool
) -> FieldReading:
    """The field as the constrained decoding reads it, the original reading kept beside it."""
    digits = [read_digit(b, lab) for b, lab in zip(boxes, labels, strict=True)]
    text, value = text_and_value(digits)
    reasons = [f"corrected by the form's rules from {field.text} to {text}"]
    if not trusted:
        reasons.append("correction margin thin")
    reasons += [r for r in field.reasons if r.startswith("printed box border")]  # still true after correction
    return field.model_copy(
        update={
            "value": value,
            "text": text,
            "digits": digits,
            "confidence": round(confidence, 4),
            "auto_corrected": True,
            "original_value": field.value,
            "original_text": field.text,
            "reasons": reasons,
            "needs_review": bool(reasons[1:]),
        }
    )


def flag_broken_rules(fields: list[FieldReading], checks: list[RuleCheck]) -> list[FieldReading]:
    """Every field of a broken rule needs review: the sum cannot tell which box is wrong."""
    broken: dict[str, list[str]] = {}
    for c in checks:
        if not c.ok:
            for name in c.fields:
                broken.setdefault(name, []).append(f"rule broken: {c.rule}")
    out = []
    for f in fields:
        extra = broken.get(f"{f.section}.{f.key}", [])
        out.append(f.model_copy(update={"reasons": f.reasons + extra, "needs_review": True}) if extra else f)
    return out
