"""Reviewed fields become training data: each box of a field a reviewer gave a value to, cut from the scan
at its own resolution, with its label.

    python -m service.review.harvest --out DATASET [--database-url URL]

DATASET gets `crops/<scan sha256>/<section.KEY>-<box>.png` and `manifest.jsonl`, one line per box:
scan sha256, form, field, box index, label ('0'-'9', or '_' for a blank box), source `review`, the
reviewer and when. Written to a temporary directory beside DATASET and renamed into place, so a reader
never sees half a dataset; an existing DATASET is replaced whole.

A reviewer gives a field's value, not each box's: the labels are the value's digits right-aligned in
the boxes, and a box left of them is '0' where the reader saw ink in it and '_' where it saw none. A
field whose value needs a box the reader found empty, or more boxes than it has, is left out (the
boxes or the value are in doubt), and counted in the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.digit_input import BLANK, CLASSES
from pipeline.fields import labels_for_text
from pipeline.image_io import decode_image
from pipeline.schema import ActaReading, DigitReading
from service.db import ensure_schema, make_engine, session_factory
from service.models import Acta, Blob, Review
from service.review.queries import boxes_bounds
from service.schema import SchemaError
from service.settings import Settings

SOURCE = "review"


def box_labels(value: int | None, digits: list[DigitReading]) -> list[str] | None:
    """Per-box labels for a reviewed value, or None when the boxes cannot carry it (see the module)."""
    labels = labels_for_text("" if value is None else str(value), [d.ink for d in digits])
    return None if labels is None else ["_" if label == CLASSES[BLANK] else label for label in labels]


@dataclass
class Summary:
    fields: int = 0
    boxes: int = 0
    skipped_fields: int = 0
    labels: Counter[str] = field(default_factory=Counter)


def harvest(session: Session, out: Path, max_pixels: int = Settings.model_fields["max_pixels"].default) -> Summary:
    """Write the dataset for every field whose latest review is a confirm or correct (the value it holds)."""
    latest: dict[tuple[str, str], Review] = {}
    for r in session.scalars(select(Review).where(Review.field.is_not(None)).order_by(Review.id)):
        assert r.field is not None
        latest[(r.acta_id, r.field)] = r
    by_acta: dict[str, list[Review]] = {}
    for (acta_id, _), r in latest.items():
        by_acta.setdefault(acta_id, []).append(r)

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    summary = Summary()
    try:
        with (tmp / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
            for acta_id in sorted(by_acta):
                acta = session.get_one(Acta, acta_id)
                reading = ActaReading.model_validate(acta.reading)
                fields = {f"{f.section}.{f.key}": f for f in reading.fields}
                image = decode_image(session.get_one(Blob, acta.blob_sha256).data, max_pixels)
                for r in sorted(by_acta[acta_id], key=lambda r: r.field or ""):
                    f = fields.get(r.field or "")
                    labels = box_labels(r.new_value, f.digits) if f and f.digits else None
                    if f is None or labels is None:
                        summary.skipped_fields += 1
                        continue
                    summary.fields += 1
                    folder = tmp / "crops" / acta.blob_sha256
                    folder.mkdir(parents=True, exist_ok=True)
                    for i, (digit, label) in enumerate(zip(f.digits, labels, strict=True)):
                        x0, y0, x1, y1 = boxes_bounds([digit.box], image.shape, 0)
                        path = folder / f"{r.field}-{i}.png"
                        if x1 <= x0 or y1 <= y0 or not cv2.imwrite(str(path), image[y0:y1, x0:x1]):
                            raise RuntimeError(f"could not write the crop of {r.field} box {i} of {acta_id}")
                        line = {
                            "scan_sha256": acta.blob_sha256,
                            "form": acta.template,
                            "field": r.field,
                            "box": i,
                            "label": label,
                            "source": SOURCE,
                            "reviewer": r.reviewer,
                            "at": r.at.isoformat(),
                            "crop": str(path.relative_to(tmp)),
                        }
                        manifest.write(json.dumps(line, ensure_ascii=False) + "\n")
                        summary.boxes += 1
                        summary.labels[label] += 1
        os.chmod(tmp, 0o755)
        if out.exists():  # replace whole: move the old one aside, the new one in, then drop the old
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / "dataset")
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.review.harvest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the dataset directory to write (replaced whole)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: $ACTAS_DATABASE_URL, as the service)")
    args = parser.parse_args(argv)
    settings = Settings()
    engine = make_engine(args.database_url or settings.database_url)
    try:
        try:
            ensure_schema(engine)  # a database behind this code is refused, as by the service
        except SchemaError as exc:
            print(f"harvest: {exc}", file=sys.stderr)
            return 2
        with session_factory(engine)() as session:
            s = harvest(session, args.out, settings.max_pixels)
    finally:
        engine.dispose()
    labels = dict(sorted(s.labels.items()))
    print(
        json.dumps(
            {
                "out": str(args.out),
                "fields": s.fields,
                "boxes": s.boxes,
                "skipped_fields": s.skipped_fields,
                "labels": labels,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
