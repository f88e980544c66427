"""The form's rules as one engine: which hold, what each side adds up to, which fields a broken one puts
in doubt, and which fields a holding sum vouches for. Used by the second look, the constrained decoding,
the review, `actas synth` and the service's recomputation after a review, so a rule means one thing.

Two kinds (`RuleSpec.op`): printed sums (`==`) and plausibility bounds (`<=`, e.g. no count above the
registered electors). A sum that holds vouches for its fields (a misread would have to be cancelled by
another to pass); a bound that holds says little and vouches for nothing. A broken bound puts its fields
in doubt however sure they were read, and withdraws the vouching of every sum that shares a field with
it: when the same misread repeats across an acta (every `1` read as `7`), the sums can still hold while
the total exceeds the electors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pipeline.reasons import Reason, ReasonCode
from pipeline.schema import RuleCheck

if TYPE_CHECKING:
    from pipeline.templates import RuleSpec

Values = Mapping[str, int | None]


def _side(values: Values, keys: Iterable[str]) -> int:
    return sum(values.get(k) or 0 for k in keys)  # a blank field counts as 0, as on paper


def _ok(rule: RuleSpec, left: int, right: int) -> bool:
    return left == right if rule.op == "==" else left <= right


class RuleSet:
    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules: tuple[RuleSpec, ...] = tuple(rules)

    @staticmethod
    def sides(rule: RuleSpec, values: Values) -> tuple[int, int]:
        """(left, right): for an `each` bound, the largest left field stands for the left side."""
        if rule.each:
            return max((values.get(k) or 0 for k in rule.left), default=0), _side(values, rule.right)
        return _side(values, rule.left), _side(values, rule.right)

    @classmethod
    def holds(cls, rule: RuleSpec, values: Values) -> bool:
        return _ok(rule, *cls.sides(rule, values))

    def broken(self, values: Values) -> list[RuleSpec]:
        return [r for r in self.rules if not self.holds(r, values)]

    def fields_of_broken(self, values: Values) -> set[str]:
        """The fields (section.KEY) of every rule these values break: the suspects of a second look."""
        return {k for c in self.check(values) if not c.ok for k in c.suspects}

    def check(self, values: Values) -> list[RuleCheck]:
        """Each rule's two sides, in the template's order."""
        out = []
        for rule in self.rules:
            left, right = self.sides(rule, values)
            ok = _ok(rule, left, right)
            suspects = [] if ok else self._suspects(rule, values, right)
            over = [] if ok or rule.op == "==" else [k for k in suspects if k in rule.left]
            out.append(
                RuleCheck(
                    rule=rule.name,
                    op=rule.op,
                    ok=ok,
                    left=left,
                    right=right,
                    fields=rule.fields,
                    suspects=suspects,
                    over=over,
                )
            )
        return out

    @staticmethod
    def _suspects(rule: RuleSpec, values: Values, right: int) -> list[str]:
        """A broken rule's fields in doubt: all of them, but for a bound on each field only those over it
        (and the bound's own fields)."""
        if not rule.each:
            return rule.fields
        over = [k for k in rule.left if (values.get(k) or 0) > right]
        return list(dict.fromkeys([*over, *rule.right]))


def vouched_fields(checks: Iterable[RuleCheck]) -> set[str]:
    """Fields in at least one sum that holds and shares no field with a broken bound's suspects or the
    fields inflated with them (`inflated_with`)."""
    checks = list(checks)
    doubted = {k for c in checks if not c.ok and c.op == "<=" for k in [*c.suspects, *inflated_with(c, checks)]}
    return {k for c in checks if c.ok and c.op == "==" and not doubted.intersection(c.fields) for k in c.fields}


def in_doubt(checks: Iterable[RuleCheck]) -> dict[str, list[Reason]]:
    """Fields (section.KEY) that a broken rule puts in doubt, each with a reason per rule: the fields of a
    broken sum that no holding sum vouches for; and the fields of a broken bound with every field of the
    sums tied to them, directly or through holding sums (a sum that holds on an impossible total was
    read wrong consistently: `tied_to_bound`)."""
    checks = list(checks)
    vouched = vouched_fields(checks)
    out: dict[str, list[Reason]] = {}

    def add(field: str, reason: Reason) -> None:
        if reason not in out.setdefault(field, []):
            out[field].append(reason)

    for c in checks:
        if c.ok:
            continue
        if c.op == "==":
            for k in c.suspects:
                if k not in vouched:
                    add(k, Reason.rule_broken(c.rule))
            continue
        for k in tied_to_bound(c, checks):
            add(k, Reason.bound_broken(c.rule))
    return out


def tied_to_bound(bound: RuleCheck, checks: list[RuleCheck]) -> list[str]:
    """The fields a broken bound puts in doubt: its suspects with every field of a sum that shares one of
    them; and, from the fields above the bound (`over`), onwards through every sum that holds. A
    holding sum with a field above an impossible bound holds because its other fields are wrong the same
    way: 2019, mesa 70343, every `1` read as `4`: ballots 194 -> 494 over 227 electors, VOTOS_VALIDOS
    186 -> 486 kept valid + blank + null = ballots, and CC 135 -> 435 kept valid = sum of the parties,
    a sum tied to the ballots only through VOTOS_VALIDOS. A broken sum is not followed further (its
    sides disagree, so its other side does not repeat the misread), nor is the bound's right side
    (ballots vouched for by a holding sum when one party's count is over them)."""
    doubted = dict.fromkeys(bound.suspects)
    for s in checks:
        if s.op == "==" and set(s.fields) & set(bound.suspects):
            doubted.update(dict.fromkeys(s.fields))
    doubted.update(dict.fromkeys(inflated_with(bound, checks)))
    return list(doubted)


def inflated_with(bound: RuleCheck, checks: list[RuleCheck]) -> list[str]:
    """The fields above a broken bound and those that every holding sum ties to them, transitively (in
    the template's order): the fields a misread repeated across the acta may have inflated together."""
    found = dict.fromkeys(bound.over)
    grew = bool(found)
    while grew:
        grew = False
        for s in checks:
            if s.op == "==" and s.ok and set(s.fields) & set(found) and not set(s.fields) <= set(found):
                found.update(dict.fromkeys(s.fields))
                grew = True
    return list(found)


def one_box_apart(check: RuleCheck) -> bool:
    """Whether one box read wrong could explain this broken sum: its sides differ by m x 10^k with m in
    1..9. When they do not (several boxes are wrong, or the juror swapped two digits), the premise for
    sparing a sure field of the sum (a single culprit the second look exposes) does not hold."""
    gap = abs(check.left - check.right)
    while gap and gap % 10 == 0:
        gap //= 10
    return 1 <= gap <= 9


def sparable(reasons: Iterable[Reason], checks: Iterable[RuleCheck]) -> bool:
    """Whether a field in doubt for these reasons may be spared when read sure: only broken sums put it
    in doubt (no bound), and each of them is one box apart."""
    by_rule = {c.rule: c for c in checks}
    reasons = list(reasons)
    return bool(reasons) and all(
        r.code is ReasonCode.RULE_BROKEN and r.rule in by_rule and one_box_apart(by_rule[r.rule]) for r in reasons
    )
