"""Choose the review thresholds on synthetic actas: the flag rate each threshold costs against the
unflagged errors it lets through.

    actas synth /tmp/synth -n 1000 --template bo2025-runoff --seed 7
    actas ingest /tmp/synth --out /tmp/synth-read          # the readings, in parallel, resumable
    python -m bench.thresholds /tmp/synth /tmp/synth-read/results.jsonl [--target 0.001]

A field is flagged for reasons that do not depend on a threshold (a correction with a thin margin, ink
read as blank, ...), because its confidence is under the threshold, or because it is in a broken rule
and read less sure than `BROKEN_RULE_SURE_CONFIDENCE`. The confidence threshold is set separately for
fields in at least one rule that holds ("checked": a misread would have to be cancelled by another to
pass; `pipeline.decoding.vouched_fields`) and for the others. For each triple the script prints the
flag rate and the rate of wrong fields left unflagged, and proposes, among those that meet the target,
the one with the lowest cost = flag rate + COST x unflagged-error rate (by default one wrong count
nobody is told about costs as much as reviewing 100 fields: an unflagged error is the worst failure, a
flag only costs time).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.decoding import LOW_CONFIDENCE, RULE_BROKEN, unvouched_broken, vouched_fields
from pipeline.evaluation import load_truth, readings_by_name

GRID = (0.0, 0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
SURE_GRID: tuple[float | None, ...] = (None, 0.9999, 0.999, 0.998, 0.995, 0.99, 0.98, 0.95)  # None: flag all


@dataclass(frozen=True)
class FieldOutcome:
    confidence: float
    correct: bool
    checked: bool  # some rule naming the field holds
    in_broken_rule: bool  # in a broken rule that no holding rule vouches for
    flagged_anyway: bool  # flagged for a reason other than low confidence or a broken rule


def outcomes(truth_dir: Path, results: Path) -> list[FieldOutcome]:
    truth = load_truth(truth_dir).actas
    out = []
    for name, reading in readings_by_name(results).items():
        if name not in truth:
            continue
        expected = truth[name].counts
        vouched = vouched_fields(reading.checks)
        broken = unvouched_broken(reading.checks)
        for f in reading.fields:
            if f.section not in expected or f.key not in expected[f.section]:
                continue
            ref = f"{f.section}.{f.key}"
            other = [r for r in f.reasons if not r.startswith((LOW_CONFIDENCE, RULE_BROKEN))]
            out.append(
                FieldOutcome(
                    confidence=f.confidence,
                    correct=f.value == expected[f.section][f.key],
                    checked=ref in vouched,
                    in_broken_rule=ref in broken,
                    flagged_anyway=bool(other),
                )
            )
    return out


def rates(
    fields: list[FieldOutcome], t_checked: float, t_unchecked: float, sure: float | None = None
) -> tuple[float, float]:
    conf = np.array([f.confidence for f in fields])
    threshold = np.where([f.checked for f in fields], t_checked, t_unchecked)
    culprit = np.array([f.in_broken_rule for f in fields]) & (True if sure is None else conf < sure)
    flagged = np.array([f.flagged_anyway for f in fields]) | (conf < threshold) | culprit
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
    print(f"{sum(f.in_broken_rule for f in fields)} in a broken rule no holding rule vouches for")
    print(f"{'checked >=':>11s} {'other >=':>9s} {'sure >=':>8s} {'flagged':>8s} {'unflagged err':>14s}")
    best: tuple[float, float, float | None, float, float] | None = None
    for sure in SURE_GRID:
        for tc in GRID:
            for tu in GRID:
                if tu < tc or (sure is not None and sure < tu):
                    continue  # never ask a vouched field for more than another, nor a culprit for less
                flag, silent = rates(fields, tc, tu, sure)
                if tu == tc or tu == GRID[-1]:
                    print(f"{tc:11.3f} {tu:9.3f} {_sure(sure):>8s} {flag:8.2%} {silent:14.3%}")
                cost = flag + args.cost * silent
                if silent <= args.target and (best is None or cost < best[3] + args.cost * best[4]):
                    best = (tc, tu, sure, flag, silent)
    if best is None:
        print(f"no thresholds meet the target of {args.target:.2%} unflagged errors")
        return 1
    tc, tu, sure, flag, silent = best
    print(f"proposed: checked >= {tc}, other >= {tu}, broken-rule field sure >= {_sure(sure)}: ", end="")
    print(f"{flag:.2%} flagged, {silent:.3%} unflagged errors")
    return 0


def _sure(sure: float | None) -> str:
    return "never" if sure is None else f"{sure:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
