"""Choose the review thresholds on synthetic actas: the flag rate each threshold costs against the
unflagged errors it lets through.

    actas synth /tmp/synth -n 1000 --template bo2025-runoff --seed 7
    actas ingest /tmp/synth --out /tmp/synth-read          # the readings, in parallel, resumable
    python -m bench.thresholds /tmp/synth /tmp/synth-read/results.jsonl [--target 0.001] [--max-flagged 0.05]

A field is flagged for reasons that do not depend on a threshold (a correction with a thin margin, ink
read as blank, ...), because its confidence is under the threshold, or because it is in a broken rule
and read less sure than `BROKEN_RULE_SURE_CONFIDENCE`. The confidence threshold is set separately for
fields in at least one rule that holds ("checked": a misread would have to be cancelled by another to
pass; `pipeline.rules.vouched_fields`) and for the others. For each triple the script prints the
flag rate and the rate of wrong fields left unflagged, and proposes, among those that meet both targets
(unflagged errors and flag rate), the one with the lowest cost = flag rate + COST x unflagged-error
rate (by default one wrong count nobody is told about costs as much as reviewing 100 fields: an
unflagged error is the worst failure, a flag only costs time); when none meets both, the cheapest that
meets the unflagged-error target. Where the folder has the generator's `synth.json`, it also splits the flag rate
at the shipped thresholds between actas whose paper obeys the rules and those where the juror broke
one: the latter's broken-rule fields must be flagged whatever the digit model, a floor on the rate.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actas.evaluation import load_truth, readings_by_name
from pipeline.reasons import ReasonCode
from pipeline.rules import in_doubt, sparable, vouched_fields
from pipeline.thresholds import BROKEN_RULE_SURE_CONFIDENCE, CHECKED_MIN_CONFIDENCE, FIELD_MIN_CONFIDENCE

# The reasons this sweep decides itself; every other flagging reason flags a field whatever the thresholds.
SWEPT = {ReasonCode.LOW_CONFIDENCE, ReasonCode.RULE_BROKEN}

GRID = (0.0, 0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
SURE_GRID: tuple[float | None, ...] = (None, 0.999, 0.995, 0.994, 0.993, 0.992, 0.991, 0.99, 0.98, 0.95)  # None: all


@dataclass(frozen=True)
class FieldOutcome:
    confidence: float
    correct: bool
    checked: bool  # some rule naming the field holds
    in_broken_rule: bool  # in a broken rule that no holding rule vouches for
    flagged_anyway: bool  # flagged for a reason other than low confidence or a broken rule
    sparable: bool = True  # ...and only in broken sums one misread box could explain (`pipeline.rules.sparable`)
    paper_right: bool | None = None  # synth.json: the juror's numbers obey the rules (None: not known)


def outcomes(truth_dir: Path, results: Path) -> list[FieldOutcome]:
    loaded = load_truth(truth_dir)
    truth, zero_blank = loaded.actas, loaded.zero_may_be_blank
    obeyed = paper_obeys_rules(truth_dir)
    out = []
    for name, reading in readings_by_name(results).items():
        if name not in truth:
            continue
        expected = truth[name].counts
        vouched = vouched_fields(reading.checks)
        doubt = in_doubt(reading.checks)
        for f in reading.fields:
            if f.section not in expected or f.key not in expected[f.section]:
                continue
            ref = f"{f.section}.{f.key}"
            other = [c for c in f.reason_codes if c.flags and c not in SWEPT]
            out.append(
                FieldOutcome(
                    confidence=f.confidence,
                    # an official 0 read from empty boxes is right where the truth says zeros may be blank
                    correct=f.value == expected[f.section][f.key]
                    or (zero_blank and f.value is None and expected[f.section][f.key] == 0),
                    checked=ref in vouched,
                    in_broken_rule=any(r.code is ReasonCode.RULE_BROKEN for r in doubt.get(ref, [])),
                    sparable=sparable(doubt.get(ref, []), reading.checks),
                    flagged_anyway=bool(other),
                    paper_right=obeyed.get(name),
                )
            )
    return out


def paper_obeys_rules(truth_dir: Path) -> dict[str, bool]:
    """Acta name -> whether the juror's numbers obey the form's rules, from the generator's synth.json
    (empty for a folder without one, such as real scans)."""
    path = truth_dir / "synth.json"
    if not path.is_file():
        return {}
    actas = json.loads(path.read_text(encoding="utf-8")).get("actas", {})
    return {name: bool(rec["rules_obeyed"]) for name, rec in actas.items() if "rules_obeyed" in rec}


def flags(fields: list[FieldOutcome], t_checked: float, t_unchecked: float, sure: float | None = None) -> np.ndarray:
    """Which fields these thresholds flag."""
    conf = np.array([f.confidence for f in fields])
    threshold = np.where([f.checked for f in fields], t_checked, t_unchecked)
    spared = np.array([f.sparable for f in fields]) & (False if sure is None else conf >= sure)
    culprit = np.array([f.in_broken_rule for f in fields]) & ~spared
    flagged: np.ndarray = np.array([f.flagged_anyway for f in fields]) | (conf < threshold) | culprit
    return flagged


def rates(
    fields: list[FieldOutcome], t_checked: float, t_unchecked: float, sure: float | None = None
) -> tuple[float, float]:
    flagged = flags(fields, t_checked, t_unchecked, sure)
    wrong = ~np.array([f.correct for f in fields])
    return float(flagged.mean()), float((wrong & ~flagged).mean())


def paper_split(fields: list[FieldOutcome]) -> list[tuple[str, int, float, float]]:
    """At the shipped thresholds: (which actas, fields, share flagged, share of all flags) for actas
    whose paper obeys the rules and for those where the juror broke one; empty when not known."""
    known = [f for f in fields if f.paper_right is not None]
    if not known:
        return []
    flagged = flags(known, CHECKED_MIN_CONFIDENCE, FIELD_MIN_CONFIDENCE, BROKEN_RULE_SURE_CONFIDENCE)
    right = np.array([bool(f.paper_right) for f in known])
    total = max(int(flagged.sum()), 1)
    return [
        (label, int(mask.sum()), float(flagged[mask].mean()) if mask.any() else 0.0, float(flagged[mask].sum()) / total)
        for label, mask in (("paper obeys the rules", right), ("juror broke a rule", ~right))
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", type=Path, nargs="+", help="DIR RESULTS.jsonl pairs: a truth folder and its readings")
    p.add_argument("--target", type=float, default=0.001, help="largest share of fields wrong and unflagged")
    p.add_argument("--max-flagged", type=float, default=0.05, help="largest share of fields flagged")
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
    for label, n, share, of_flags in paper_split(fields):
        print(f"as shipped, actas whose {label}: {n} fields, {share:.2%} flagged ({of_flags:.0%} of all flags)")
    print(f"{'checked >=':>11s} {'other >=':>9s} {'sure >=':>8s} {'flagged':>8s} {'unflagged err':>14s}")
    meets: list[tuple[float, float, float, float, float | None, float]] = []  # cost first, for min()
    for sure in SURE_GRID:
        for tc in GRID:
            for tu in GRID:
                if tu < tc or (sure is not None and sure < tu):
                    continue  # never ask a vouched field for more than another, nor a culprit for less
                flag, silent = rates(fields, tc, tu, sure)
                if tu == tc or tu == GRID[-1]:
                    print(f"{tc:11.3f} {tu:9.3f} {_sure(sure):>8s} {flag:8.2%} {silent:14.3%}")
                if silent <= args.target:
                    meets.append((flag + args.cost * silent, flag, tc, tu, sure, silent))
    if not meets:
        print(f"no thresholds meet the target of {args.target:.2%} unflagged errors")
        return 1
    both = [m for m in meets if m[1] <= args.max_flagged]
    _, flag, tc, tu, sure, silent = min(both or meets, key=lambda m: m[0])
    print(f"proposed: checked >= {tc}, other >= {tu}, broken-rule field sure >= {_sure(sure)}: ", end="")
    print(f"{flag:.2%} flagged, {silent:.3%} unflagged errors")
    if not both:
        print(f"(no thresholds also keep the flag rate at or under {args.max_flagged:.0%})")
    return 0


def _sure(sure: float | None) -> str:
    return "never" if sure is None else f"{sure:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
