"""From per-box class probabilities to field values, with the reasons a field needs a human look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.digit_input import BLANK, CLASSES
from pipeline.schema import DigitReading, FieldReading, PixelBox, RuleCheck

# Review thresholds on a field's confidence (the probability that every one of its boxes is read right).
# A field in a rule that holds is vouched for by the sum (a misread would have to be cancelled by
# another to pass), so it needs less confidence than one no holding rule checks. A field of a broken
# rule is flagged as a possible culprit unless it was read at least BROKEN_RULE_SURE_CONFIDENCE sure
# (the acta stays flagged and the broken rule listed either way); None would flag every such field.
# The boxes of a broken rule are read a second time in five test-time views (`pipeline/views.py`)
# before this is judged: a misread rarely stays that sure in all of them.
# Chosen with `python -m bench.thresholds` on 2 x 1,000 synthetic actas (seed 2026; README, "Counts
# you can trust"), as the cheapest triple (a silent error costs 100 flags) with at most 0.1% of fields
# wrong and unflagged and at most 5% flagged: 4.82% flagged, 0.026% unflagged. Flagging every field
# of a broken rule instead flagged 9.06% (0.014% unflagged); sparing from 0.99: 4.24%, 0.037%.
# Every field of these forms is in a rule, so FIELD_MIN_CONFIDENCE only meets fields of broken rules,
# which the sure threshold judges first; it stays at a conservative 0.90 for forms with rule-less fields.
FIELD_MIN_CONFIDENCE = 0.90  # fields that no holding rule checks
CHECKED_MIN_CONFIDENCE = 0.65  # fields in at least one rule that holds
LOW_CONFIDENCE = "low confidence"  # how that reason starts, for tools that weigh the thresholds
BROKEN_RULE_SURE_CONFIDENCE: float | None = 0.993
RULE_BROKEN = "rule broken"  # how that reason starts
CORRECTED = "corrected by the form's rules"  # how a correction's note starts: it alone flags nothing


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
    confidence = float(np.prod([d.confidence for d in digits]))
    reasons = []
    # Blank boxes before or after the number are how people right- or left-align it; a blank between
    # digits leaves the number itself in doubt (a digit missed, or two numbers).
    if "_" in text.strip("_"):
        reasons.append("blank box between written digits")
    if any(d.ink and d.char is None for d in digits):
        reasons.append("ink in a box read as blank")
    if not located:
        reasons.append("printed box border not found: the crop may be off")
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
    reasons = [f"{CORRECTED} from {field.text} to {text}"]
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


def vouched_fields(checks: list[RuleCheck]) -> set[str]:
    """Fields (section.KEY) in at least one rule that holds: the sum vouches for them, since a misread
    would have to be cancelled by another misread to pass."""
    return {name for c in checks if c.ok for name in c.fields}


def flag_low_confidence(fields: list[FieldReading], checks: list[RuleCheck]) -> list[FieldReading]:
    """Flag fields under the confidence threshold that applies to them (vouched for by a rule or not)."""
    vouched = vouched_fields(checks)
    out = []
    for f in fields:
        threshold = CHECKED_MIN_CONFIDENCE if f"{f.section}.{f.key}" in vouched else FIELD_MIN_CONFIDENCE
        if f.confidence < threshold:
            reason = f"{LOW_CONFIDENCE} ({f.confidence:.2f})"
            f = f.model_copy(update={"reasons": [*f.reasons, reason], "needs_review": True})
        out.append(f)
    return out


def unvouched_broken(checks: list[RuleCheck]) -> dict[str, list[str]]:
    """Fields (section.KEY) of broken rules that no holding rule vouches for, each with a reason per
    rule it breaks: the fields the sum cannot clear."""
    vouched = vouched_fields(checks)
    broken: dict[str, list[str]] = {}
    for c in checks:
        if not c.ok:
            for name in c.fields:
                if name not in vouched:
                    broken.setdefault(name, []).append(f"{RULE_BROKEN}: {c.rule}")
    return broken


def flag_broken_rules(
    fields: list[FieldReading], checks: list[RuleCheck], sure: float | None = BROKEN_RULE_SURE_CONFIDENCE
) -> list[FieldReading]:
    """The fields of a broken rule need review (the sum cannot tell which box is wrong), except those
    another rule that holds vouches for (the error is among the others) and those read at least `sure`
    (`BROKEN_RULE_SURE_CONFIDENCE`). The acta stays flagged and the broken rule is listed in its
    checks either way."""
    broken = unvouched_broken(checks)
    out = []
    for f in fields:
        extra = broken.get(f"{f.section}.{f.key}", [])
        if extra and (sure is None or f.confidence < sure):
            f = f.model_copy(update={"reasons": f.reasons + extra, "needs_review": True})
        out.append(f)
    return out
