"""From the located box groups to one cell per box: for each box of a group patch, the classifier's
canvas. Find the pen ink, drop what is not a digit.

Ink is measured against the box's own paper colour, so faint scans and shadows do not matter. What
is not a digit: specks (small components), fragments of the printed border (thin components
lying along the box's edge), and bands along an edge (a coloured column's tint or a printed rule the
crop took in: `pipeline.marks.edge_bands`). A box whose remaining ink is too little or too small is blank and gets
an empty canvas. Otherwise the strokes are followed out into the trimmed margin (a juror's `2` sits its
base on the box's bottom line; cut there it reads `7`), and the ink goes through `center_digit`, the
same function training used.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.box_groups import GroupPatch
from pipeline.digit_input import INPUT_SIZE, center_digit
from pipeline.marks import NO_MARK, MarkScore, edge_bands, x_score
from pipeline.quantiles import median, percentile
from pipeline.schema import PixelBox

U8 = npt.NDArray[np.uint8]

INSET = 0.06  # fraction of the box trimmed on each side: the printed border is about this thick
MIN_CONTRAST = 40  # grey levels between paper and ink below which nothing is ink
MIN_COMPONENT = 0.004  # of the box area: smaller components are specks
MIN_INK_HEIGHT = 0.28  # of the box height: a digit's ink is at least this tall
MIN_EXTENT = 0.5  # of the box height: `center_digit` does not blow up marks smaller than this
MARGIN_LINE = 0.7  # of the box's width (height): a margin row (column) inked this far along is the printed border
RULE_SPAN = 0.9  # of the box's width (height): a straight run this long across the box is a printed rule
STROKE = 0.11  # target stroke width as a fraction of the ink's height (MNIST's proportion)


@dataclass(frozen=True)
class Cell:
    canvas: U8  # INPUT_SIZE x INPUT_SIZE, empty when blank
    ink: bool  # a digit-like mark was found
    mark: MarkScore = NO_MARK  # how much the ink looks like an `X` (a form's no-digit mark)


def segment_cell(patch: U8, rect: tuple[int, int, int, int], score_marks: bool = False) -> Cell:
    """`score_marks`: also score the ink as the no-digit `X` (only forms that declare the mark need it)."""
    x, y, w, h = rect
    dx, dy = int(round(w * INSET)), int(round(h * INSET))
    # the box, and inside it the inset, clipped to the patch (a box the grid put partly off the patch)
    box_at = _clip((y, y + h, x, x + w), patch.shape)
    inset_at = _clip((y + dy, y + h - dy, x + dx, x + w - dx), patch.shape)
    roi = patch[inset_at[0] : inset_at[1], inset_at[2] : inset_at[3]]
    if roi.size == 0:
        return _blank()
    paper = paper_level(roi)
    smooth = _smooth(ink_strength(roi, paper))
    if float(smooth.max()) <= MIN_CONTRAST:  # nothing can seed ink (`high` is at least this): blank
        return _blank()
    low, high = ink_thresholds(smooth)
    mask = ink_mask(smooth, low, high)
    # a rule the digit touches is one component with it: dropped where a digit is left without it
    lines = straight_rules(mask)
    keep = _digit_components(mask & ~lines & ~edge_bands(mask & ~lines), h) if lines.any() else None
    if keep is None:  # a band of tint or a printed rule along the box's edge is not pen ink, even alone in the box
        keep = _digit_components(mask & ~edge_bands(mask), h)
    if keep is None:
        return _blank()
    mark = x_score(keep) if score_marks else NO_MARK
    # the strokes followed into the trimmed margin, measured against the same paper
    box = patch[box_at[0] : box_at[1], box_at[2] : box_at[3]]
    darkness = ink_strength(box, paper)
    keep = into_margin(keep, darkness, low, (inset_at[0] - box_at[0], inset_at[2] - box_at[2]))
    # Soft ink (anti-aliased edges, as in MNIST) limited to the kept strokes and their fringe.
    support = cv2.dilate(keep.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    peak = percentile(darkness[keep], 90)
    ink = np.clip(darkness / max(peak, 1.0), 0, 1) * support
    ink = normalise_stroke(ink, keep)
    return Cell(center_digit((ink * 255).astype(np.uint8), min_extent=MIN_EXTENT * h), True, mark)


def _blank() -> Cell:
    """A blank box: an empty canvas (its own array: a caller may write into a canvas)."""
    return Cell(np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8), False)


def _clip(span: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) within an image of `shape`; empty (y1 <= y0 or x1 <= x0) when it lies outside."""
    y0, y1, x0, x1 = span
    h, w = shape[:2]
    y0, x0 = min(max(0, y0), h), min(max(0, x0), w)
    return y0, max(y0, min(y1, h)), x0, max(x0, min(x1, w))


