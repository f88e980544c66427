"""Marks that say "no digit here": an `X` across an unused box (the 2020 jurors' rule).

The digit model has never seen such a mark and reads a crossed box as a digit (66 of 105 `X`s were
read as `4` on the 2020 scans before this). A cross is told by its shape: two straight strokes along
the two diagonals of its own bounding box, crossing, covering both diagonals end to end, with little
ink elsewhere. Digits fail that test: `4` and `7` have a single diagonal and ink off it, `0` and `8`
run along the bounding box's edges, a `1` is too narrow for its diagonals to be apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

# Chosen on the 75 inked boxes of one 2020 scan in ../shared (25001.jpg, labelled by eye, no truth exists):
# its 41 crosses had >= 0.83 of their ink near the diagonals and covered both over >= 0.75; the digit
# nearest to a cross (a large `2`) had 0.82 and 0.70, so it lands in "maybe" (flagged). Rechecked by eye
# on all six 2020 scans in ../shared (210 crossed boxes, 6 of them the pre-printed JUNTOS `x`; crops and
# counts in docs/authoring.md): 192 read as no digit, 14 maybe (flagged), 4 read as a digit (in fields
# flagged by the rules); no digit read as a sure cross, 31 digits (mostly `1`s with a flag) maybe.
NEAR = 0.16  # of the ink's bounding-box side: how close to a diagonal a pixel must be
X_ON_DIAGONALS = 0.83  # share of the ink near a diagonal for a sure cross
X_COVERAGE = 0.75  # share of each diagonal's length that the ink covers for a sure cross
MAYBE_ON_DIAGONALS = 0.75  # between these and the sure ones: maybe a cross (flagged)
MAYBE_COVERAGE = 0.6
X_BALANCE = 0.25  # a `2`'s long diagonal carries most of its ink, a cross's two strokes share it
MAYBE_BALANCE = 0.25
MIN_ASPECT = 0.45  # width / height of a cross's ink at least this (and at most its inverse)
BINS = 20  # a diagonal is covered where at least one ink pixel projects into each of these bins
# A band of tint along a box's edge (`edge_bands`): it touches the edge and spans at least
# EDGE_BAND of it, with at least BAND_SHARE of its pixels within BAND_DEPTH of the box's sides. The
# bands seen on the 2020 scans span 90-100% of a side and lie wholly in the outer 15%; a cross corner to
# corner has about 40% of its ink in the outer 20%.
EDGE_BAND = 0.5
BAND_DEPTH = 0.2
BAND_SHARE = 0.8


@dataclass(frozen=True)
class MarkScore:
    on_diagonals: float  # share of the ink near one of the two diagonals
    coverage: float  # the lesser of the two diagonals' covered shares
    aspect_ok: bool
    balance: float = 0.0  # the lesser diagonal's share of the near-diagonal ink (a cross: about half)

    @property
    def is_x(self) -> bool:
        return (
            self.aspect_ok
            and self.on_diagonals >= X_ON_DIAGONALS
            and self.coverage >= X_COVERAGE
            and self.balance >= X_BALANCE
        )

    @property
    def maybe_x(self) -> bool:
        return (
            not self.is_x
            and self.aspect_ok
            and self.on_diagonals >= MAYBE_ON_DIAGONALS
            and self.coverage >= MAYBE_COVERAGE
            and self.balance >= MAYBE_BALANCE
        )


NO_MARK = MarkScore(0.0, 0.0, False)


def edge_bands(ink: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The ink's components that lie along an edge of the box: touching it, over at least EDGE_BAND of
    its length, with nearly all their pixels (BAND_SHARE) in the box's outer frame (BAND_DEPTH of each
    side). That is the tint of a coloured column or band that the crop took in beside a white box
    (2020: a band 8-14 px wide down the right of a row's third box, a dotted band across the bottom of
    VOTOS NULOS, a tinted ring round a box), or a printed rule the crop caught. Pen strokes run through
    the middle and meet the edges at their tips only."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    h, w = ink.shape
    dy, dx = max(1, int(round(BAND_DEPTH * h))), max(1, int(round(BAND_DEPTH * w)))
    frame = np.ones((h, w), bool)
    frame[dy : h - dy, dx : w - dx] = False
    bands = np.zeros((h, w), bool)
    for i in range(1, n):
        x, y, cw, ch, area = (int(v) for v in stats[i])
        along = max(
            cw / w if (y == 0 or y + ch == h) else 0.0,  # on the top or bottom edge, this share of it
            ch / h if (x == 0 or x + cw == w) else 0.0,  # on the left or right edge
        )
        comp = labels == i
        if along >= EDGE_BAND and (comp & frame).sum() >= BAND_SHARE * area:
            bands |= comp
    return bands


def without_edge_bands(ink: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The ink less its `edge_bands`, where something else is left to judge."""
    n = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)[0]
    if n <= 2:
        return ink
    out = ink & ~edge_bands(ink)
    return out if out.sum() >= 10 else ink


def x_score(ink: npt.NDArray[np.bool_]) -> MarkScore:
    """How much the ink (a box's kept pen strokes) looks like an `X` across its own bounding box, once
    the bands along its edges are left out (`without_edge_bands`)."""
    ink = without_edge_bands(ink)
    ys, xs = np.nonzero(ink)
    if xs.size < 10:
        return NO_MARK
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    w, h = float(x1 - x0 + 1), float(y1 - y0 + 1)
    aspect_ok = MIN_ASPECT <= w / h <= 1 / MIN_ASPECT
    u = (xs - x0 + 0.5) / w  # ink in its bounding box's unit square
    v = (ys - y0 + 0.5) / h
    near_a = np.abs(u - v) / np.sqrt(2) <= NEAR  # top-left to bottom-right
    near_b = np.abs(u + v - 1) / np.sqrt(2) <= NEAR  # bottom-left to top-right
    on = float((near_a | near_b).mean())

    def covered(near: npt.NDArray[np.bool_], t: npt.NDArray[np.float64]) -> float:
        if not near.any():
            return 0.0
        bins = np.unique(np.clip((t[near] * BINS).astype(int), 0, BINS - 1))
        return bins.size / BINS

    coverage = min(covered(near_a, (u + v) / 2), covered(near_b, (u + 1 - v) / 2))
    only_a, only_b = float((near_a & ~near_b).sum()), float((near_b & ~near_a).sum())
    balance = min(only_a, only_b) / max(1.0, only_a + only_b)
    return MarkScore(on, coverage, aspect_ok, balance)
