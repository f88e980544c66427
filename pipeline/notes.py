"""The acta's notes box (OBSERVACIONES): whether the jurors wrote in it.

Jurors correct the paper there ("corre y vale": the votes written under one party belong to another, a
recount), and the official result follows the note, not the boxes: on bo2019-general mesa 52078 the
note moved 26 votes from 21F to MAS-IPSP and every sum still held. No reading of the digits can catch
that, so a written note sends the acta to a person (`pipeline.review.flag_notes`).

Writing is told from an empty box by dark strokes on the paper, after dropping what is not writing: the
printed rules along the box (long straight runs), specks and printed dots (small components), and a
single straight stroke struck across the empty box, which jurors draw so that nothing can be added
(a component whose width across its own axis is that of one pen stroke).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.templates import Box

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

# Measured on the 112 real scans in ../shared (2019, 2020, 2025 forms), each warped into its reference
# frame (1600 px wide: a pen stroke is 2-5 px). Values in reference-frame pixels.
PAPER_WINDOW = 15  # the local paper level: the brightest pixel in this square (wider than a stroke)
# A pixel is ink this share of the scan's contrast under the paper (the scan's grey range, its 1st to 99th
# percentile: paper to printed black), between INK_MIN_DELTA and INK_MAX_DELTA levels: on a washed-out copy
# a fixed step of grey levels loses the pen, and on a crisp one a larger step loses a light ballpoint
# (bo2019-general mesa_72147's note fell under the bar with the step at 75).
INK_CONTRAST = 0.3
INK_MIN_DELTA = 20
INK_MAX_DELTA = 60
DOT_GAP = 9  # printed dotted lines (2025 forms) are closed across gaps this wide, then removed as rules
RULE_RUN = 80  # a straight horizontal or vertical run this long is a printed rule, not writing
MIN_COMPONENT = 40  # pixels: smaller components are specks, printed dots, dust
# A flat strip along the box's top or bottom edge is the printed heading band or footer rule that a
# registration a few pixels off brings in (synthetic first-round actas, rotated and warped: 8 px), not
# writing: a component touching that edge, at most this tall and at least FLAT_RATIO times as wide.
FLAT_HEIGHT = 12
FLAT_RATIO = 3
# A strike-out, or a piece of one (a faint pen or a grainy copy breaks it): a component at least this
# long, no wider on average than a pen stroke, and straight to within a small share of its length (a
# hand-drawn line bows a little). Letters are shorter; a word or a signature is neither thin nor straight.
STRIKE_LENGTH = 50
STRIKE_WIDTH = 6.0  # px: area / length
STRIKE_BOW = 0.06  # spread across the component's axis (std) / its length
# The share of the box's area in writing above which the note counts as written (see docs/authoring.md:
# the 112 real scans' shares, written and empty, and where this falls between them).
WRITTEN_SHARE = 0.004


@dataclass(frozen=True)
class NotesInk:
    """What is in the notes box: the share of its area in writing, the strike-outs left aside, and the box
    in the scan's pixels (axis-aligned bounds, for the review page)."""

    share: float
    strikes: int
    box: tuple[int, int, int, int]

    @property
    def written(self) -> bool:
        return self.share >= WRITTEN_SHARE


def notes_patch(scan: U8, scan_to_ref: F64, region: Box) -> U8:
    """The notes box warped into the reference frame, grey."""
    x, y, w, h = region
    ref_to_patch = np.array([[1, 0, -x], [0, 1, -y], [0, 0, 1]], np.float64)
    patch = cv2.warpPerspective(
        scan, ref_to_patch @ scan_to_ref, (int(w), int(h)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch, np.uint8)


def ink_delta(scan: U8) -> float:
    """Grey levels under the paper that make a pixel ink, from the scan's own contrast."""
    small = cv2.resize(scan, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    # the grey range from the histogram (a quantile by sorting half a million pixels costs more than the rest)
    cdf = np.cumsum(np.bincount(np.asarray(small, np.uint8).ravel(), minlength=256)) / small.size
    low, high = int(np.searchsorted(cdf, 0.01)), int(np.searchsorted(cdf, 0.99))
    return float(np.clip(INK_CONTRAST * (high - low), INK_MIN_DELTA, INK_MAX_DELTA))


def writing_mask(patch: U8, delta: float) -> U8:
    """The pixels of the patch that are writing (255): `delta` under the local paper, rules and specks
    removed."""
    smooth = cv2.medianBlur(patch, 3)  # the grain of a photocopy or a photo is not ink
    paper = cv2.dilate(smooth, cv2.getStructuringElement(cv2.MORPH_RECT, (PAPER_WINDOW, PAPER_WINDOW)))
    ink = np.where(paper.astype(np.int16) - smooth.astype(np.int16) > delta, 255, 0).astype(np.uint8)
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, DOT_GAP), np.uint8))
    rules = cv2.bitwise_or(
        cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((1, RULE_RUN), np.uint8)),
        cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((RULE_RUN, 1), np.uint8)),
    )
    return np.asarray(cv2.subtract(ink, cv2.dilate(rules, np.ones((3, 3), np.uint8))), np.uint8)


def strike_like(points: npt.NDArray[np.int64]) -> bool:
    """Whether a component's pixels (N, 2) are one straight stroke: long, a pen's width, and straight."""
    minor, major = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(points.T.astype(np.float64))), 0.0))
    length = major * np.sqrt(12.0)  # a uniform stroke of length L has std L/sqrt(12) along it
    return bool(length >= STRIKE_LENGTH and len(points) / length <= STRIKE_WIDTH and minor <= STRIKE_BOW * length)


def edge_strip(stat: npt.NDArray[np.int32], height: int) -> bool:
    """Whether a component (its `connectedComponentsWithStats` row) is a flat strip on the top or bottom edge."""
    top, h, w = int(stat[cv2.CC_STAT_TOP]), int(stat[cv2.CC_STAT_HEIGHT]), int(stat[cv2.CC_STAT_WIDTH])
    on_edge = top == 0 or top + h == height
    return on_edge and h <= FLAT_HEIGHT and w >= FLAT_RATIO * h


def notes_ink(scan: U8, scan_to_ref: F64, region: Box) -> NotesInk:
    """Measure the writing in the template's notes box (`VariantSpec.notes`)."""
    mask = writing_mask(notes_patch(scan, scan_to_ref, region), ink_delta(scan))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    writing = strikes = 0
    for i in range(1, n):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < MIN_COMPONENT or edge_strip(stats[i], mask.shape[0]):
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        # a straight stroke's bounds are at least its length across: the rest cannot be one
        if np.hypot(w, h) >= STRIKE_LENGTH and strike_like(np.argwhere(labels[y : y + h, x : x + w] == i)):
            strikes += 1
        else:
            writing += area
    return NotesInk(round(writing / float(mask.size), 5), strikes, _scan_box(scan_to_ref, region, scan.shape[:2]))


def _scan_box(scan_to_ref: F64, region: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, w, h = region
    corners = np.array([[[x, y]], [[x + w, y]], [[x + w, y + h]], [[x, y + h]]], np.float64)
    pts = cv2.perspectiveTransform(corners, np.linalg.inv(scan_to_ref)).reshape(-1, 2)
    x0, y0 = np.clip(pts.min(axis=0), 0, [shape[1], shape[0]]).astype(int)
    x1, y1 = np.clip(pts.max(axis=0), 0, [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
