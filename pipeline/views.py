"""Test-time views: a written box read several ways, its probabilities averaged.

A digit the model reads right tends to stay right when it is turned a little, thickened or shrunk; a
confident misread tends not to, so the average drops below the review thresholds. Measured with the
shipped model on the 10,000 MNIST test digits (`python -m bench.views`): one view reads 98.71% and
leaves 15 misreads at confidence >= 0.99 (93.0% of digits that sure); the five views below read 98.92%
and leave 2 (90.0% that sure). The reader spends them where it matters (`second_look`): on the boxes
of the fields of a rule the first reading breaks, before the review decides which of those fields are
sure enough to spare (`pipeline.thresholds.BROKEN_RULE_SURE_CONFIDENCE`). Empty canvases (blank boxes)
look the same every way and are read once.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.digit_input import INPUT_SIZE

U8 = npt.NDArray[np.uint8]
View = Callable[[U8], U8]

_CENTRE = ((INPUT_SIZE - 1) / 2, (INPUT_SIZE - 1) / 2)
_KERNEL = np.ones((2, 2), np.uint8)


def _affine(angle: float, scale: float) -> View:
    m = cv2.getRotationMatrix2D(_CENTRE, angle, scale)
    return lambda c: np.asarray(cv2.warpAffine(c, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR), np.uint8)


def _thicken(c: U8) -> U8:
    return np.asarray(cv2.dilate(c, _KERNEL), np.uint8)


# Small changes a juror's hand makes anyway: slant (8 degrees either way), a thicker pen, a smaller digit.
VIEWS: dict[str, View] = {
    "identity": lambda c: c,
    "rotate+8": _affine(8, 1.0),
    "rotate-8": _affine(-8, 1.0),
    "thicken": _thicken,
    "shrink": _affine(0, 0.85),
}
DEFAULT_VIEWS: tuple[str, ...] = tuple(VIEWS)
SINGLE_VIEW: tuple[str, ...] = ("identity",)


def parse_views(names: str) -> tuple[str, ...]:
    """'identity, rotate+8' -> ('identity', 'rotate+8')."""
    return tuple(v.strip() for v in names.split(",") if v.strip())


def check_views(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in VIEWS]
    if unknown or not names:
        raise ValueError(f"unknown or no views {unknown}; known: {', '.join(VIEWS)}")
    return names


def expand(canvases: U8, names: tuple[str, ...]) -> U8:
    """(N, S, S) canvases -> (len(names) * N, S, S): every canvas in the first view, then the next..."""
    check_views(names)
    if not len(canvases):
        return canvases
    return np.concatenate([np.stack([VIEWS[n](c) for c in canvases]) for n in names])


def average_over_views(
    predict: Callable[[U8], npt.NDArray[np.float32]],
    canvases: U8,
    names: tuple[str, ...],
    first: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Calibrated probabilities (N, classes) averaged over the views; `predict` maps (M, S, S) canvases
    to (M, classes) probabilities. `first` is the plain reading if already made (it stands for the
    identity view); otherwise every canvas is read once first. Canvases with no ink look the same every
    way and keep that reading."""
    check_views(names)
    probs = predict(canvases) if first is None else first
    out = probs.copy()
    others = tuple(n for n in names if n != "identity")
    written = canvases.reshape(len(canvases), -1).any(axis=1)
    if not others or not written.any():
        return out
    n = int(written.sum())
    total = predict(expand(canvases[written], others)).reshape(len(others), n, -1).sum(axis=0)
    if len(others) < len(names):
        total += probs[written]
    out[written] = total / len(names)
    return out


def second_look(
    predict: Callable[[U8], npt.NDArray[np.float32]],
    canvases: U8,
    fields: list[str],
    suspects: Callable[[npt.NDArray[np.float32]], set[str]],
    names: tuple[str, ...] = DEFAULT_VIEWS,
) -> npt.NDArray[np.float32]:
    """Read every box once; then read the boxes of the `suspects` (the fields of a broken rule, given
    the probabilities so far) in every view and average (`average_over_views`, the first reading
    standing for the identity view). Repeated while a re-read puts other fields under suspicion; each
    field is re-read at most once. `fields[i]` names canvas i's field.

    Most actas obey their rules at the first look and cost one reading; the views are spent where a
    misread may hide, and where the review decides whether a field of a broken rule is sure."""
    check_views(names)
    probs = predict(canvases)
    if set(names) == {"identity"}:
        return probs
    field_of = np.array(fields, dtype=object)
    looked: set[str] = set()
    while todo := suspects(probs) - looked:
        idx = np.flatnonzero(np.isin(field_of, sorted(todo)))
        looked |= todo
        probs[idx] = average_over_views(predict, canvases[idx], names, first=probs[idx])
    return probs
