"""The rule engine: sums and plausibility bounds, what they vouch for and what they put in doubt."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.constraints import constrained_reading
from pipeline.reasons import ReasonCode
from pipeline.rules import RuleSet, in_doubt, vouched_fields
from pipeline.templates import RuleSpec, load_templates
from tests.pipeline.helpers import RUNOFF_PARTIES_OFF_BY_ONE, box_probs

RUNOFF = load_templates()["bo2025-runoff"]

# The 2019 case seen on a real scan: every 1 read as 7 keeps valid + blank + null = ballots (778 + 7 + 9 =
# 794) while the form says 221 electors.
SUMS = [RuleSpec(name="ballots", left=["p.VALID", "p.BLANK", "p.NULL"], right=["m.BALLOTS"])]
BOUNDS = [
    RuleSpec(name="ballots <= electors", left=["m.BALLOTS"], right=["m.ELECTORS"], op="<="),
    RuleSpec(
        name="each count <= ballots", left=["p.VALID", "p.BLANK", "p.NULL"], right=["m.BALLOTS"], op="<=", each=True
    ),
]
AGREEING_MISREADS = {"p.VALID": 778, "p.BLANK": 7, "p.NULL": 9, "m.BALLOTS": 794, "m.ELECTORS": 221}


def test_the_runoff_rules_in_one_engine() -> None:
    checks = RUNOFF.ruleset.check(RUNOFF_PARTIES_OFF_BY_ONE)
    assert [c.ok for c in checks] == [False, True, True]
    assert (checks[0].left, checks[0].right, checks[0].op) == (205, 204, "==")
    assert checks[0].suspects == checks[0].fields and checks[1].suspects == []
    assert RUNOFF.ruleset.fields_of_broken(RUNOFF_PARTIES_OFF_BY_ONE) == set(checks[0].fields)
    # VOTOS_VALIDOS is also in the ballots rule, which holds, so only the parties are in doubt
    assert set(in_doubt(checks)) == {"presidente.PDC", "presidente.LIBRE"}
    assert vouched_fields(checks) == set(checks[1].fields) | set(checks[2].fields)


def test_blank_counts_as_zero() -> None:
    rules = RuleSet(SUMS)
    assert rules.check({"p.VALID": 5, "p.BLANK": None, "p.NULL": None, "m.BALLOTS": 5})[0].ok


def test_a_broken_bound_withdraws_the_vouching_of_the_sums_it_touches() -> None:
    rules = RuleSet([*SUMS, *BOUNDS])
    checks = rules.check(AGREEING_MISREADS)
    assert [c.ok for c in checks] == [True, False, True]
    assert (checks[1].left, checks[1].right) == (794, 221)
    assert vouched_fields(checks) == set()  # the sum holds, but the ballots it adds up to are impossible
    doubt = in_doubt(checks)
    assert set(doubt) == {"m.BALLOTS", "m.ELECTORS", "p.VALID", "p.BLANK", "p.NULL"}
    assert all(r.code is ReasonCode.BOUND_BROKEN for rs in doubt.values() for r in rs)
    # The right counts: every bound holds and the sum vouches for its fields again
    right = {"p.VALID": 178, "p.BLANK": 7, "p.NULL": 9, "m.BALLOTS": 194, "m.ELECTORS": 221}
    assert all(c.ok for c in rules.check(right))
    assert vouched_fields(rules.check(right)) == {"p.VALID", "p.BLANK", "p.NULL", "m.BALLOTS"}


def test_a_bound_on_each_field_names_only_the_fields_over_it() -> None:
    rules = RuleSet(BOUNDS[1:])
    [check] = rules.check({"p.VALID": 90, "p.BLANK": 120, "p.NULL": 3, "m.BALLOTS": 100})
    assert not check.ok and (check.left, check.right) == (120, 100)
    assert check.suspects == ["p.BLANK", "m.BALLOTS"]
    assert rules.check({"p.VALID": 90, "p.BLANK": 100, "p.NULL": 3, "m.BALLOTS": 100})[0].ok


def test_each_is_for_bounds_only_and_rules_need_both_sides() -> None:
    with pytest.raises(ValidationError, match="bounds"):
        RuleSpec(name="x", left=["a.B"], right=["a.C"], each=True)
    with pytest.raises(ValidationError):
        RuleSpec(name="x", left=[], right=["a.C"])


def test_constrained_decoding_keeps_every_bound() -> None:
    # VALID read 778 (7 at .80, 1 at .19) breaks the ballots sum (194); the bound keeps 778 -> 178 open
    # and the correction must hold every bound as well as the sum.
    rules = RuleSet([*SUMS, *BOUNDS])
    probs = {
        "p.VALID": box_probs("778", {0: ("1", 0.19)}),
        "p.BLANK": box_probs("007"),
        "p.NULL": box_probs("009"),
        "m.BALLOTS": box_probs("194"),
        "m.ELECTORS": box_probs("221"),
    }
    [fix] = constrained_reading(rules, probs)
    assert fix.labels == {"p.VALID": (1, 7, 8)}


def test_a_consistent_misread_is_corrected_only_with_the_sum_it_holds() -> None:
    # 778 + 7 + 9 = 794 holds, 794 > 221 breaks: changing the ballots alone would break the sum, so the
    # decoding changes both misread 1s, keeping the sum and the bound.
    rules = RuleSet([*SUMS, *BOUNDS])
    probs = {
        "p.VALID": box_probs("778", {0: ("1", 0.3)}),
        "p.BLANK": box_probs("007"),
        "p.NULL": box_probs("009"),
        "m.BALLOTS": box_probs("794", {0: ("1", 0.3)}),
        "m.ELECTORS": box_probs("221"),
    }
    [fix] = constrained_reading(rules, probs)
    assert fix.labels == {"p.VALID": (1, 7, 8), "m.BALLOTS": (1, 9, 4)}


# 2019, mesa 70343 as read: every `1` of the presidente column and the ballots read as `4`. Both presidente
# sums hold, the ballots exceed the electors; CC is tied to the ballots only through VOTOS_VALIDOS.
CHAIN = [
    RuleSpec(name="valid = parties", left=["p.VALID"], right=["p.CC", "p.MAS"]),
    RuleSpec(name="ballots", left=["p.VALID", "p.BLANK", "p.NULL"], right=["m.BALLOTS"]),
    RuleSpec(name="d ballots", left=["d.VALID", "d.BLANK", "d.NULL"], right=["m.BALLOTS"]),
    RuleSpec(name="d valid = parties", left=["d.VALID"], right=["d.CC", "d.MAS"]),
    BOUNDS[0],
]
CONSISTENT_1_AS_4 = {
    "p.CC": 456,
    "p.MAS": 30,
    "p.VALID": 486,
    "p.BLANK": 0,
    "p.NULL": 8,
    "m.BALLOTS": 494,
    "m.ELECTORS": 227,
    "d.CC": 150,
    "d.MAS": 27,
    "d.VALID": 177,
    "d.BLANK": 12,
    "d.NULL": 5,
}


def test_a_broken_bound_follows_the_holding_sums_of_the_fields_over_it() -> None:
    checks = RuleSet(CHAIN).check(CONSISTENT_1_AS_4)
    assert [c.ok for c in checks] == [True, True, False, True, False]
    assert checks[4].over == ["m.BALLOTS"] and checks[4].suspects == ["m.BALLOTS", "m.ELECTORS"]
    doubt = in_doubt(checks)
    # the chain ballots -> valid + blank + null (holds) -> valid = parties (holds) reaches CC and MAS
    assert {"p.CC", "p.MAS", "p.VALID", "p.BLANK", "p.NULL", "m.BALLOTS", "m.ELECTORS"} <= set(doubt)
    assert all(r.code is ReasonCode.BOUND_BROKEN for r in doubt["p.CC"])
    # the diputados sum on the ballots is broken (its side, 194, is not inflated): its fields are in doubt
    # by that sum, but the diputados parties, behind a broken sum, are not followed
    assert "d.CC" not in doubt and "d.MAS" not in doubt
    assert vouched_fields(checks) == {"d.CC", "d.MAS", "d.VALID"}


def test_the_right_side_of_a_bound_on_each_field_is_not_followed() -> None:
    # one diputados count over the ballots (a misread 1 -> 4) does not put the presidente column in doubt
    # through the ballots, which two holding sums vouch for
    each = RuleSpec(name="d each <= ballots", left=["d.CC", "d.MAS"], right=["m.BALLOTS"], op="<=", each=True)
    values = {**CONSISTENT_1_AS_4, "p.CC": 156, "p.VALID": 186, "m.BALLOTS": 194, "d.CC": 450, "d.VALID": 177}
    checks = RuleSet([*CHAIN[:4], each]).check(values)
    assert [c.ok for c in checks] == [True, True, True, False, False]
    assert checks[4].over == ["d.CC"]
    doubt = in_doubt(checks)
    assert "p.CC" not in doubt and "p.MAS" not in doubt
    assert {"d.CC", "m.BALLOTS"} <= set(doubt)
