"""The threshold sweep scores an ingest run's readings as the review stage flagged them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.thresholds import flags, main, outcomes, paper_split
from pipeline.fields import with_reasons
from pipeline.reader import ActaReader
from pipeline.reasons import Reason
from pipeline.thresholds import BROKEN_RULE_SURE_CONFIDENCE, CHECKED_MIN_CONFIDENCE, FIELD_MIN_CONFIDENCE
from tests.conftest import ACTAS


def _folder(tmp_path: Path, reader: ActaReader, synth: bool) -> tuple[Path, Path, list[bool]]:
    """The real first-round acta twice, as a synthetic set would hold it: `a.jpg` with the juror's sums
    right and `b.jpg` marked as one where the juror broke a rule."""
    src = ACTAS / "bo2025-general"
    truth = json.loads((src / "truth.json").read_text(encoding="utf-8"))
    acta = truth["actas"]["mesa_8004121.jpg"]
    truth["actas"] = {"a.jpg": acta, "b.jpg": acta}
    (tmp_path / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    if synth:
        record = {"a.jpg": {"rules_obeyed": True}, "b.jpg": {"rules_obeyed": False}}
        (tmp_path / "synth.json").write_text(json.dumps({"actas": record}), encoding="utf-8")
    read = reader.read((src / "mesa_8004121.jpg").read_bytes())
    # the real-digit model reads this acta without a flag: one field as a less sure reading would come out
    # of the review stage (read right at 0.5, flagged), so that the comparison has both kinds
    unsure = with_reasons(read.fields[5].model_copy(update={"confidence": 0.5}), [Reason.low_confidence(0.5)])
    read = read.model_copy(update={"fields": [*read.fields[:5], unsure, *read.fields[6:]], "needs_review": True})
    reading = read.model_dump(mode="json")
    results = tmp_path / "results.jsonl"
    lines = [json.dumps({"source": f"/scans/{n}", "page": None, "reading": reading}) for n in ("a.jpg", "b.jpg")]
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path, results, [f["needs_review"] for f in reading["fields"]]


def test_the_shipped_thresholds_flag_what_the_reader_flagged(reader: ActaReader, tmp_path: Path) -> None:
    folder, results, needs_review = _folder(tmp_path, reader, synth=True)
    fields = outcomes(folder, results)
    assert len(fields) == 54 and all(f.correct for f in fields)
    assert any(needs_review) and not all(needs_review)  # the acta has both, so the comparison means something
    shipped = flags(fields, CHECKED_MIN_CONFIDENCE, FIELD_MIN_CONFIDENCE, BROKEN_RULE_SURE_CONFIDENCE)
    assert shipped.tolist() == needs_review * 2
    # flagging nothing lets no error through here (every field is right), flagging all flags all
    assert flags(fields, 0.0, 0.0, 0.0).sum() == sum(f.flagged_anyway for f in fields)
    assert np.all(flags(fields, 1.01, 1.01))


def test_the_flag_rate_is_split_by_whether_the_paper_obeys_the_rules(reader: ActaReader, tmp_path: Path) -> None:
    folder, results, needs_review = _folder(tmp_path, reader, synth=True)
    share = sum(needs_review) / len(needs_review)
    split = paper_split(outcomes(folder, results))
    assert [(label, n) for label, n, _, _ in split] == [("paper obeys the rules", 27), ("juror broke a rule", 27)]
    for _, _, flagged, of_all in split:
        assert abs(flagged - share) < 1e-9 and abs(of_all - 0.5) < 1e-9
    assert main([str(folder), str(results)]) == 0  # every field right: some thresholds meet any target


def test_real_scans_have_no_paper_split(reader: ActaReader, tmp_path: Path) -> None:
    folder, results, _ = _folder(tmp_path, reader, synth=False)
    assert paper_split(outcomes(folder, results)) == []
