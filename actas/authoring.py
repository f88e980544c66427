"""Author a form template from sample scans: `actas forms new` drafts it, `actas forms check` verifies it.

`new ID SAMPLE...` registers every sample to the first (SIFT + homography, no template needed), finds
the printed box groups in each (rows of equal boxes bounded by printed lines, `pipeline.box_grid`),
keeps the groups that most samples agree on, and writes into `--out`:
- `ID.json`: a draft template, one section per column of groups, fields named `R01`, `R02`... by row,
  each label saying where the printed label is (left of the row, or above it) so the fields can be
  named from the form (rename them, set labels, add the printed rules; `actas forms check` tells what
  still fails);
- `ID.VARIANT.jpg`: the reference image, the per-pixel median of the registered samples (handwriting
  differs between samples, the print does not), with every box group and every region where the
  samples differ (names, ID numbers, signatures, fingerprints, stamps, codes) painted over in the
  paper's colour: it ships in the repository, so look at it;
- `ID.VARIANT.overlay.png`: the proposed groups (green, with their index) and the masked regions
  (orange) over the first sample.
It never overwrites a file unless `--force`.

`check ID SAMPLE...` registers each sample to the template, snaps each box group to its printed lines
and reports per group and per sample what was found, and why not where not; `--overlay DIR` draws it
on each sample's colour scan warped into the template's frame. With `--write` it moves each group to
its median snapped position (rounded to half a pixel, so a second run changes nothing).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from actas.files import write_atomic
from pipeline.box_grid import BoxGroup, all_boxes, consensus_boxes, darkest_channel, group_boxes, line_mask
from pipeline.box_groups import CELL_HEIGHT_PX, MARGIN, printed_lines
from pipeline.registration import FormRegistrar, register_pair
from pipeline.templates import Template, load_template, load_templates

U8 = npt.NDArray[np.uint8]
Rect = tuple[float, float, float, float]

FRAME_WIDTH = 1600  # the reference frame's width: the 2025 forms' boxes are given in a 1600-px frame
REFERENCE_WIDTH = 1200  # the shipped reference JPEG's width (the reader scales the frame to it)
JPEG_QUALITY = 85  # 1200-px grayscale references come out at 100-250 KB
BOX_AGREEMENT = 0.3  # share of samples that must show a box clean for the draft to keep it
# Where the registered samples differ by more than this (grey levels, darkest channel, against their
# median), a sample carries something of its own: handwriting, a stamp, a code. Measured on the 2019
# set: the print's own misregistration stays under 25 along lines; handwriting is 60-150.
DIFFERS = 45
MASK_GROW = 9  # px (frame) a masked region is grown by: pen strokes have soft edges
MIN_MASK_AREA = 60  # px (frame): smaller differences are noise or a line's misregistration
MASK_TILE = 16  # px (frame): masks are drawn on a grid this fine
MIN_TILE_SHARE = 0.02  # of a tile's pixels that must differ for the tile to be masked
# A group moves only when its printed lines are at least this far (frame px) from where the template
# has it: snapping locates a line to about a pixel (run means on a patch resampled at ~1.8x), so smaller
# moves would make `check --write` drift from run to run instead of settling.
MIN_MOVE_PX = 1.5
MAX_FIELD_DIGITS = 6  # FieldSpec's limit: a count has at most this many boxes
COLUMN_GAP = 60  # px (frame): groups whose left edges are this close form one column


@dataclass(frozen=True)
class Sample:
    path: Path
    image: U8  # BGR, warped into the first sample's frame at FRAME_WIDTH
    inliers: int


def _load(path: Path) -> U8:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return np.asarray(img, np.uint8)


def register_samples(paths: list[Path], width: int = FRAME_WIDTH) -> list[Sample]:
    """Every sample warped into the frame of the first, resized to `width`; unregistrable ones dropped
    (with a message)."""
    base = _load(paths[0])
    s = width / base.shape[1]
    size = (width, int(round(base.shape[0] * s)))
    base_frame = np.asarray(cv2.resize(base, size, interpolation=cv2.INTER_AREA), np.uint8)
    ref_gray = np.asarray(cv2.cvtColor(base_frame, cv2.COLOR_BGR2GRAY), np.uint8)
    out = [Sample(paths[0], base_frame, -1)]
    for p in paths[1:]:
        img = _load(p)
        found = register_pair(ref_gray, np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8))
        if found is None:
            print(f"  {p}: does not register to {paths[0].name}; left out (another print variant?)", file=sys.stderr)
            continue
        h, n = found
        warped = cv2.warpPerspective(img, h, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        out.append(Sample(p, np.asarray(warped, np.uint8), n))
    return out


def differing_regions(samples: list[Sample]) -> list[Rect]:
    """Regions where the registered samples differ from their median: what each acta carries of its own."""
    if len(samples) < 3:
        return []
    # darkness against each sample's own paper, so a darker scan's print does not count as ink
    dark = np.stack([_darkness(darkest_channel(s.image)) for s in samples])
    med = np.median(dark, axis=0)
    off = np.abs(dark - med[None])
    # The print is dark in the median and alike in every sample; fingerprints and signatures sit at the
    # same places on most actas (so the median is dark there too) but differ from one to the next.
    steady = np.median(off, axis=0) < DIFFERS / 3
    printed = cv2.dilate(((med > DIFFERS / 2) & steady).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    mask = (((off > DIFFERS).any(axis=0)) & ~printed).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # thin misregistered lines
    mask = cv2.dilate(mask, np.ones((2 * MASK_GROW + 1, 2 * MASK_GROW + 1), np.uint8))
    return tile_rects(mask > 0)


def tile_rects(mask: npt.NDArray[np.bool_], tile: int = MASK_TILE) -> list[Rect]:
    """A mask as rectangles on a grid of tiles (a tile with enough masked pixels is masked): each row's
    runs of masked tiles, joined down while a run below has the same extent. Chains of strokes across
    the page stay many modest rectangles instead of one that covers the form."""
    h, w = mask.shape
    ty, tx = -(-h // tile), -(-w // tile)
    padded = np.zeros((ty * tile, tx * tile), bool)
    padded[:h, :w] = mask
    tiles = padded.reshape(ty, tile, tx, tile).mean(axis=(1, 3)) > MIN_TILE_SHARE
    open_runs: dict[tuple[int, int], list[int]] = {}  # (x0, x1) -> [y0, y1]
    out: list[Rect] = []
    for y in range(ty):
        runs = []
        x = 0
        while x < tx:
            if tiles[y, x]:
                x0 = x
                while x < tx and tiles[y, x]:
                    x += 1
                runs.append((x0, x))
            x += 1
        for key in list(open_runs):
            if key not in runs:
                y0, y1 = open_runs.pop(key)
                out.append(_tile_rect(key, y0, y1, tile, w, h))
        for key in runs:
            open_runs.setdefault(key, [y, y])[1] = y + 1
    for key, (y0, y1) in open_runs.items():
        out.append(_tile_rect(key, y0, y1, tile, w, h))
    return out


def _tile_rect(xs: tuple[int, int], y0: int, y1: int, tile: int, w: int, h: int) -> Rect:
    x0, x1 = xs[0] * tile, min(w, xs[1] * tile)
    return (float(x0), float(y0 * tile), float(x1 - x0), float(min(h, y1 * tile) - y0 * tile))


def _darkness(gray: U8) -> npt.NDArray[np.int16]:
    paper = int(np.percentile(gray, 90))
    return (paper - gray.astype(np.int16)).clip(0, None)


def _merge_touching(rects: list[Rect]) -> list[Rect]:
    """Rectangles of which one lies inside another dropped, the rest kept, rounded to whole pixels."""
    rs = sorted(rects, key=lambda r: -r[2] * r[3])
    kept: list[Rect] = []
    for r in rs:
        if not any(
            k[0] <= r[0] and k[1] <= r[1] and r[0] + r[2] <= k[0] + k[2] and r[1] + r[3] <= k[1] + k[3] for k in kept
        ):
            kept.append(r)
    return [(round(r[0]), round(r[1]), round(r[2]), round(r[3])) for r in sorted(kept, key=lambda r: (r[1], r[0]))]


def masked_reference(samples: list[Sample], masks: list[Rect]) -> U8:
    """The print every sample shares (their median, grayscale) with the masks painted in paper colour."""
    gray = np.stack([cv2.cvtColor(s.image, cv2.COLOR_BGR2GRAY) for s in samples])
    ref = np.asarray(np.median(gray, axis=0), np.uint8)
    paper = int(np.percentile(ref, 90))
    for x, y, w, h in masks:
        cv2.rectangle(ref, (int(x), int(y)), (int(x + w), int(y + h)), paper, -1)
    return ref


def _columns(groups: list[BoxGroup]) -> list[list[BoxGroup]]:
    cols: list[list[BoxGroup]] = []
    for g in sorted(groups, key=lambda g: g.rect[0]):
        if cols and abs(cols[-1][0].rect[0] - g.rect[0]) <= COLUMN_GAP:
            cols[-1].append(g)
        else:
            cols.append([g])
    return [sorted(c, key=lambda g: g.rect[1]) for c in cols]


def _barcodes(img: U8, to_frame: float) -> list[dict[str, object]]:
    """Each barcode zxing-cpp reads on the (full-resolution) sample, as a mesa-code candidate region in
    the frame (`to_frame`: sample px -> frame px)."""
    import zxingcpp

    out: list[dict[str, object]] = []
    for b in zxingcpp.read_barcodes(img):
        p = b.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        pad = 12  # frame px: the quiet zone, and registration's few pixels
        x0, y0 = min(xs) * to_frame - pad, min(ys) * to_frame - pad
        region = [
            round(max(0.0, x0)),
            round(max(0.0, y0)),
            round((max(xs) - min(xs)) * to_frame + 2 * pad),
            round((max(ys) - min(ys)) * to_frame + 2 * pad),
        ]
        name = str(b.format).replace(" ", "")  # zxing-cpp prints "Code 128"; its enum is Code128
        out.append({"format": name, "text": b.text, "region": [float(v) for v in region]})
    return out


LABEL_REACH = 10  # box widths: how far left of a group its printed label may start
LABEL_GAP = 1.2  # box widths: a wider gap ends the label (words of one label are closer)


def label_rect(text: npt.NDArray[np.bool_], vertical: npt.NDArray[np.bool_], rect: Rect) -> tuple[Rect | None, str]:
    """Where the group's printed label is: the text nearest left of the row (`"left"`), up to the first
    printed vertical line past it (the label's cell); or, where there is none, the text right above the
    group (`"above"`, as the mesa counts' questions); None when neither shows text. `text` and
    `vertical`: `text_and_verticals` of the reference."""
    x, y, w, h = rect
    H, W = text.shape
    y0, y1 = int(max(0, y + 0.15 * h)), int(min(H, y + 0.85 * h))
    x_lo, x_hi = int(max(0, x - LABEL_REACH * h)), int(max(0, x - 3))
    has_text = np.asarray(text[y0:y1, x_lo:x_hi].any(axis=0), bool)
    is_line = np.asarray(vertical[y0:y1, x_lo:x_hi].mean(axis=0) > 0.6, bool)
    clusters: list[list[int]] = []  # runs of text columns, right to left, split at gaps and printed lines
    for c in range(x_hi - x_lo - 1, -1, -1):
        if is_line[c]:
            clusters.append([])
        elif has_text[c]:
            if clusters and clusters[-1] and clusters[-1][-1] - c <= LABEL_GAP * h:
                clusters[-1].append(c)
            else:
                clusters.append([c])
    words = [cl for cl in clusters if cl and cl[0] - cl[-1] + 1 >= 0.25 * h]  # a letter or more
    if words:  # the nearest: its words are closer than LABEL_GAP, and no printed line comes between
        lx0, lx1 = x_lo + words[0][-1], x_lo + words[0][0] + 1
        r0 = int(max(0, y - 0.1 * h))
        rows = np.nonzero(text[r0 : int(min(H, y + 1.1 * h)), lx0:lx1].any(axis=1))[0]
        return (float(lx0), float(r0 + rows[0]), float(lx1 - lx0), float(rows[-1] - rows[0] + 1)), "left"
    a0, a1, b0 = int(max(0, y - 2.5 * h)), int(max(0, y - 2)), int(max(0, x - w))
    above = text[a0:a1, b0 : int(min(W, x + 2 * w))]
    rows = np.nonzero(above.any(axis=1))[0]
    if rows.size:
        cols = np.nonzero(above[rows[0] : rows[-1] + 1].any(axis=0))[0]
        box = (float(b0 + cols[0]), float(a0 + rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))
        return box, "above"
    return None, "none"


def text_and_verticals(gray: U8, box_h: float) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Printed text (dark, not a line, in letter-sized pieces) and the printed vertical lines."""
    dark = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)
    k = max(5, int(box_h * 0.7))
    vertical = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))) > 0
    rest = (dark > 0) & ~(line_mask(gray, box_h) > 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    for i in range(1, n):
        _x, _y, cw, ch, area = (int(v) for v in stats[i])
        sliver = (cw <= 3 and ch >= 3 * cw) or (ch <= 3 and cw >= 3 * ch)  # what is left of a line
        keep[i] = area >= 6 and ch >= 0.15 * box_h and ch <= 1.2 * box_h and not sliver
    return keep[labels], vertical


@dataclass(frozen=True)
class Proposal:
    key: str  # colN.RNN, as the draft names it
    group: BoxGroup
    label: Rect | None  # where its printed label is (frame px)
    label_side: str  # "left", "above" or "none"


def proposals(groups: list[BoxGroup], gray: U8) -> list[Proposal]:
    """The draft's fields in its order (columns left to right, rows top down), each with its label."""
    out: list[Proposal] = []
    if not groups:
        return out
    text, vertical = text_and_verticals(gray, float(np.median([g.rect[3] for g in groups])))
    for ci, col in enumerate(_columns(groups), 1):
        for ri, g in enumerate(col, 1):
            rect, side = label_rect(text, vertical, g.rect)
            out.append(Proposal(f"col{ci}.R{ri:02d}", g, rect, side))
    return out


def fmt_json(template: dict[str, object]) -> str:
    """JSON with each box on one line, so a template's diffs stay readable."""
    text = json.dumps(template, indent=2, ensure_ascii=False)
    return re.sub(r"\[\s+([-\d.]+),\s+([-\d.]+),\s+([-\d.]+),\s+([-\d.]+)\s+\]", r"[\1, \2, \3, \4]", text) + "\n"


def draft(
    form_id: str,
    variant: str,
    props: list[Proposal],
    size: tuple[int, int],
    masks: list[Rect],
    codes: list[dict[str, object]],
) -> dict[str, object]:
    sections: dict[str, list[dict[str, object]]] = {}
    boxes = {}
    for p in props:
        col, fkey = p.key.split(".")
        g = p.group
        where = f"boxes at x {g.rect[0]:.0f}, y {g.rect[1]:.0f}"
        if p.label is not None:
            lx, ly, lw, lh = p.label
            where += f"; printed label {p.label_side}, at [{lx:.0f}, {ly:.0f}, {lw:.0f}, {lh:.0f}]"
        else:
            where += "; no printed label found left of or above it"
        sections.setdefault(col, []).append({"key": fkey, "label": f"{p.key} ({where})", "digits": g.n})
        boxes[p.key] = [round(v * 2) / 2 for v in g.rect]
    v: dict[str, object] = {
        "id": variant,
        "reference": f"{form_id}.{variant}.jpg",
        "size": list(size),
        "masked": [list(m) for m in masks],
        "boxes": boxes,
    }
    if codes:
        v["mesa_code"] = {
            "regions": [c["region"] for c in codes],
            "formats": sorted({str(c["format"]) for c in codes}),
            "pattern": r"^(\d+)$",
            "format": r"\1",
        }
    return {
        "id": form_id,
        "title": f"{form_id} (draft: name the fields and add the printed rules)",
        "sections": [
            {"key": col, "title": f"column {col.removeprefix('col')}", "fields": fields}
            for col, fields in sections.items()
        ],
        "rules": [],
        "variants": [v],
    }


def overlay(img: U8, props: list[Proposal], masks: list[Rect]) -> U8:
    """Masks orange, proposed groups green with their draft key, each label blue with a line to its group."""
    out = img.copy()
    for x, y, w, h in masks:
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), (0, 140, 255), 2)
    for p in props:
        x, y, w, h = (int(v) for v in p.group.rect)
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 180, 0), 2)
        cv2.putText(out, p.key, (x, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 0, 0), 1, cv2.LINE_AA)
        if p.label is not None:
            lx, ly, lw, lh = (int(v) for v in p.label)
            cv2.rectangle(out, (lx, ly), (lx + lw, ly + lh), (220, 80, 0), 1)
            start, end = (
                ((lx + lw, ly + lh // 2), (x, y + h // 2)) if p.label_side == "left" else ((lx, ly + lh), (x, y))
            )
            cv2.line(out, start, end, (220, 80, 0), 1)
    return out


def cmd_new(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out: Path = args.out
    targets = [
        out / f"{args.id}.json",
        out / f"{args.id}.{args.variant}.jpg",
        out / f"{args.id}.{args.variant}.overlay.png",
    ]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.force:
        print(f"actas forms new: {', '.join(existing)} exist; --force to overwrite", file=sys.stderr)
        return 2
    samples = register_samples(list(args.samples))
    boxes = consensus_boxes([all_boxes(s.image) for s in samples], BOX_AGREEMENT)
    groups = [g for g in group_boxes(boxes, args.min_boxes)]
    diff = differing_regions(samples)
    grow = 4.0  # the handwriting inside a group spills over its border
    masks = _merge_touching(
        [*diff, *((g.rect[0] - grow, g.rect[1] - grow, g.rect[2] + 2 * grow, g.rect[3] + 2 * grow) for g in groups)]
    )
    size = (samples[0].image.shape[1], samples[0].image.shape[0])
    first = _load(args.samples[0])
    codes = _barcodes(np.asarray(cv2.cvtColor(first, cv2.COLOR_BGR2GRAY), np.uint8), size[0] / first.shape[1])
    ref = masked_reference(samples, masks)
    # longer rows of boxes are ID numbers (personal data: masked, never a count field)
    groups = [g for g in groups if g.n <= MAX_FIELD_DIGITS]
    props = proposals(groups, ref)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(targets[0], fmt_json(draft(args.id, args.variant, props, size, masks, codes)).encode())
    small = cv2.resize(
        ref, (REFERENCE_WIDTH, int(round(ref.shape[0] * REFERENCE_WIDTH / ref.shape[1]))), interpolation=cv2.INTER_AREA
    )
    write_atomic(targets[1], bytes(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]))
    write_atomic(targets[2], bytes(cv2.imencode(".png", overlay(samples[0].image, props, masks))[1]))
    found_codes = ", ".join(f"{c['format']} {c['text']!r}" for c in codes) or "none"
    print(
        f"{len(samples)} of {len(args.samples)} samples registered; {len(groups)} box groups "
        f"({', '.join(f'{n}x{sum(g.n == n for g in groups)}' for n in sorted({g.n for g in groups}))} boxes); "
        f"{len(masks)} masked regions ({len(diff)} where samples differ); barcodes: "
        f"{found_codes}; {time.perf_counter() - t0:.1f} s"
    )
    if len(samples) < 3:
        print(
            "  fewer than 3 samples: only the box groups are masked; mask names, signatures and codes by hand",
            file=sys.stderr,
        )
    for t in targets:
        print(f"  wrote {t}")
    return 0


def _template(ref: str, templates_dir: Path | None) -> tuple[Template, Path]:
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return load_template(path), path
    dirs = (templates_dir,) if templates_dir else ()
    known = load_templates(*dirs)
    if ref not in known:
        raise ValueError(f"no template {ref!r}; known: {', '.join(known)}")
    t = known[ref]
    return t, t.directory / f"{t.id}.json"


def snapped_rect(gray: U8, rect: Rect, n: int) -> tuple[Rect, str | None]:
    """The group's printed border in the frame of `gray` (already in the reference frame), or the
    template's own rect and why it was not found."""
    x, y, w, h = rect
    s = CELL_HEIGHT_PX / h
    m = MARGIN * h
    to_patch = np.array([[s, 0, -(x - m) * s], [0, s, -(y - m) * s], [0, 0, 1]], np.float64)
    size = (int(round((w + 2 * m) * s)), int(round((h + 2 * m) * s)))
    patch = np.asarray(
        cv2.warpPerspective(gray, to_patch, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE), np.uint8
    )
    expected = (m * s, m * s, w * s, h * s)
    found, problem = border_from_lines(*printed_lines(patch, expected, n), expected, n)
    if found is None:
        return rect, problem
    px0, py0, pw, ph = found
    return (px0 / s + x - m, py0 / s + y - m, pw / s, ph / s), None


def border_from_lines(
    top: float | None, bottom: float | None, xs: list[float | None], expected: Rect, n: int
) -> tuple[Rect | None, str | None]:
    """A group's outer border from the printed lines found near `expected` (top, bottom, the n + 1
    verticals), or None and why not.

    Rows printed with one horizontal line only are common: a row of pre-printed `X X X` on a grey band
    over the tinted column (2020, JUNTOS), a box row under a double rule or on a band that ends at the
    boxes (2020, diputados VOTOS VÁLIDOS). With every vertical line found, the one line found and the box
    height (the template's, which the author set from the rows' pitch) place the other, provided both
    outer verticals are found; where both horizontals are found but not a box apart, the one nearer its
    expected place stands. The verticals may miss one line (handwriting over a divider; with both
    horizontals found, an outer one too: it then comes from the pitch of those found)."""
    _ex, ey, _ew, eh = expected
    if top is not None and bottom is not None and not eh * 0.85 < bottom - top < eh * 1.15:
        if abs(top - ey) <= abs(bottom - (ey + eh)):
            bottom = None
        else:
            top = None
    found = [(i, v) for i, v in enumerate(xs) if v is not None]
    if top is None and bottom is None:
        return None, f"no printed top or bottom line within {eh * 0.3:.0f} px of where expected"
    if top is None or bottom is None:
        if len(found) < n or xs[0] is None or xs[-1] is None:
            which = "top" if top is None else "bottom"
            return None, (
                f"no printed {which} line within {eh * 0.3:.0f} px of where expected, and {len(found)} of "
                f"{n + 1} vertical lines found (both outer ones and at most one hidden divider needed to place "
                "it from the box height)"
            )
        if top is None:
            top = bottom - eh if bottom is not None else ey
        if bottom is None:
            bottom = top + eh
    if len(found) < n:
        return None, f"{len(found)} of {n + 1} vertical lines found (at most one may be hidden)"
    if xs[0] is not None and xs[-1] is not None:
        x0, x1 = xs[0], xs[-1]
    else:  # one outer line hidden: the others' pitch places it
        i_s = np.array([i for i, _ in found], np.float64)
        v_s = np.array([v for _, v in found], np.float64)
        slope, icept = np.polyfit(i_s, v_s, 1)
        x0 = xs[0] if xs[0] is not None else float(icept)
        x1 = xs[-1] if xs[-1] is not None else float(icept + slope * n)
    return (x0, top, x1 - x0, bottom - top), None


def stable_snap(gray: U8, rect: Rect, n: int) -> tuple[Rect, str | None]:
    """`snapped_rect`, kept only when snapping again from where it landed stays there: a group that jumps
    between two sets of lines (a row's gaps on the 2020 form's tinted columns) is reported, not moved, so
    that `check --write` settles."""
    r1, problem = snapped_rect(gray, rect, n)
    if problem:
        return rect, problem
    r2, problem = snapped_rect(gray, r1, n)
    if problem or max(abs(a - b) for a, b in zip(r1, r2, strict=True)) >= MIN_MOVE_PX / 2:
        return rect, "snapping is not stable here (two sets of lines near the group)"
    return r1, None


def check_overlay(frame: U8, boxes: dict[str, Rect], res: dict[str, tuple[Rect, str | None]]) -> U8:
    """A sample in the template's frame: each group where it snapped (green) or, where it did not, where
    the template has it (red, with the start of why); the template's own rect thin grey under a snap."""
    out = frame.copy()
    for k, (r, problem) in res.items():
        x, y, w, h = (int(round(v)) for v in r)
        if problem is None:
            bx, by, bw, bh = (int(round(v)) for v in boxes[k])
            cv2.rectangle(out, (bx, by), (bx + bw, by + bh), (160, 160, 160), 1)
            cv2.rectangle(out, (x, y), (x + w, y + h), (0, 170, 0), 2)
            cv2.putText(out, k.split(".")[-1], (x, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 120, 0), 1, cv2.LINE_AA)
        else:
            cv2.rectangle(out, (x, y), (x + w, y + h), (0, 0, 230), 2)
            why = f"{k.split('.')[-1]}: {problem[:40]}"
            cv2.putText(out, why, (x, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 200), 1, cv2.LINE_AA)
    return out


def cmd_check(args: argparse.Namespace) -> int:
    tpl, path = _template(args.template, args.templates_dir)
    registrar = FormRegistrar({tpl.id: tpl})
    found: dict[tuple[str, str], list[Rect]] = {}
    misses: dict[tuple[str, str], list[str]] = {}
    for sample in args.samples:
        img = _load(sample)
        gray = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)
        try:
            ranked = registrar.register_ranked(gray, only=tpl.id)
        except ValueError as exc:
            print(f"{sample}: not registered: {exc}")
            continue
        best = None
        for reg in ranked:  # the variant whose groups snap best
            frame = np.asarray(
                cv2.warpPerspective(gray, reg.scan_to_ref, reg.variant.size, flags=cv2.INTER_AREA), np.uint8
            )
            res = {k: stable_snap(frame, box, tpl.fields[k][1].digits) for k, box in reg.variant.boxes.items()}
            ok = sum(p is None for _r, p in res.values())
            if best is None or ok > best[0]:
                best = (ok, reg, res)
        assert best is not None
        ok, reg, res = best
        print(f"{sample}: {reg.variant.id}, {reg.inliers} inliers, {ok}/{len(res)} groups snapped")
        if args.overlay:
            # the colour scan in the template's frame, so the author sees the print the lines came from
            colour = np.asarray(
                cv2.warpPerspective(img, reg.scan_to_ref, reg.variant.size, flags=cv2.INTER_AREA), np.uint8
            )
            args.overlay.mkdir(parents=True, exist_ok=True)
            target = args.overlay / f"{sample.stem}.check.png"
            write_atomic(target, bytes(cv2.imencode(".png", check_overlay(colour, reg.variant.boxes, res))[1]))
            print(f"    wrote {target}")
        for k, (r, problem) in res.items():
            if problem:
                misses.setdefault((reg.variant.id, k), []).append(f"{sample.name}: {problem}")
                print(f"    {k:36s} NOT FOUND: {problem}")
            else:
                found.setdefault((reg.variant.id, k), []).append(r)
    print("per group (variant, field: samples snapped, median move in px):")
    raw = json.loads(path.read_text(encoding="utf-8"))
    changed = 0
    for v in tpl.variants:
        raw_v = next(x for x in raw["variants"] if x["id"] == v.id)
        for k, box in v.boxes.items():
            rs = found.get((v.id, k), [])
            nm = len(misses.get((v.id, k), []))
            if not rs:
                print(
                    f"  {v.id} {k:36s} 0/{nm}"
                    + (f"  e.g. {misses[(v.id, k)][0]}" if nm else "  (no sample of this variant)")
                )
                continue
            med = [round(float(c) * 2) / 2 for c in np.median(np.array(rs), axis=0)]
            move = max(abs(a - b) for a, b in zip(med, box, strict=True))
            print(f"  {v.id} {k:36s} {len(rs)}/{len(rs) + nm}  moves {move:.1f} px")
            if move >= MIN_MOVE_PX:
                raw_v["boxes"][k] = med
                changed += 1
    if args.write and changed:
        write_atomic(path, fmt_json(raw).encode())
        print(f"wrote {path}: {changed} groups moved to their printed lines")
    elif changed:
        print(f"{changed} groups would move; --write to update {path}")
    else:
        print("nothing to change")
    return 0
