"""Scoring readings against truth: accuracy before and after the form's rules, flags, silent errors."""

from __future__ import annotations

from actas.evaluation import EvalReport, TruthActa, load_truth
from pipeline.fields import with_reasons
from pipeline.reader import ActaReader
from pipeline.reasons import Reason
from pipeline.schema import ActaReading
from tests.conftest import ACTAS


def _general(reader: ActaReader) -> tuple[TruthActa, EvalReport, ActaReading]:
    truth = load_truth(ACTAS / "bo2025-general").actas["mesa_8004121.jpg"]
    reading = reader.read((ACTAS / "bo2025-general" / "mesa_8004121.jpg").read_bytes())
    return truth, EvalReport(), reading


def test_the_gain_of_the_rules_is_measured_on_the_same_reading(reader: ActaReader) -> None:
    truth, report, reading = _general(reader)
    # the real-digit model reads this acta right before the rules; two fields as the rules would have
    # corrected them (the boxes read one off, the sums chose the value), as the MNIST-only model needed
    fields = [
        with_reasons(f, [Reason.correction_thin()], auto_corrected=True, original_value=(f.value or 0) + 1)
        if i in (0, 3) and not f.auto_corrected
        else f
        for i, f in enumerate(reading.fields)
    ]
    reading = reading.model_copy(update={"fields": fields})
    report.add("mesa_8004121.jpg", truth, reading)
    corrected = [f for f in reading.fields if f.auto_corrected]
    scores = report.as_dict()["fields"]
    assert isinstance(scores, dict)
    assert scores["n"] == 27 and scores["accuracy"] == 1.0
    # every field the rules changed was wrong before (truth known), so "before" is lower by exactly those
    assert corrected
    assert report.totals.correct_before == 27 - len(corrected)
    for f in corrected:
        per = report.per_field[f"{f.section}.{f.key}"]
        assert (per.correct_before, per.correct, per.flagged) == (0, 1, 1)


def test_a_wrong_unflagged_field_is_a_silent_error_for_the_field_and_the_acta(reader: ActaReader) -> None:
    truth, report, reading = _general(reader)
    quiet = next(f for f in reading.fields if not f.needs_review)
    counts = {s: dict(kv) for s, kv in truth.counts.items()}
    counts[quiet.section][quiet.key] = (quiet.value or 0) + 1
    report.add("x.jpg", TruthActa(counts=counts), reading)
    ref = f"{quiet.section}.{quiet.key}"
    assert report.unflagged_errors == 1 and report.per_field[ref].unflagged_errors == 1
    assert report.actas_unflagged_wrong == 1 and report.actas_exact == 0
    assert "unflagged errors 1 (3.70% of fields, 1/1 actas)" in report.summary()
    assert ref in report.table() and "NO" in report.table()


def test_a_wrong_flagged_field_is_not_silent(reader: ActaReader) -> None:
    truth, report, reading = _general(reader)
    flagged = with_reasons(reading.fields[2], [Reason.low_confidence(0.5)])  # as a reviewer would get it
    reading = reading.model_copy(update={"fields": [*reading.fields[:2], flagged, *reading.fields[3:]]})
    counts = {s: dict(kv) for s, kv in truth.counts.items()}
    counts[flagged.section][flagged.key] = (flagged.value or 0) + 1
    report.add("x.jpg", TruthActa(counts=counts), reading)
    assert report.unflagged_errors == 0 and report.actas_unflagged_wrong == 0
    assert report.correct == 26


def test_a_field_the_form_lacks_counts_as_a_silent_error(reader: ActaReader) -> None:
    truth, report, reading = _general(reader)
    counts = {s: dict(kv) for s, kv in truth.counts.items()} | {"senado": {"X": 3}}
    report.add("x.jpg", TruthActa(counts=counts), reading)
    assert report.fields == 28 and report.unflagged_errors == 1
    assert "(no such field)" in report.table()
    assert "senado.X" in report.field_table()
