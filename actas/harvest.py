"""Real digits from real actas: every box the reader locates, written as a crop and as the classifier's
input, with a label where one is known.

    actas harvest SCANS... --out DATASET [--hand-labels FILE ...] [--heldout 0.4] [--seed 2026] [--checked]

DATASET gets

- `crops/<sha256[:16]>/<section.KEY>-<box>.png`: the box cut from the scan at the scan's own resolution;
- `canvas/<sha256[:16]>/<section.KEY>-<box>.png`: the classifier's input for that box (`pipeline.cells`);
- `manifest.jsonl`: one line per box (`HarvestRow`): scan file and sha256, form, variant, field, box, label,
  where the label came from (`truth`: a truth.json beside the scan, e.g. an official results table; `hand`:
  a hand-label file; `checked`: the reader's own reading where the form's sums vouch for it, see below;
  `none`), the scan's split, and what the shipped reader said of the box;
- `summary.json`: boxes by label, by label source and by split; scans that could not be read and why;
- `heldout.txt`: the held-out scans' file names (`actas eval DIR --only DATASET/heldout.txt`).

Labels: a field's boxes are labelled only where the whole field's value is known and its box group was
located on the printed lines. The value's digits sit right-aligned in the boxes; a box left of them is
`0` where the reader saw ink in it (jurors write leading zeros, `008`) and `blank` where it saw none. A
field whose value needs a box the reader found empty, or more boxes than it has, is not labelled (the
boxes or the value are in doubt). Where the truth file says `zero_may_be_blank`, an official 0 read from
empty boxes labels them all blank.

`--checked` labels more boxes of the training scans, those with no truth (on bo2019-general: the
diputados column), with what the reader read, where nothing says it is wrong: every rule of the acta
holds, the field is in a sum that holds (`pipeline.rules.vouched_fields`), was not corrected by the
rules, is flagged for nothing but a written note (which says nothing against the boxes' digits), and its
boxes read as its value would be written. These labels come from the model, so they are for training
only: never made on a held-out scan, never used to judge a model. Their error rate is about the reader's
unflagged error rate on such fields (held-out 2019 actas, before the note flag: 2 of 420 fields, both
from an acta whose note moved votes between parties; what its boxes show was read right).

The split is by scan, never by digit: a scan is `heldout` when its sha256 falls in the first `heldout`
share of the hash space salted with `seed`, so it stays held out whatever other scans join the dataset.

Written to a temporary directory beside DATASET and renamed into place: a reader never sees half a
dataset, and running it again rebuilds it whole.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
from pydantic import BaseModel

from actas.evaluation import Truth, load_truth
from pipeline.digit_input import BLANK, CLASSES
from pipeline.errors import ReadError
from pipeline.fields import labels_for_text
from pipeline.reasons import ReasonCode
from pipeline.rules import vouched_fields

if TYPE_CHECKING:
    from pipeline.reader import ActaReader, ReadTrace

LabelSource = Literal["truth", "hand", "checked", "none"]  # `checked` trains only: training.data.real.JUDGING_SOURCES
Split = Literal["train", "heldout"]
SCAN_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
# Labels a box can carry: the classifier's classes plus the marks jurors write in a box with no digit.
MARK_LABELS = ("X",)
LABELS = (*CLASSES, *MARK_LABELS)


class HarvestRow(BaseModel):
    """One manifest line: one box of one scan."""

    scan: str  # the scan's file name
    sha256: str
    form: str
    variant: str
    field: str  # section.KEY
    box: int  # 0-based, left to right
    label: str | None  # one of LABELS, or None when unknown
    source: LabelSource
    split: Split
    crop: str  # paths relative to the dataset
    canvas: str
    ink: bool  # the reader found a digit-like mark in the box
    pred: str  # what the reader that harvested read (`X`: its mark detector's sure cross), and its confidence
    confidence: float

    @property
    def key(self) -> str:
        """The box's identity across runs and datasets: a hand label file is keyed by it."""
        return box_key(self.sha256, self.field, self.box)


def box_key(sha256: str, field: str, box: int) -> str:
    return f"{sha256[:16]}:{field}:{box}"


def split_of(sha256: str, heldout: float, seed: int) -> Split:
    """`heldout` for a fixed share of scans, chosen by their content: stable as the dataset grows."""
    h = int(hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()[:8], 16) / 2**32
    return "heldout" if h < heldout else "train"


