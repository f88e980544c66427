"""Counts for a synthetic acta: values that obey the form's rules, or break exactly one of them.

Generic over the template: each rule `sum(left) == sum(right)` with a single field on one side is read
as `total = sum(parts)` (the form's arithmetic: electores = en ánfora + no utilizadas, en ánfora =
válidos + blancos + nulos, válidos = the parties). Totals that are nobody's part (the roots, e.g.
electores habilitados) are drawn first; each known total is then split among its parts, a part that is
itself a total taking the large share (turnout, valid votes) and plain parts sharing the rest
(Dirichlet-multinomial, some parties at zero). Rules with several fields on both sides are solved when
one field is left unknown; fields in no rule get small free values. Every value fits its digit boxes.

A juror's mistake changes one field that sits in exactly one rule, so exactly that rule breaks: off by
a small amount, two adjacent digits transposed, or a carry slip of ten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.rules import RuleSet
from pipeline.templates import RuleSpec, Template

MAX_ATTEMPTS = 500
ROOT_RANGE = (0.5, 3.3)  # a root total is drawn in [0.5, 3.3] x 10^(digits-1): 50-330 for three boxes
REST_SHARE = (1.2, 8.0)  # Beta law of the share of a total left to plain parts beside sub-totals: mean 13%
MAX_REST = 0.45  # (unused ballots beside those in the box; blank and null votes beside valid ones)
ZERO_PART = 0.12  # chance that a plain part (a party) gets no vote at all
MISTAKES = ("off_by", "transposition", "carry")


@dataclass(frozen=True)
class Mistake:
    """What the juror got wrong: `field` was written `written` where `correct` would obey `rule`."""

    rule: str
    field: str
    kind: str  # one of MISTAKES
    correct: int
    written: int


@dataclass(frozen=True)
class Counts:
    values: dict[str, int]  # "section.KEY" -> the value the juror means to write (mistake included)
    mistake: Mistake | None


def draw_counts(template: Template, rng: np.random.Generator, break_rule: bool = False) -> Counts:
    """Values for every field: all rules hold, or (`break_rule`) exactly one rule is broken."""
    values = consistent_counts(template, rng)
    if not break_rule or not template.rules:
        return Counts(values, None)
    broken, mistake = break_one_rule(template, values, rng)
    return Counts(broken, mistake)


def consistent_counts(template: Template, rng: np.random.Generator) -> dict[str, int]:
    """Values obeying every rule of the template (rejection sampling over `_attempt`)."""
    for _ in range(MAX_ATTEMPTS):
        values = _attempt(template, rng)
        if values is not None and not template.ruleset.broken(values):
            return values
    raise ValueError(f"template {template.id}: could not draw counts that obey its rules")


def _capacity(template: Template) -> dict[str, int]:
    return {name: 10**spec.digits - 1 for name, (_s, spec) in template.fields.items()}


def _oriented(rule: RuleSpec) -> tuple[str, list[str]] | None:
    """(total, parts) when one side of the rule is a single field, else None."""
    if len(rule.left) == 1:
        return rule.left[0], list(rule.right)
    if len(rule.right) == 1:
        return rule.right[0], list(rule.left)
    return None


def _sums(template: Template) -> list[RuleSpec]:
    """The printed sums: what the counts are solved from (bounds are only checked, by the RuleSet)."""
    return [r for r in template.rules if r.op == "=="]


def _attempt(template: Template, rng: np.random.Generator) -> dict[str, int] | None:
    cap = _capacity(template)
    sums = _sums(template)
    splits = [o for r in sums if (o := _oriented(r)) is not None]
    totals = {t for t, _ in splits}
    parts = {p for _, ps in splits for p in ps}
    known: dict[str, int] = {}
    for name in template.field_keys:  # roots: totals that are nobody's part
        if name in totals and name not in parts:
            digits = template.fields[name][1].digits
            lo = max(1, int(round(ROOT_RANGE[0] * 10 ** (digits - 1))))
            hi = min(cap[name], int(round(ROOT_RANGE[1] * 10 ** (digits - 1))))
            known[name] = int(rng.integers(lo, max(lo, hi) + 1))
    done: set[int] = set()
    while len(known) < len(cap):
        progress = False
        for i, (total, ps) in enumerate(splits):
            if i in done or total not in known:
                continue
            done.add(i)
            progress = True
            rest = known[total] - sum(known[p] for p in ps if p in known)
            unknown = [p for p in ps if p not in known]
            if rest < 0 or (not unknown and rest != 0):
                return None
            if unknown:
                known.update(_split(rest, unknown, totals, rng))
        for rule in sums:  # any sum with a single unknown field fixes it
            unknown = [k for k in dict.fromkeys(rule.left + rule.right) if k not in known]
            if len(unknown) == 1:
                u = unknown[0]
                left = sum(known.get(k, 0) for k in rule.left)
                right = sum(known.get(k, 0) for k in rule.right)
                value = right - left if u in rule.left else left - right
                if value < 0:
                    return None
                known[u] = value
                progress = True
        if not progress:  # nothing follows from the sums: a field a bound caps from above, or a small one
            u = next(k for k in template.field_keys if k not in known)
            known[u] = _free_value(template, u, known, cap[u], rng)
    if any(known[k] > cap[k] for k in known):
        return None
    return {k: known[k] for k in template.field_keys}


def _free_value(template: Template, name: str, known: dict[str, int], cap: int, rng: np.random.Generator) -> int:
    """A field no sum fixes. The bound side of a plausibility bound (the registered electors) gets what
    the known fields under it need, plus some headroom (not everyone votes); a field under a bound whose
    side is known (the electors who voted) anything up to it; any other field a small count."""
    floor = [
        RuleSet.sides(r, known)[0]
        for r in template.rules
        if r.op == "<=" and r.right == [name] and all(k in known for k in r.left)
    ]
    if floor:
        need = max(floor)
        return min(cap, need + int(rng.integers(0, max(1, need // 3) + 1)))
    ceiling = [
        RuleSet.sides(r, known)[1]
        for r in template.rules
        if r.op == "<=" and name in r.left and all(k in known for k in r.right)
    ]
    if ceiling:
        return int(rng.integers(0, min(cap, min(ceiling)) + 1))
    return int(rng.integers(0, min(cap, 10 ** (template.fields[name][1].digits - 1) * 2) + 1))


def _split(total: int, parts: list[str], totals: set[str], rng: np.random.Generator) -> dict[str, int]:
    """Share `total` among `parts`: sub-totals (turnout, valid votes) take most, plain parts the rest."""
    main = [p for p in parts if p in totals]
    plain = [p for p in parts if p not in totals]
    weights = np.zeros(len(parts))
    main_share = 1.0 - min(MAX_REST, float(rng.beta(*REST_SHARE))) if main and plain else (1.0 if main else 0.0)
    if main:
        weights[: len(main)] = main_share * rng.dirichlet(np.full(len(main), 4.0))
    if plain:
        alpha = float(rng.uniform(0.4, 2.0))
        share = rng.dirichlet(np.full(len(plain), alpha))
        if len(plain) > 2:  # some parties get no vote (or have no candidate here)
            share = share * (rng.random(len(plain)) >= ZERO_PART)
            if share.sum() == 0:
                share[int(rng.integers(len(plain)))] = 1.0
        weights[len(main) :] = (1.0 - main_share) * share / share.sum()
    counts = rng.multinomial(total, weights / weights.sum())
    return {p: int(c) for p, c in zip(main + plain, counts, strict=True)}


def break_one_rule(
    template: Template, values: dict[str, int], rng: np.random.Generator
) -> tuple[dict[str, int], Mistake]:
    """A plausible juror's mistake in one field that sits in exactly one rule, so exactly that rule breaks."""
    cap = _capacity(template)
    sums = _sums(template)
    in_rules: dict[str, list[RuleSpec]] = {}
    for rule in sums:
        for k in rule.fields:
            in_rules.setdefault(k, []).append(rule)
    single = [k for k in template.field_keys if len(in_rules.get(k, [])) == 1]
    if not single:
        raise ValueError(f"template {template.id}: no field belongs to exactly one sum, cannot break just one")
    for _ in range(MAX_ATTEMPTS):
        rule = sums[int(rng.integers(len(sums)))]
        candidates = [k for k in single if in_rules[k][0] is rule]
        if not candidates:
            continue
        name = candidates[int(rng.integers(len(candidates)))]
        kind = MISTAKES[int(rng.integers(len(MISTAKES)))]
        written = _mistake(values[name], kind, rng)
        if written is None or written == values[name] or not 0 <= written <= cap[name]:
            continue
        out = {**values, name: written}
        if template.ruleset.broken(out) == [rule]:  # that sum, and no bound
            return out, Mistake(rule.name, name, kind, values[name], written)
    raise ValueError(f"template {template.id}: could not break exactly one rule")


def _mistake(value: int, kind: str, rng: np.random.Generator) -> int | None:
    sign = 1 if rng.random() < 0.5 else -1
    if kind == "off_by":
        return value + sign * int(rng.choice([1, 1, 1, 2, 2, 3, 4, 5]))
    if kind == "carry":
        return value + sign * 10
    text = str(value)  # transposition of two adjacent written digits
    pairs = [i for i in range(len(text) - 1) if text[i] != text[i + 1]]
    if not pairs:
        return None
    i = pairs[int(rng.integers(len(pairs)))]
    return int(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
