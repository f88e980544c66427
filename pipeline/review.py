"""Checks -> review flags: which fields a person must look at, given the rules' checks and the
thresholds of `pipeline.thresholds`, and the acta's notes box. The acta itself needs review when a field
does or a rule breaks."""

from __future__ import annotations

from pipeline.fields import with_reasons
from pipeline.reasons import Reason
from pipeline.rules import in_doubt, sparable, vouched_fields
from pipeline.schema import FieldReading, RuleCheck
from pipeline.thresholds import (
    BROKEN_RULE_SURE_CONFIDENCE,
    CHECKED_MIN_CONFIDENCE,
    FIELD_MIN_CONFIDENCE,
    REPEATED_DOUBT_CONFIDENCE,
)


def flag_broken_rules(
    fields: list[FieldReading], checks: list[RuleCheck], sure: float | None = BROKEN_RULE_SURE_CONFIDENCE
) -> list[FieldReading]:
    """The fields a broken rule puts in doubt need review (the sum cannot tell which box is wrong),
    except those read at least `sure` of broken sums that one misread box could explain
    (`pipeline.rules.sparable`). A broken bound flags its fields however sure (a misread repeated
    across the acta reads sure every time), and so does a sum whose sides are further apart than one
    box: several boxes are wrong, and on real scans misreads at 0.993 and more were among them
    (bo2019-general: 4 such fields went unflagged before this). The acta stays flagged and the broken
    rule is listed in its checks either way."""
    doubt = in_doubt(checks)
    out = []
    for f in fields:
        reasons = doubt.get(f"{f.section}.{f.key}", [])
        spared = sure is not None and f.confidence >= sure and sparable(reasons, checks)
        if reasons and not spared:
            f = with_reasons(f, reasons)
        out.append(f)
    return out


def min_confidence(name: str, vouched: set[str]) -> float:
    """The confidence a field needs to pass unflagged: less when a holding sum vouches for it."""
    return CHECKED_MIN_CONFIDENCE if name in vouched else FIELD_MIN_CONFIDENCE


def doubts(field: FieldReading, under: float = REPEATED_DOUBT_CONFIDENCE) -> set[tuple[str, str]]:
    """The field's doubtful readings: (read, next best) for each digit read under `under`."""
    return {
        (d.char, d.alternatives[0][0])
        for d in field.digits
        if d.char is not None and d.confidence < under and d.alternatives
    }


def repeated_doubts(fields: list[FieldReading], under: float = REPEATED_DOUBT_CONFIDENCE) -> dict[str, Reason]:
    """Fields (section.KEY) sharing a doubtful reading with another field of the acta: the same confusion
    twice is what a misread repeated across the acta looks like, and such errors agree with each other."""
    by_doubt: dict[tuple[str, str], list[str]] = {}
    for f in fields:
        for doubt in doubts(f, under):
            by_doubt.setdefault(doubt, []).append(f"{f.section}.{f.key}")
    out: dict[str, Reason] = {}
    for (read, alt), names in sorted(by_doubt.items()):
        if len(names) > 1:
            for name in names:
                out.setdefault(name, Reason.repeated_doubt(read, "blank" if alt == "_" else alt, len(names)))
    return out


def flag_repeated_doubts(
    fields: list[FieldReading], checks: list[RuleCheck], under: float | None = REPEATED_DOUBT_CONFIDENCE
) -> list[FieldReading]:
    """A field that a holding sum vouches for, read under FIELD_MIN_CONFIDENCE, with a doubt it shares
    with another field: the sum's vouching does not hold against errors that agree, so it is flagged
    (the others fall to `flag_low_confidence` anyway). `under=None` turns the check off (benchmarks)."""
    if under is None:
        return fields
    vouched = vouched_fields(checks)
    repeated = repeated_doubts(fields, under)
    out = []
    for f in fields:
        name = f"{f.section}.{f.key}"
        if name in repeated and name in vouched and f.confidence < FIELD_MIN_CONFIDENCE:
            f = with_reasons(f, [repeated[name]])
        out.append(f)
    return out


def flag_low_confidence(fields: list[FieldReading], checks: list[RuleCheck]) -> list[FieldReading]:
    """Flag fields under the confidence threshold that applies to them (vouched for by a rule or not)."""
    vouched = vouched_fields(checks)
    return [
        with_reasons(f, [Reason.low_confidence(f.confidence)])
        if f.confidence < min_confidence(f"{f.section}.{f.key}", vouched)
        else f
        for f in fields
    ]


def flag_notes(fields: list[FieldReading], note_written: bool) -> list[FieldReading]:
    """Every field, when the jurors wrote a note: a correction there ("the votes under 21F belong to
    MAS-IPSP, corre y vale") is what the official count follows, the sums still hold on the paper's
    figures (bo2019-general mesa 52078), and which field it changes only a reader of the note can say."""
    return [with_reasons(f, [Reason.note_written()]) for f in fields] if note_written else fields


def review(
    fields: list[FieldReading],
    checks: list[RuleCheck],
    repeated_under: float | None = REPEATED_DOUBT_CONFIDENCE,
    note_written: bool = False,
) -> tuple[list[FieldReading], bool]:
    """The fields with their flags, and whether the acta needs review."""
    fields = flag_repeated_doubts(flag_broken_rules(fields, checks), checks, repeated_under)
    fields = flag_notes(flag_low_confidence(fields, checks), note_written)
    return fields, any(f.needs_review for f in fields) or not all(c.ok for c in checks)