def box_labels(value: int | None, ink: Sequence[bool], zero_may_be_blank: bool = False) -> list[str] | None:
    """Per-box labels for a field's known value, or None when the boxes cannot carry it (module doc)."""
    if value is None or (value == 0 and zero_may_be_blank and not any(ink)):
        return [CLASSES[BLANK]] * len(ink)
    return None if value < 0 else labels_for_text(str(value), ink)


def read_hand_labels(paths: Iterable[Path]) -> dict[str, str]:
    """`key<TAB>label` lines (see `actas harvest sheet`); `#` comments and blank lines ignored.
    A label must be one of LABELS (`blank` for an empty box); `?` means "cannot tell" and is skipped."""
    out: dict[str, str] = {}
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'KEY LABEL', got {line!r}")
            key, label = parts[0], parts[1]
            if label == "?":
                continue
            if label not in LABELS:
                raise ValueError(f"{path}:{n}: label {label!r} is not one of {', '.join(LABELS)} (or ?)")
            out[key] = label
    return out


@dataclass
class HarvestSummary:
    scans: int = 0
    boxes: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    labelled_by_split: Counter[str] = field(default_factory=Counter)
    unlabelled_fields: int = 0  # truth known but the boxes cannot carry it
    failed: dict[str, str] = field(default_factory=dict)
    heldout_scans: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "scans": self.scans,
            "boxes": self.boxes,
            "labelled": sum(self.labelled_by_split.values()),
            "by_label": dict(sorted(self.by_label.items())),
            "by_source": dict(sorted(self.by_source.items())),
            "boxes_by_split": dict(sorted(self.by_split.items())),
            "labelled_by_split": dict(sorted(self.labelled_by_split.items())),
            "fields_left_unlabelled": self.unlabelled_fields,
            "failed": self.failed,
            "heldout_scans": sorted(self.heldout_scans),
        }


def scan_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; folders expanded to their scans, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in SCAN_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def _truth_for(folder: Path, cache: dict[Path, Truth | None]) -> Truth | None:
    if folder not in cache:
        try:
            cache[folder] = load_truth(folder)
        except FileNotFoundError:
            cache[folder] = None
    return cache[folder]


def harvest_trace(
    trace: ReadTrace,
    scan_name: str,
    sha256: str,
    truth_counts: dict[str, dict[str, int | None]] | None,
    zero_may_be_blank: bool,
    hand: dict[str, str],
    split: Split,
    checked: bool = False,
) -> tuple[list[HarvestRow], list[tuple[np.ndarray, np.ndarray]], int]:
    """The rows of one read scan and, for each, its (crop, canvas) images; and the fields left unlabelled."""
    reg = trace.registration
    vouched = checked_labels(trace) if checked and split == "train" else {}
    tpl = reg.template
    by_field: dict[str, list[int]] = {}
    for i, c in enumerate(trace.cells):
        by_field.setdefault(c.field, []).append(i)
    rows: list[HarvestRow] = []
    images: list[tuple[np.ndarray, np.ndarray]] = []
    skipped = 0
    pred = trace.probs.argmax(axis=1)
    h, w = trace.scan.shape[:2]
    for name, idx in by_field.items():
        section, spec = tpl.fields[name]
        labels: list[str] | None = None
        known = truth_counts is not None and spec.key in truth_counts.get(section.key, {})
        if known and truth_counts is not None and trace.groups[name].snapped:
            labels = box_labels(
                truth_counts[section.key][spec.key], [trace.cells[i].cell.ink for i in idx], zero_may_be_blank
            )
            skipped += labels is None
        source_of_labels: LabelSource = "truth"
        if not known and name in vouched:
            labels, source_of_labels = vouched[name], "checked"
        for b, i in enumerate(idx):
            c = trace.cells[i]
            x, y, bw, bh = c.box
            crop = trace.scan[max(0, y) : min(h, y + bh), max(0, x) : min(w, x + bw)]
            key = box_key(sha256, name, b)
            label, source = (hand[key], "hand") if key in hand else (None, "none")
            if source == "none" and labels is not None:
                label, source = labels[b], source_of_labels
            stem = f"{sha256[:16]}/{name}-{b}.png"
            rows.append(
                HarvestRow(
                    scan=scan_name,
                    sha256=sha256,
                    form=tpl.id,
                    variant=reg.variant.id,
                    field=name,
                    box=b,
                    label=label,
                    source=source,
                    split=split,
                    crop=f"crops/{stem}",
                    canvas=f"canvas/{stem}",
                    ink=c.cell.ink,
                    pred="X" if c.cell.mark.is_x else CLASSES[int(pred[i])],
                    confidence=round(float(trace.probs[i].max()), 4),
                )
            )
            images.append((crop, c.cell.canvas))
    return rows, images, skipped


