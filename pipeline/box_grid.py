"""Find a form's printed digit boxes with no template: rows of equal, adjacent boxes drawn in lines.

Used to author a template (`actas forms new`) and to check one. The printed lines are what every copy
of a form shares: long straight strokes, horizontal or vertical, in any colour (2019's boxes are
printed in pink, 2025's in grey). Handwriting rarely survives a morphological opening with a kernel
half a box long, so the lines, not the digits, define the boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
Rect = tuple[float, float, float, float]

# In the reference frame (1600 px wide, `actas forms new`), the digit boxes of the 2019, 2020 and 2025
# Bolivian forms are 26-40 px tall and 22-36 px wide; these bounds leave room for other forms.
MIN_BOX_PX = 14
MAX_BOX_PX = 90
MAX_ASPECT = 1.8  # a digit box is about square: w/h and h/w at most this
SAME_SIZE = 0.18  # boxes of one group differ in width and height by at most this share
MAX_GAP = 0.6  # of the box width: the gap between two boxes of a group (shared or double line)
MIN_FILL = 0.6  # of its bounding box: the inside of a box is a rectangle, less what handwriting cuts off


@dataclass(frozen=True)
class BoxGroup:
    rect: Rect  # outer border of the group: x, y, w, h
    n: int  # boxes in it

    @property
    def box_size(self) -> tuple[float, float]:
        return self.rect[2] / self.n, self.rect[3]


def line_mask(gray: U8, box_px: float = 30.0) -> U8:
    """The printed straight lines of a (reference-frame) image: dark pixels that belong to a horizontal
    or vertical run at least half a box long."""
    dark = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 10)
    k = max(5, int(box_px * 0.5))
    horiz = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    vert = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    # bridge gaps along each line (worn print, a divider that stops short of a faint edge)
    horiz = cv2.morphologyEx(horiz, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    vert = cv2.morphologyEx(vert, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    lines = cv2.bitwise_or(horiz, vert)
    # close 1-2 px breaks in the print so a box's inside is a closed region
    return np.asarray(cv2.dilate(lines, np.ones((3, 3), np.uint8)), np.uint8)


def darkest_channel(img: U8) -> U8:
    """Lines printed in colour are dark in at least one channel: the minimum over B, G, R."""
    return img if img.ndim == 2 else np.asarray(img.min(axis=2), np.uint8)


def line_channel(img: U8) -> U8:
    """The channel in which printed lines show and blue pen hardly does: blue. Grey and pink (2019)
    print is darker than paper in it; blue ballpoint is as light as paper, so handwriting does not
    close or cut the boxes (black pen still shows, and the opening removes most of it)."""
    return img if img.ndim == 2 else np.asarray(img[..., 0], np.uint8)


def find_boxes(gray: U8) -> list[Rect]:
    """Every closed, box-sized, near-square region bounded by printed lines (the inside of each box)."""
    return _box_components(255 - line_mask(gray))


def group_boxes(boxes: list[Rect], min_boxes: int = 2) -> list[BoxGroup]:
    """Boxes in a row of equal size with small gaps, joined into groups (left to right), each as the
    outer border (the inside rectangles grown by the line half-width the mask took)."""
    rest = sorted(boxes, key=lambda b: (b[0], b[1]))
    used = [False] * len(rest)
    groups = []
    for i, b in enumerate(rest):
        if used[i]:
            continue
        row = [b]
        used[i] = True
        while True:
            last = row[-1]
            nxt = None
            for j, c in enumerate(rest):
                if used[j]:
                    continue
                gap = c[0] - (last[0] + last[2])
                if (
                    -2 <= gap <= MAX_GAP * last[2]
                    and abs(c[1] - last[1]) <= 0.2 * last[3]
                    and abs(c[2] - last[2]) <= SAME_SIZE * last[2]
                    and abs(c[3] - last[3]) <= SAME_SIZE * last[3]
                ):
                    nxt = j
                    break
            if nxt is None:
                break
            used[nxt] = True
            row.append(rest[nxt])
        if len(row) >= min_boxes:
            x0 = row[0][0] - 1.5
            x1 = row[-1][0] + row[-1][2] + 1.5
            y0 = min(r[1] for r in row) - 1.5
            y1 = max(r[1] + r[3] for r in row) + 1.5
            groups.append(BoxGroup((x0, y0, x1 - x0, y1 - y0), len(row)))
    return sorted(groups, key=lambda g: (g.rect[0], g.rect[1]))


def bright_boxes(gray: U8) -> list[Rect]:
    """Boxes printed as white squares on a tinted band with no drawn border (the 2020 form's columns):
    regions brighter than their surroundings, of box size and shape."""
    bright = np.asarray(
        cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 51, -4), np.uint8
    )
    bright = np.asarray(
        cv2.erode(bright, np.ones((3, 3), np.uint8)), np.uint8
    )  # split boxes that touch through a faint gap
    return [(x - 1, y - 1, w + 2, h + 2) for x, y, w, h in _box_components(bright)]


def _box_components(inside: U8) -> list[Rect]:
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
    out: list[Rect] = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (MIN_BOX_PX <= w <= MAX_BOX_PX and MIN_BOX_PX <= h <= MAX_BOX_PX):
            continue
        if max(w / h, h / w) > MAX_ASPECT or area < MIN_FILL * w * h:
            continue
        out.append((float(x), float(y), float(w), float(h)))
    return out


def all_boxes(img: U8) -> list[Rect]:
    """Boxes bounded by lines (blue channel: the pen hardly shows; darkest channel: lines on a tinted
    column) and boxes printed white on a tint, each box once."""
    sources = [find_boxes(line_channel(img))]
    if img.ndim == 3:
        sources.append(find_boxes(darkest_channel(img)))
    sources.append(bright_boxes(darkest_channel(img)))
    boxes: list[Rect] = []
    for found in sources:
        for b in found:
            if all(_overlap(b, k) < 0.5 for k in boxes):
                boxes.append(b)
    return boxes


def _overlap(a: Rect, b: Rect) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / min(a[2] * a[3], b[2] * b[3])


def consensus_boxes(per_sample: list[list[Rect]], min_share: float) -> list[Rect]:
    """Boxes found in at least `min_share` of the samples, each at the median of its findings: a box a
    juror wrote across (an `X` from corner to corner) on one acta is clean on another."""
    clusters: list[list[Rect]] = []
    for boxes in per_sample:
        for b in boxes:
            for c in clusters:
                if (
                    _overlap(c[0], b) > 0.6
                    and abs(c[0][2] - b[2]) < SAME_SIZE * b[2]
                    and abs(c[0][3] - b[3]) < SAME_SIZE * b[3]
                ):
                    c.append(b)
                    break
            else:
                clusters.append([b])
    need = max(1, int(np.ceil(min_share * len(per_sample))))
    out = []
    for c in clusters:
        if len(c) >= need:
            m = np.median(np.array(c), axis=0)
            out.append((float(m[0]), float(m[1]), float(m[2]), float(m[3])))
    return out


def find_groups(img: U8, min_boxes: int = 2) -> list[BoxGroup]:
    """The printed box groups of one reference-frame image (BGR or gray)."""
    return group_boxes(all_boxes(img), min_boxes)
