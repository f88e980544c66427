"""Choose the review thresholds on synthetic actas: the flag rate each threshold costs against the
unflagged errors it lets through.

    actas synth /tmp/synth -n 1000 --template bo2025-runoff --seed 7
    actas ingest /tmp/synth --out /tmp/synth-read          # the readings, in parallel, resumable
    python -m bench.thresholds /tmp/synth /tmp/synth-read/results.jsonl [--target 0.001]

A field is flagged for reasons that do not depend on a threshold (a rule broken, a correction with a
thin margin, ink read as blank, ...) or because its confidence is under the threshold. The threshold is
set separately for fields in at least one rule that holds ("checked": a misread would have to be
cancelled by another to pass; `pipeline.decoding.vouched_fields`) and for the others. For each pair the
script prints the flag rate and the rate of wrong fields left unflagged, and proposes, among the pairs
that meet the target, the one with the lowest cost = flag rate + COST x unflagged-error rate (by
default one wrong count nobody is told about costs as much as reviewing 100 fields: an unflagged error
is the worst failure, a flag only costs time).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.decoding import LOW_CONFIDENCE, vouched_fields
from pipeline.evaluation import load_truth
from pipeline.schema import ActaReading

GRID = (0.0, 0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


@dataclass(frozen=True)
class FieldOutcome:
    confidence: float
    correct: bool
    checked: bool  # some rule naming the field holds
    flagged_anyway: bool  # flagged for a reason other than low confidence


def outcomes(truth_dir: Path, results: Path) -> list[FieldOutcome]:
    truth = load_truth(truth_dir).actas
    out = []
    for line in results.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        name = Path(doc["source"]).name
        if name not in truth:
            continue
        reading = ActaReading.model_validate(doc["reading"])
        expected = truth[name].counts
        vouched = vouched_fields(reading.checks)
        for f in reading.fields:
            if f.section not in expected or f.key not in expected[f.section]:
                continue
            ref = f"{f.section}.{f.key}"
            other = [r for r in f.reasons if not r.startswith(LOW_CONFIDENCE)]
            out.append(
                FieldOutcome(
                    confidence=f.confidence,
                    correct=f.value == expected[f.section][f.key],
                    checked=ref in vouched,
                    flagged_anyway=bool(other),
                )
            )
    return out


def rates(fields: list[FieldOutcome], t_checked: float, t_unchecked: float) -> tuple[float, float]:
    conf = np.array([f.confidence for f in fields])
    threshold = np.where([f.checked for f in fields], t_checked, t_unchecked)
    flagged = np.array([f.flagged_anyway for f in fields]) | (conf < threshold)
    wrong = ~np.array([f.correct for f in fields])
    return float(flagged.mean()), float((wrong & ~flagged).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", type=Path, nargs="+", help="DIR RESULTS.jsonl pairs: a truth folder and its readings")
    p.add_argument("--target", type=float, default=0.001, help="largest share of fields wrong and unflagged")
    p.add_argument("--cost", type=float, default=100.0, help="an unflagged error costs this many flags")
    args = p.parse_args(argv)
    if len(args.pairs) % 2:
        p.error("give DIR RESULTS.jsonl pairs")
    fields = [f for d, r in zip(args.pairs[::2], args.pairs[1::2], strict=True) for f in outcomes(d, r)]
    if not fields:
        print("no fields with truth found")
        return 2
    n_checked = sum(f.checked for f in fields)
    wrong = sum(not f.correct for f in fields)
    print(f"{len(fields)} fields ({n_checked} checked by rules that hold), {wrong} read wrong")
    print(f"{'checked >=':>11s} {'other >=':>9s} {'flagged':>8s} {'unflagged err':>14s}")
    best: tuple[float, float, float, float] | None = None
    for tc in GRID:
        for tu in GRID:
            if tu < tc:
                continue  # a field the rules vouch for never needs more confidence than one they do not
            flag, silent = rates(fields, tc, tu)
            if tu == tc or tu == GRID[-1]:
                print(f"{tc:11.3f} {tu:9.3f} {flag:8.2%} {silent:14.3%}")
            cost = flag + args.cost * silent
            if silent <= args.target and (best is None or cost < best[2] + args.cost * best[3]):
                best = (tc, tu, flag, silent)
    if best is None:
        print(f"no pair meets the target of {args.target:.2%} unflagged errors")
        return 1
    print(f"proposed: checked >= {best[0]}, other >= {best[1]}: {best[2]:.2%} flagged, {best[3]:.3%} unflagged errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
