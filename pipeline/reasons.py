"""Why a field needs a human look: a code that tools key on, and a detail that people read.

The reading's JSON keeps `reasons` as human sentences and adds `reason_codes` beside them (same
order), so rewording a sentence changes neither the flags nor the threshold sweep (`bench.thresholds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    BLANK_BETWEEN_DIGITS = "blank_between_digits"  # a blank box inside the number: a digit missed, or two numbers
    INK_READ_AS_BLANK = "ink_read_as_blank"  # segmentation saw pen marks the classifier called blank
    BORDER_NOT_FOUND = "border_not_found"  # the printed box lines were not found: the crop may be off
    CORRECTED = "corrected"  # the form's rules changed the reading (alone, flags nothing)
    CORRECTION_THIN = "correction_thin"  # ...but the winning reading's margin was thin
    RULE_BROKEN = "rule_broken"  # in a sum that does not add up, and no holding sum vouches for it
    BOUND_BROKEN = "bound_broken"  # above a plausibility bound (e.g. more votes than electors)
    LOW_CONFIDENCE = "low_confidence"  # under the confidence threshold that applies to it
    MARK_UNCERTAIN = "mark_uncertain"  # a box looks somewhat like the form's no-digit mark (`X`), not surely
    REPEATED_DOUBT = "repeated_doubt"  # the same doubtful reading in several fields: a holding sum does not vouch
    NOTE_WRITTEN = "note_written"  # the jurors wrote in the notes box: a correction there overrides the boxes

    @property
    def flags(self) -> bool:
        """Whether a field with this reason needs review."""
        return self is not ReasonCode.CORRECTED


# Reasons that stay true of a field whatever value a correction gives it.
KEPT_AFTER_CORRECTION = frozenset({ReasonCode.BORDER_NOT_FOUND, ReasonCode.MARK_UNCERTAIN, ReasonCode.NOTE_WRITTEN})


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    detail: str  # the sentence shown to people
    rule: str | None = None  # the rule it is about, for RULE_BROKEN and BOUND_BROKEN

    @classmethod
    def blank_between_digits(cls) -> Reason:
        return cls(ReasonCode.BLANK_BETWEEN_DIGITS, "blank box between written digits")

    @classmethod
    def ink_read_as_blank(cls) -> Reason:
        return cls(ReasonCode.INK_READ_AS_BLANK, "ink in a box read as blank")

    @classmethod
    def border_not_found(cls) -> Reason:
        return cls(ReasonCode.BORDER_NOT_FOUND, "printed box border not found: the crop may be off")

    @classmethod
    def corrected(cls, before: str, after: str) -> Reason:
        return cls(ReasonCode.CORRECTED, f"corrected by the form's rules from {before} to {after}")

    @classmethod
    def correction_thin(cls) -> Reason:
        return cls(ReasonCode.CORRECTION_THIN, "correction margin thin")

    @classmethod
    def rule_broken(cls, rule: str) -> Reason:
        return cls(ReasonCode.RULE_BROKEN, f"rule broken: {rule}", rule)

    @classmethod
    def bound_broken(cls, rule: str) -> Reason:
        return cls(ReasonCode.BOUND_BROKEN, f"bound broken: {rule}", rule)

    @classmethod
    def mark_uncertain(cls) -> Reason:
        return cls(ReasonCode.MARK_UNCERTAIN, "a box may hold the form's no-digit mark (X), or a digit")

    @classmethod
    def repeated_doubt(cls, read: str, alternative: str, fields: int) -> Reason:
        return cls(
            ReasonCode.REPEATED_DOUBT,
            f"a {read} that may be a {alternative} in {fields} fields: a misread repeated across the acta "
            "can keep the sums true",
        )

    @classmethod
    def low_confidence(cls, confidence: float) -> Reason:
        return cls(ReasonCode.LOW_CONFIDENCE, f"low confidence ({confidence:.2f})")

    @classmethod
    def note_written(cls) -> Reason:
        return cls(
            ReasonCode.NOTE_WRITTEN,
            'a note is written under OBSERVACIONES: a correction there ("corre y vale") overrides the boxes',
        )
