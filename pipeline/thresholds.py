"""The review thresholds: every number that decides whether a field goes to a person, with where it
comes from. Change one only with a new sweep (`python -m bench.thresholds`, README "Counts you can
trust"), and say on which data.

Provenance: chosen with `bench.thresholds` on 2 x 1,000 synthetic actas (bo2025-runoff and
bo2025-general, `actas synth --seed 2026`, the shipped model, 98.71% on MNIST test) as the cheapest
triple (a silent error costs 100 flags) with at most 0.1% of fields wrong and unflagged and at most 5%
flagged: 4.82% flagged, 0.026% unflagged. Flagging every field of a broken rule instead flagged 9.06%
(0.014% unflagged); sparing from 0.99: 4.24%, 0.037%. Checked out of sample on 2 x 500 actas of seed 7:
5.09% flagged, 0.046% unflagged.

Re-swept on 2026-12-03 with the real-digit model (`docs/real-digits.md`), kept as they are: on 500 + 500
synthetic actas (seed 2026) they flag 7.98% (runoff) and 9.63% (first round) with no wrong field
unflagged, and the sweep's cheapest triple (no confidence threshold at all, sure >= 0.99/0.993: 4.88%
and 8.59%) trusts the rules alone, which the real scans do not support; on the 35 held-out 2019 scans
every triple short of flagging everything leaves the same 2 fields (one acta's correction note) unflagged,
and the shipped triple flags 8.33%. The model is less sure of MNIST-style synthetic digits than of real
ones, so the synthetic flag rate rose (4.8-5.5% before) while the real one fell (2019: 54% -> 8%).
"""

from __future__ import annotations

# A field in a rule that holds is vouched for by the sum (a misread would have to be cancelled by
# another to pass), so it needs less confidence than one no holding rule checks.
CHECKED_MIN_CONFIDENCE = 0.65  # fields in at least one equality that holds
# Every field of the 2025 forms is in a rule, so this only meets fields of broken rules, which the sure
# threshold judges first; it stays at a conservative 0.90 for forms with rule-less fields.
FIELD_MIN_CONFIDENCE = 0.90  # fields that no holding rule checks
# A field of a broken rule is a possible culprit unless read at least this sure after the second look
# (`pipeline/views.py`) and the sum is one misread box apart (`pipeline.rules.sparable`; added after the
# sweep, when real 2019 scans showed sure misreads behind sums several boxes apart: README); the acta
# stays flagged and the broken rule listed either way. None flags all.
BROKEN_RULE_SURE_CONFIDENCE: float | None = 0.993

# Errors that agree: when the same doubtful reading (a box read `7` at under this confidence with `1`
# next) turns up in several fields, a misread repeated across the acta (a juror's flagged `1` read as `7`
# everywhere) can keep a sum true, so a holding sum does not vouch for those fields (`pipeline.review`).
# Set to the unvouched threshold: such a field then needs what a field no rule checks needs.
# Measured with `python -m bench.agreeing_errors` (synthetic actas with one confusion per acta).
REPEATED_DOUBT_CONFIDENCE = FIELD_MIN_CONFIDENCE

# Registration is verified by the boxes themselves: at least this share of a form's box groups must
# show their printed border where the template puts them (a wrong form or warp finds almost none).
MIN_BOXES_FOUND = 0.5