def paper_level(roi: U8) -> float:
    """The box's paper grey: most of a box is paper."""
    gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
    return percentile(gray.astype(np.float32), 80)


def ink_strength(roi: U8, paper: float) -> npt.NDArray[np.float32]:
    """How far each pixel is from the paper (its `paper_level`), in grey levels; pen colour counts as
    darkness too."""
    if roi.ndim == 3:
        gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY).astype(np.float32)
        b, _g, r = (roi[..., i].astype(np.float32) for i in range(3))
        chroma = np.maximum(b - r, 0) * 0.8  # blue pen on white or grey paper
    else:
        gray, chroma = roi.astype(np.float32), np.zeros(roi.shape, np.float32)
    return np.maximum(paper - gray, chroma)


def _smooth(darkness: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # about a third of a stroke's width: averages out halftone grain, which is finer than any stroke
    return np.asarray(cv2.GaussianBlur(darkness, (0, 0), 1.0), np.float32)


def ink_thresholds(smooth: npt.NDArray[np.float32]) -> tuple[float, float]:
    """(low, high) darkness for `ink_mask`, from the box's own (smoothed) contrast and grain."""
    flat = smooth.ravel()
    noise = 1.4826 * median(np.abs(flat - median(flat)))
    peak = percentile(flat, 99.5)
    high = max(MIN_CONTRAST, 0.5 * peak)
    # A big bold digit can cover half the box; its strokes then count as "noise" and would lift the
    # low threshold over the high one, leaving only specks (a clear `5` read as an empty box).
    low = min(high, max(0.5 * MIN_CONTRAST, 4 * noise, 0.25 * peak))
    return low, high


def ink_mask(smooth: npt.NDArray[np.float32], low: float, high: float) -> npt.NDArray[np.bool_]:
    """Hysteresis threshold on the smoothed darkness: confident ink seeds (over `high`), grown through
    fainter connected pixels (over `low`), so a faint or thin stroke stays whole while paper grain stays out."""
    weak = (smooth > low).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    seeded = np.zeros(n, bool)
    seeded[np.unique(labels[smooth > high])] = True
    seeded[0] = False
    return seeded[labels]


def straight_rules(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Printed rules crossing the box in its outer third, as a box located a little off takes them in:
    a run of at most a few rows (columns) inked over RULE_SPAN of the width (height), and a row (column)
    of fringe each side. A pen stroke that long and straight would have to run from edge to edge."""
    h, w = mask.shape
    out = np.zeros((h, w), bool)
    for axis, length, size in ((1, w, h), (0, h, w)):
        full = mask.sum(axis=axis) >= RULE_SPAN * length
        full[size // 3 : size - size // 3] = False  # the outer thirds only
        for start, stop in _runs(full):
            if stop - start <= max(5, 0.12 * size):
                sl = slice(max(0, start - 1), min(size, stop + 1))  # and its grey fringe
                if axis == 1:
                    out[sl, :] |= mask[sl, :]
                else:
                    out[:, sl] |= mask[:, sl]
    return out


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def into_margin(
    keep: npt.NDArray[np.bool_], darkness: npt.NDArray[np.float32], low: float, at: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """`keep` (found inside the inset, placed at `at` in the whole box) and the ink that continues it
    into the margin the inset trimmed: a stroke running on from a kept one. The printed border in that
    margin is a line along the edge, so a margin row (or column) inked over most of the box's width (or
    height) is left out first; what of the digit shared those rows is lost, the rest is kept."""
    weak = _smooth(darkness) > low
    bh, bw = weak.shape
    oy, ox = at
    kh, kw = keep.shape
    inner = np.zeros((bh, bw), bool)
    inner[oy : oy + kh, ox : ox + kw] = True
    margin = weak & ~inner
    lines = np.zeros((bh, bw), bool)
    lines[margin.sum(axis=1) >= MARGIN_LINE * bw, :] = True
    lines[:, margin.sum(axis=0) >= MARGIN_LINE * bh] = True
    placed = np.zeros((bh, bw), bool)
    placed[oy : oy + kh, ox : ox + kw] = keep
    reach = (margin & ~lines) | placed
    n, labels = cv2.connectedComponents(reach.astype(np.uint8), connectivity=8)
    touching = np.zeros(n, bool)
    touching[np.unique(labels[placed])] = True
    touching[0] = False
    return placed | (touching[labels] & margin & ~lines)


def _digit_components(mask: npt.NDArray[np.bool_], box_h: int) -> npt.NDArray[np.bool_] | None:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    rh, rw = mask.shape
    min_area = MIN_COMPONENT * rh * rw
    keep = np.zeros(mask.shape, bool)
    tallest = 0
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < min_area:
            continue
        if _border_fragment(x, y, w, h, rw, rh):
            continue
        keep |= labels == i
        tallest = max(tallest, int(h))
    # A digit has at least one tall stroke; scattered specks only add up to a tall bounding box.
    if tallest < MIN_INK_HEIGHT * box_h:
        return None
    return keep


def _border_fragment(x: int, y: int, w: int, h: int, rw: int, rh: int) -> bool:
    """A thin straight component in the outer band of the box: what is left of the printed border.

    Horizontal: long and flat within the top or bottom fifth. Vertical: straight (a few pixels wide:
    the arc of a large `0` or `8` near the edge is wider) and wholly within the left or right sixth.
    Or a thin line across the whole crop in its outer third (a border the crop took in)."""
    flat = h <= max(5, 0.1 * rh) and w >= 0.25 * rw and (y + h <= 0.2 * rh or y >= 0.8 * rh)
    upright = w <= max(5, 0.08 * rw) and (x + w <= 0.16 * rw or x >= 0.84 * rw)
    # A box located a little off (unsnapped, or a scan's local stretch) takes in its printed border or
    # the next box's: a thin line crossing the crop edge to edge in its outer third. A pen stroke that
    # long and straight would have to overrun the box at both ends.
    across_v = y == 0 and y + h == rh and w <= max(5, 0.12 * rw) and (x + w <= rw / 3 or x >= 2 * rw / 3)
    across_h = x == 0 and x + w == rw and h <= max(5, 0.12 * rh) and (y + h <= rh / 3 or y >= 2 * rh / 3)
    return bool(flat or upright or across_v or across_h)


def normalise_stroke(ink: npt.NDArray[np.floating], keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.floating]:
    """Thicken thin pen strokes towards MNIST's stroke-to-height ratio (fine pens on big scans)."""
    ys = np.nonzero(keep.any(axis=1))[0]
    height = ys[-1] - ys[0] + 1
    dist = cv2.distanceTransform(keep.astype(np.uint8), cv2.DIST_L2, 3)
    width = 2 * percentile(dist[keep], 90)
    grow = int(round((STROKE * height - width) / 2))
    if grow <= 0:
        return ink
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return np.asarray(cv2.dilate(ink.astype(np.float32), k), np.float32)


@dataclass(frozen=True)
class LocatedCell:
    field: str  # section.KEY
    cell: Cell  # the segmented digit, model-ready
    box: PixelBox  # where the box is in the scan


def segment_groups(groups: dict[str, GroupPatch], score_marks: bool = False) -> list[LocatedCell]:
    """Every box of every field, in template order, segmented for the classifier."""
    return [
        LocatedCell(name, segment_cell(g.image, rect, score_marks), _to_scan_box(g, rect))
        for name, g in groups.items()
        for rect in g.cells
    ]


def _to_scan_box(g: GroupPatch, rect: tuple[int, int, int, int]) -> PixelBox:
    x, y, w, h = rect
    corners = np.array([[[x, y]], [[x + w, y]], [[x + w, y + h]], [[x, y + h]]], np.float64)
    pts = cv2.perspectiveTransform(corners, g.to_scan).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
