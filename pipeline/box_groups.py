"""Cut a field's digit boxes out of a registered scan.

Registration puts a field's group of boxes within a few pixels of where the template says. Here each
group is resampled from the original scan into an upright patch at a fixed resolution, and its printed
border lines are found in that patch (they are the strongest long dark lines near the expected place),
so small errors of registration, paper warp or printing do not cut digits in half.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.registration import Registration

Rect = tuple[float, float, float, float]  # x, y, w, h
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

CELL_HEIGHT_PX = 64  # patch resolution: one box is resampled to this height
MARGIN = 0.45  # patch margin around the group, as a fraction of the box height


@dataclass(frozen=True)
class GroupPatch:
    """An upright crop of one field's boxes and how to map it back to the scan."""

    image: U8  # BGR or gray patch
    to_scan: F64  # 3x3 homography, patch pixel -> scan pixel
    cells: list[tuple[int, int, int, int]]  # each box's inner rectangle in patch pixels
    snapped: bool  # True when the printed lines were found, False when the template's guess is used


def extract_group(scan: U8, scan_to_ref: F64, rect: Rect, n_cells: int) -> GroupPatch:
    """Resample the group at `rect` (reference frame) from `scan` and locate its boxes."""
    x, y, w, h = rect
    s = CELL_HEIGHT_PX / h
    m = MARGIN * h
    ref_to_patch = np.array([[s, 0, -(x - m) * s], [0, s, -(y - m) * s], [0, 0, 1]], np.float64)
    size = (int(round((w + 2 * m) * s)), int(round((h + 2 * m) * s)))
    scan_to_patch = ref_to_patch @ scan_to_ref
    patch = np.asarray(
        cv2.warpPerspective(scan, scan_to_patch, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE),
        np.uint8,
    )
    expected = (m * s, m * s, w * s, h * s)
    cells, snapped = locate_cells(_gray(patch), expected, n_cells)
    return GroupPatch(patch, np.asarray(np.linalg.inv(scan_to_patch), np.float64), cells, snapped)


def printed_lines(gray: U8, expected: Rect, n_cells: int) -> tuple[float | None, float | None, list[float | None]]:
    """The printed lines near where `expected` puts them: top, bottom, and each vertical (None: not found)."""
    ex, ey, ew, eh = expected
    dark = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, _odd(eh * 0.6), 8)
    horiz = cv2.morphologyEx(
        dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (_odd(ew / n_cells * 0.6), 1))
    )
    vert = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, _odd(eh * 0.5))))
    x0, x1 = int(max(0, ex)), int(min(gray.shape[1], ex + ew))
    y0, y1 = int(max(0, ey)), int(min(gray.shape[0], ey + eh))
    rows = horiz[:, x0:x1].mean(axis=1) / 255.0  # fraction of the group's width that is line, per row
    cols = vert[y0:y1, :].mean(axis=0) / 255.0
    search_y, search_x = eh * 0.3, ew / n_cells * 0.3
    top = _peak(rows, ey, search_y)
    bottom = _peak(rows, ey + eh, search_y)
    lines_x = [_peak(cols, ex + ew * i / n_cells, search_x) for i in range(n_cells + 1)]
    return top, bottom, lines_x


def snap_problem(gray: U8, expected: Rect, n_cells: int) -> str | None:
    """Why the group's printed border is not found at `expected` (None when it is): for authors."""
    _ex, _ey, _ew, eh = expected
    top, bottom, lines_x = printed_lines(gray, expected, n_cells)
    if top is None or bottom is None:
        return f"no printed {'top' if top is None else 'bottom'} line within {eh * 0.3:.0f} px of where expected"
    if not eh * 0.85 < bottom - top < eh * 1.15:
        return f"top and bottom lines {bottom - top:.0f} px apart, box height {eh:.0f} expected"
    found = sum(lx is not None for lx in lines_x)
    if found < n_cells:
        return f"{found} of {n_cells + 1} vertical lines found (at most one may be hidden)"
    return None


def locate_cells(gray: U8, expected: Rect, n_cells: int) -> tuple[list[tuple[int, int, int, int]], bool]:
    """Find the group's outer border and dividers near `expected`; inner rectangles of each box."""
    ex, ey, ew, eh = expected
    top, bottom, lines_x = printed_lines(gray, expected, n_cells)
    found = top is not None and bottom is not None and eh * 0.85 < bottom - top < eh * 1.15
    ty, by = (top, bottom) if found and top is not None and bottom is not None else (ey, ey + eh)
    xs = [lx if lx is not None else ex + ew * i / n_cells for i, lx in enumerate(lines_x)]
    found = found and sum(lx is not None for lx in lines_x) >= n_cells
    # Interpolate a missing divider from the outer border (handwriting can hide a line).
    if lines_x[0] is not None and lines_x[-1] is not None:
        for i, lx in enumerate(lines_x):
            if lx is None:
                xs[i] = lines_x[0] + (lines_x[-1] - lines_x[0]) * i / n_cells
    cells = []
    for i in range(n_cells):
        cx0, cx1 = xs[i], xs[i + 1]
        cells.append((int(round(cx0)), int(round(ty)), int(round(cx1 - cx0)), int(round(by - ty))))
    return cells, found


def _peak(profile: npt.NDArray[np.floating], center: float, radius: float, min_strength: float = 0.35) -> float | None:
    """The printed line nearest `center` within `radius`: among runs of strong values, the one that
    best trades strength for closeness (a neighbouring box's border can be stronger but farther)."""
    lo, hi = max(0, int(center - radius)), min(len(profile), int(center + radius) + 1)
    if hi <= lo:
        return None
    seg = profile[lo:hi]
    strong = np.nonzero(seg >= min_strength)[0]
    if strong.size == 0:
        return None
    runs = np.split(strong, np.nonzero(np.diff(strong) > 1)[0] + 1)
    best_pos, best_score = None, -np.inf
    for run in runs:
        pos = float(lo + run.mean())
        score = float(seg[run].max()) - abs(pos - center) / radius
        if score > best_score:
            best_pos, best_score = pos, score
    return best_pos


def _odd(v: float) -> int:
    n = max(3, int(round(v)))
    return n if n % 2 else n + 1


def _gray(img: U8) -> U8:
    return img if img.ndim == 2 else np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)


def locate_groups(scan: U8, reg: Registration) -> dict[str, GroupPatch]:
    """Every field's group of boxes under this registration, in template order."""
    fields = reg.template.fields
    return {
        name: extract_group(scan, reg.scan_to_ref, box, fields[name][1].digits)
        for name, box in reg.variant.boxes.items()
    }


def share_located(groups: dict[str, GroupPatch]) -> float:
    """The share of groups whose printed border was found where the template puts it."""
    return sum(g.snapped for g in groups.values()) / max(1, len(groups))