def checked_labels(trace: ReadTrace) -> dict[str, list[str]]:
    """Per field (section.KEY), the box labels of the reader's own reading where the form's sums vouch
    for it (module doc, `--checked`); fields in any doubt are left out."""
    reading = trace.reading
    if not reading.checks or not all(c.ok for c in reading.checks):
        return {}
    vouched = vouched_fields(reading.checks)
    ink: dict[str, list[bool]] = {}
    for c in trace.cells:
        ink.setdefault(c.field, []).append(c.cell.ink)
    out: dict[str, list[str]] = {}
    for f in reading.fields:
        name = f"{f.section}.{f.key}"
        # a note flags every field but says nothing against the boxes' digits: what is written is read
        doubted = any(c.flags and c is not ReasonCode.NOTE_WRITTEN for c in f.reason_codes)
        if name not in vouched or doubted or f.auto_corrected or not trace.groups[name].snapped:
            continue
        labels = box_labels(f.value, ink[name])
        read = [CLASSES[BLANK] if ch == "_" else ch for ch in f.text]
        if labels is not None and labels == read:  # the boxes read as the value is written
            out[name] = labels
    return out


def harvest(
    reader: ActaReader,
    scans: Sequence[Path],
    out: Path,
    hand: dict[str, str],
    heldout: float,
    seed: int,
    progress: bool = True,
    checked: bool = False,
) -> HarvestSummary:
    from tqdm import tqdm

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    summary = HarvestSummary()
    truths: dict[Path, Truth | None] = {}
    try:
        with (tmp / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
            for path in tqdm(scans, desc="harvest", unit="scan", disable=not progress):
                data = path.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                try:
                    trace = reader.trace(data)
                except ReadError as exc:
                    summary.failed[str(path)] = str(exc)
                    continue
                truth = _truth_for(path.parent, truths)
                entry = truth.actas.get(path.name) if truth else None
                split = split_of(sha, heldout, seed)
                rows, images, skipped = harvest_trace(
                    trace,
                    path.name,
                    sha,
                    entry.counts if entry else None,
                    bool(truth and truth.zero_may_be_blank),
                    hand,
                    split,
                    checked,
                )
                summary.scans += 1
                summary.unlabelled_fields += skipped
                if split == "heldout":
                    summary.heldout_scans.append(str(path))
                for row, (crop, canvas) in zip(rows, images, strict=True):
                    for rel, img in ((row.crop, crop), (row.canvas, canvas)):
                        target = tmp / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        if not cv2.imwrite(str(target), img):
                            raise OSError(f"{target}: could not write the image")
                    manifest.write(row.model_dump_json() + "\n")
                    summary.boxes += 1
                    summary.by_source[row.source] += 1
                    summary.by_split[row.split] += 1
                    if row.label is not None:
                        summary.by_label[row.label] += 1
                        summary.labelled_by_split[row.split] += 1
        (tmp / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
        # the held-out scans' names, for `actas eval DIR --only heldout.txt`
        (tmp / "heldout.txt").write_text("".join(f"{Path(p).name}\n" for p in sorted(summary.heldout_scans)))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def load_manifest(dataset: Path) -> list[HarvestRow]:
    path = dataset / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a harvested dataset (no manifest.jsonl)")
    return [HarvestRow.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# -- hand labelling: contact sheets ------------------------------------------------------------------------

SHEET_COLUMNS = 12
SHEET_ROWS = 10
THUMB = 96  # px per crop on a sheet: big enough to tell a 1 from a 7 by eye


def write_sheets(rows: Sequence[HarvestRow], dataset: Path, out: Path, prefix: str = "sheet") -> list[Path]:
    """Contact sheets of the rows' crops, numbered, and beside each a `.tsv` to fill in: one line per
    crop `KEY<TAB>LABEL  # n, what the reader read`; the label column starts as the reader's guess, so
    the labeller corrects only what is wrong. Returns the sheet PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    per = SHEET_COLUMNS * SHEET_ROWS
    sheets = []
    for k in range(0, len(rows), per):
        page = rows[k : k + per]
        img = np.full((SHEET_ROWS * (THUMB + 18), SHEET_COLUMNS * THUMB, 3), 255, np.uint8)
        lines = [
            f"# {prefix}-{k // per + 1:03d}.png: one line per crop, numbered as on the sheet; labels: "
            f"{' '.join(LABELS)} or ? (cannot tell)"
        ]
        for n, row in enumerate(page):
            crop = cv2.imread(str(dataset / row.crop), cv2.IMREAD_COLOR)
            r, c = divmod(n, SHEET_COLUMNS)
            y0, x0 = r * (THUMB + 18), c * THUMB
            if crop is not None and crop.size:
                s = (THUMB - 4) / max(crop.shape[:2])
                t = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))))
                img[y0 + 2 : y0 + 2 + t.shape[0], x0 + 2 : x0 + 2 + t.shape[1]] = t
            caption = f"{n} [{row.label}]" if row.label else str(n)  # a label to check is shown beside the crop
            cv2.putText(img, caption, (x0 + 2, y0 + THUMB + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 0, 0), 1)
            guess = row.label or row.pred
            lines.append(f"{row.key}\t{guess}\t# {n} {row.field} read {row.pred} {row.confidence:.2f}")
        path = out / f"{prefix}-{k // per + 1:03d}.png"
        if not cv2.imwrite(str(path), img):
            raise OSError(f"{path}: could not write the sheet")
        path.with_suffix(".tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        sheets.append(path)
    return sheets


# -- command line -------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """`parents`: the reader's options (--model, --templates-dir, --cpu) for `build`."""
    sub = p.add_subparsers(dest="harvest_command", required=True)
    b = sub.add_parser("build", parents=list(parents), help="read scans and write every located box with its label")
    b.add_argument("scans", type=Path, nargs="+", help="scans or folders of scans (truth.json beside them)")
    b.add_argument("--out", type=Path, required=True, help="the dataset folder (rebuilt whole)")
    b.add_argument("--hand-labels", type=Path, action="append", default=[], help="KEY LABEL files")
    b.add_argument("--heldout", type=float, default=0.4, help="share of scans held out (by sha256)")
    b.add_argument("--seed", type=int, default=2026, help="salt of the held-out choice")
    b.add_argument(
        "--checked",
        action="store_true",
        help="label the training scans' boxes that have no truth with the reader's reading where the sums vouch for it",
    )
    s = sub.add_parser("sheet", help="contact sheets and label files for hand labelling")
    s.add_argument("dataset", type=Path)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--form", help="only boxes of this form")
    s.add_argument("--source", default="none", choices=["none", "truth", "hand", "checked", "any"], help="label source")
    s.add_argument("--inked", action="store_true", help="only boxes where the reader saw ink")
    s.add_argument("--split", choices=["train", "heldout"], help="only boxes of scans of this split")
    order = s.add_mutually_exclusive_group()
    order.add_argument(
        "--by-pred", action="store_true", help="group the crops by what the reader read (quicker to check)"
    )
    order.add_argument(
        "--by-label", action="store_true", help="group the crops by their label, shown on the sheet (to audit labels)"
    )


def run(args: argparse.Namespace, reader_factory: Callable[[], ActaReader]) -> int:
    try:
        if args.harvest_command == "build":
            if not 0.0 <= args.heldout <= 1.0:
                raise ValueError("--heldout must be between 0 and 1")
            hand = read_hand_labels(args.hand_labels)
            scans = scan_files(args.scans)
            if not scans:
                raise ValueError("no scans given (JPEG, PNG or TIFF files, or folders of them)")
            summary = harvest(reader_factory(), scans, args.out, hand, args.heldout, args.seed, checked=args.checked)
            d = summary.as_dict()
            print(json.dumps({k: v for k, v in d.items() if k != "heldout_scans"}, indent=2))
            for name, why in summary.failed.items():
                print(f"actas harvest: {name}: {why}", file=sys.stderr)
            return 1 if summary.failed else 0
        rows = load_manifest(args.dataset)
        rows = [
            r
            for r in rows
            if (args.form is None or r.form == args.form)
            and (args.source == "any" or r.source == args.source)
            and (not args.inked or r.ink)
            and (args.split is None or r.split == args.split)
        ]
        if args.by_pred:  # a page of one reading: the odd one out stands out
            rows.sort(key=lambda r: (r.pred, -r.confidence))
        elif args.by_label:  # a page of one label: a box whose paper says otherwise stands out
            rows.sort(key=lambda r: (r.label or "", r.sha256, r.field, r.box))
        sheets = write_sheets(rows, args.dataset, args.out)
        print(f"{len(rows)} boxes on {len(sheets)} sheets in {args.out} (fill in the .tsv files)")
        return 0
    except (OSError, ValueError) as exc:
        print(f"actas harvest: error: {exc}", file=sys.stderr)
        return 2
