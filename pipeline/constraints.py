"""Constrained decoding: when the most probable reading breaks the form's printed rules, look among the
classifier's alternatives for the most probable reading that satisfies every rule.

Only readings that change at most MAX_CHANGED fields are searched: one misread box (or two) explains
almost every broken sum; more changes than that is inventing numbers. A correction is taken only
where it is plausible on its own (each changed box's new digit has some probability) and where it
clearly beats every other rule-satisfying reading. When the paper itself is wrong (the jurors' sums
do not add up), no plausible reading satisfies the rules and the values stay as written, flagged.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.digit_input import BLANK
from pipeline.fields import value_of
from pipeline.rules import RuleSet, in_doubt
from pipeline.templates import RuleSpec

TOP_PER_BOX = 3  # classes considered per box
CANDIDATES_PER_FIELD = 6  # readings kept per field, most probable first
MAX_CHANGED = 2  # fields a correction may change
MIN_BOX_PROB = 0.02  # a changed box's new class must have at least this probability
# How often jurors' own sums are wrong on paper (measured here: 1 of the 6 real actas has a broken
# mesa rule). A correction must be more believable than that: its odds against "the paper is wrong"
# are exp(gain) * (1 - PAPER_ERROR) / PAPER_ERROR, with gain the log-probability it costs.
PAPER_ERROR = 0.05
MIN_ODDS = 1.0  # below: keep what is written, flagged
MIN_MARGIN = 10.0  # the chosen reading must be this many times as probable as the next consistent one
TRUST_ODDS = 20.0  # a correction is left unflagged only with odds and margin both this high or more
TRUST_MARGIN = 100.0


@dataclass(frozen=True)
class Candidate:
    value: int | None
    labels: tuple[int, ...]
    logp: float


@dataclass(frozen=True)
class Correction:
    labels: dict[str, tuple[int, ...]]  # field -> new class per box, for the fields that changed
    odds: float  # the correction against "the paper is wrong as written"
    margin: float  # probability of the chosen reading over the next consistent one (inf if alone)

    @property
    def trusted(self) -> bool:
        return self.odds >= TRUST_ODDS and self.margin >= TRUST_MARGIN

    @property
    def confidence(self) -> float:
        """Probability that the correction is right: it beats both the paper-error and the runner-up."""
        return (self.odds / (1 + self.odds)) * (1.0 if math.isinf(self.margin) else self.margin / (1 + self.margin))


def field_candidates(probs: npt.NDArray[np.float32]) -> list[Candidate]:
    """The most probable readings of one field (boxes x classes), with a value each.

    A blank box between written digits is not a reading to correct towards (it is flagged instead).
    """
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    options = [np.argsort(row)[::-1][:TOP_PER_BOX] for row in probs]
    out = []
    for combo in itertools.product(*options):
        labels = tuple(int(c) for c in combo)
        written = "".join("_" if c == BLANK else "d" for c in labels).lstrip("_")
        if "_" in written:
            continue
        out.append(Candidate(value_of(labels), labels, float(sum(logp[i, c] for i, c in enumerate(labels)))))
    out.sort(key=lambda c: -c.logp)
    return out[:CANDIDATES_PER_FIELD]


def top_values(probs: dict[str, npt.NDArray[np.float32]]) -> dict[str, int | None]:
    """Each field's value under its most probable class per box."""
    return {name: value_of([int(i) for i in p.argmax(axis=1)]) for name, p in probs.items()}


def _reach(rule: RuleSpec, rules: RuleSet, free: set[str]) -> set[str]:
    """The free fields a broken rule may change: its own, and for a bound those of the sums tied to it
    (a sum that holds on an impossible total was misread consistently: its fields change together)."""
    fields = set(rule.fields) & free
    if rule.op == "<=":
        for s in rules.rules:
            if s.op == "==" and set(s.fields) & fields:
                fields |= set(s.fields) & free
    return fields


def _groups(broken: list[RuleSpec], rules: RuleSet, free: set[str]) -> list[tuple[list[RuleSpec], list[str]]]:
    """Broken rules joined when they share a free field: each group is corrected on its own."""
    groups: list[tuple[list[RuleSpec], set[str]]] = []
    for rule in broken:
        fields = _reach(rule, rules, free)
        joined = [g for g in groups if g[1] & fields]
        for g in joined:
            groups.remove(g)
        groups.append(([rule, *(r for g in joined for r in g[0])], fields.union(*(g[1] for g in joined))))
    return [(rules, sorted(fields)) for rules, fields in groups]


def constrained_reading(rules: RuleSet, probs: dict[str, npt.NDArray[np.float32]]) -> list[Correction]:
    """The corrections to apply, one per independent group of broken rules; empty when the rules hold
    or no trustworthy reading satisfies them.

    Fields that a holding sum vouches for are kept as read: a satisfied sum is strong evidence that its
    fields are right. The fields a broken rule puts in doubt (`pipeline.rules.in_doubt`) may change
    (MAX_CHANGED per group); a correction must keep every plausibility bound, and every sum that holds
    on the fields it changes."""
    top = {name: tuple(int(i) for i in p.argmax(axis=1)) for name, p in probs.items()}
    values = top_values(probs)
    checks = rules.check(values)
    broken = [r for r, c in zip(rules.rules, checks, strict=True) if not c.ok]
    out = []
    for group, fields in _groups(broken, rules, set(in_doubt(checks))):
        keep = [r for r in rules.rules if r not in group and (r.op == "<=" or set(r.fields) & set(fields))]
        fix = _correct_group([*group, *keep], fields, probs, top, values)
        if fix is not None:
            out.append(fix)
    return out


def _correct_group(
    rules: list[RuleSpec],
    names: list[str],
    probs: dict[str, npt.NDArray[np.float32]],
    top: dict[str, tuple[int, ...]],
    values: dict[str, int | None],
) -> Correction | None:
    cands = {name: field_candidates(probs[name]) for name in names}
    top_logp = {name: _logp(probs[name], top[name]) for name in names}
    found: list[tuple[float, dict[str, Candidate]]] = []
    for n_changed in range(1, MAX_CHANGED + 1):
        for fields in itertools.combinations(names, n_changed):
            for choice in itertools.product(*(cands[f] for f in fields)):
                pairs = list(zip(fields, choice, strict=True))
                if any(c.labels == top[f] or not _plausible(probs[f], c) for f, c in pairs):
                    continue
                trial = dict(values)
                trial.update({f: c.value for f, c in pairs})
                if all(RuleSet.holds(r, trial) for r in rules):
                    found.append((sum(c.logp - top_logp[f] for f, c in pairs), dict(pairs)))
    if not found:
        return None
    found.sort(key=lambda t: -t[0])
    best_gain, best = found[0]
    margin = math.exp(best_gain - found[1][0]) if len(found) > 1 else math.inf
    odds = math.exp(best_gain) * (1 - PAPER_ERROR) / PAPER_ERROR
    if margin < MIN_MARGIN or odds < MIN_ODDS:
        return None
    return Correction({f: c.labels for f, c in best.items()}, odds, margin)


def _logp(probs: npt.NDArray[np.float32], labels: tuple[int, ...]) -> float:
    return float(sum(math.log(max(float(probs[i, c]), 1e-12)) for i, c in enumerate(labels)))


def _plausible(probs: npt.NDArray[np.float32], cand: Candidate) -> bool:
    return all(float(probs[i, c]) >= MIN_BOX_PROB for i, c in enumerate(cand.labels))
