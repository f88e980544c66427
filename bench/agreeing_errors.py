"""Errors that agree: what gets through when one confusion repeats across an acta.

    actas synth /tmp/synth -n 1000 --template bo2025-runoff --seed 7
    actas ingest /tmp/synth --out /tmp/synth-read
    python -m bench.agreeing_errors /tmp/synth /tmp/synth-read/results.jsonl [--seed 0]

A juror's handwriting can make the model misread one digit the same way everywhere (on 2019 scans a
flagged `1` read as `7` in every field: 178 became 778). Independent misreads rarely keep a sum true;
misreads that agree can (the only non-zero party gains what the total gains). This takes the readings of
synthetic actas and, per acta, replaces every box read as digit `d` by a confusion `e` at a confidence
drawn from a band, with `d` as the runner-up, the way such a misread reads; rebuilds the fields, the
rules' checks and the review; and counts the wrong fields left unflagged, with the repeated-doubt check
of `pipeline.review` (a holding sum does not vouch for fields that share a doubt) and without it. It
also re-reviews the readings as they are (no confusion) both ways: the flags the check costs.

Not simulated: the second look and the constrained decoding (they run on box probabilities the
readings do not keep); a sure misread (the last band) is what only a bound (electors) can catch.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from actas.evaluation import load_truth, readings_by_name
from pipeline.fields import with_reasons
from pipeline.reasons import Reason, ReasonCode
from pipeline.review import review
from pipeline.rules import RuleSet
from pipeline.schema import ActaReading, DigitReading, FieldReading
from pipeline.templates import load_templates
from pipeline.thresholds import REPEATED_DOUBT_CONFIDENCE

# Confusions seen on real Bolivian scans with the MNIST-only model (docs/real-digits.md): (truth, read).
CONFUSIONS = (("1", "7"), ("1", "4"), ("1", "2"), ("0", "6"), ("4", "9"), ("7", "1"), ("5", "6"), ("2", "7"))
BANDS = ((0.65, 0.9), (0.9, 0.99), (0.99, 0.9999))
# The reasons that review() decides: dropped before re-reviewing; the rest are the boxes' own.
DECIDED = {
    ReasonCode.LOW_CONFIDENCE,
    ReasonCode.RULE_BROKEN,
    ReasonCode.BOUND_BROKEN,
    ReasonCode.REPEATED_DOUBT,
}


def rebuilt(field: FieldReading, digits: list[DigitReading]) -> FieldReading:
    chars = [d.char for d in digits]
    value = int("".join(c for c in chars if c)) if any(chars) else None
    kept = [Reason(c, r) for c, r in zip(field.reason_codes, field.reasons, strict=True) if c not in DECIDED]
    cleared = field.model_copy(
        update={
            "digits": digits,
            "value": value,
            "text": "".join(c or "_" for c in chars),
            "confidence": round(float(np.prod([d.confidence for d in digits])), 4),
            "reasons": [],
            "reason_codes": [],
            "needs_review": False,
        }
    )
    return with_reasons(cleared, kept)


def confused(
    reading: ActaReading, truth: str, read: str, conf: float, rng: np.random.Generator
) -> list[FieldReading] | None:
    """The acta's fields with every `truth` digit read as `read` at about `conf`; None if it has none."""
    out, hit = [], False
    for f in reading.fields:
        digits = []
        for d in f.digits:
            if d.char == truth:
                c = float(np.clip(conf + rng.normal(0, 0.01), 0.01, 0.9999))
                d = d.model_copy(update={"char": read, "confidence": c, "alternatives": [(truth, round(1 - c, 4))]})
                hit = True
            digits.append(d)
        out.append(rebuilt(f, digits))
    return out if hit else None


def tally_both(
    tally: Counter[str], fields: list[FieldReading], rules: RuleSet, expected: dict[str, dict[str, int | None]]
) -> None:
    """Re-review the fields without the repeated-doubt check (`*_off`) and with it (`*_on`), and add the
    fields scored, flagged, wrong, and wrong and unflagged to `tally`."""
    checks = rules.check({f"{f.section}.{f.key}": f.value for f in fields})
    for key, under in (("off", None), ("on", REPEATED_DOUBT_CONFIDENCE)):
        reviewed, _ = review(fields, checks, repeated_under=under)
        for f in reviewed:
            if f.key not in expected.get(f.section, {}):
                continue
            bad = f.value != expected[f.section][f.key]
            tally[f"n_{key}"] += 1
            tally[f"flagged_{key}"] += f.needs_review
            tally[f"wrong_{key}"] += bad
            tally[f"silent_{key}"] += bad and not f.needs_review


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("truth_dir", type=Path, help="the synthetic actas' folder (truth.json)")
    p.add_argument("results", type=Path, help="`actas ingest` results.jsonl of that folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    truth = load_truth(args.truth_dir).actas
    readings = {k: v for k, v in readings_by_name(args.results).items() if k in truth}
    if not readings:
        p.error(f"no reading in {args.results} matches {args.truth_dir}/truth.json")
    rules = {k: t.ruleset for k, t in load_templates().items()}
    print(f"{len(readings)} actas of {args.truth_dir}; confusions {', '.join(f'{a}->{b}' for a, b in CONFUSIONS)}")
    print()
    print(
        "| readings | confidence of the misread | actas | fields | wrong | wrong unflagged, without the check "
        "| wrong unflagged, with it | flagged without | flagged with |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    base: Counter[str] = Counter()
    for name, reading in readings.items():
        fields = [rebuilt(f, list(f.digits)) for f in reading.fields]
        tally_both(base, fields, rules[reading.template], truth[name].counts)
    n = base["n_off"]
    print(
        f"| as read | as read | {len(readings)} | {n} | {base['wrong_off']} | {base['silent_off']} "
        f"| {base['silent_on']} | {base['flagged_off'] / n:.2%} | {base['flagged_on'] / n:.2%} |"
    )
    for lo, hi in BANDS:
        rng = np.random.default_rng(args.seed)
        tally: Counter[str] = Counter()
        for name, reading in readings.items():
            truth_digit, read = CONFUSIONS[int(rng.integers(len(CONFUSIONS)))]
            mixed = confused(reading, truth_digit, read, float(rng.uniform(lo, hi)), rng)
            if mixed is None:
                continue
            tally["actas"] += 1
            tally_both(tally, mixed, rules[reading.template], truth[name].counts)
        n = max(1, tally["n_off"])
        w = max(1, tally["wrong_off"])
        print(
            f"| one confusion per acta | {lo:.2f}-{hi:.4g} | {tally['actas']} | {tally['n_off']} "
            f"| {tally['wrong_off']} "
            f"| {tally['silent_off']} ({tally['silent_off'] / w:.1%} of wrong) "
            f"| {tally['silent_on']} ({tally['silent_on'] / w:.1%}) "
            f"| {tally['flagged_off'] / n:.2%} | {tally['flagged_on'] / n:.2%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
