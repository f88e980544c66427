"""Author a form template from one sample scan: `python -m actas.authoring TEMPLATE VARIANT SAMPLE`.

Write the template JSON by hand with rough box positions (in the variant's reference frame, the
sample resized to `size`) and the regions to mask; this tool then
- snaps every box group to the printed lines found in the sample,
- writes the reference image: the sample in grayscale with every `masked` region painted over with
  the paper's colour (handwriting, names, ID numbers, signatures, fingerprints and per-acta codes
  must be listed there: the reference ships in the repository), downscaled to REFERENCE_WIDTH,
- writes an overlay PNG showing the snapped boxes, to check by eye.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from pipeline.box_groups import locate_cells
from pipeline.templates import load_template

REFERENCE_WIDTH = 1200


def _fmt(template: dict[str, object]) -> str:
    """JSON with each box on one line, so diffs of a template stay readable."""
    text = json.dumps(template, indent=2, ensure_ascii=False)
    import re

    return re.sub(r"\[\s+([-\d.]+),\s+([-\d.]+),\s+([-\d.]+),\s+([-\d.]+)\s+\]", r"[\1, \2, \3, \4]", text)


def author(template_path: Path, variant_id: str, sample: Path, overlay: Path | None) -> int:
    tpl = load_template(template_path)
    variant = next((v for v in tpl.variants if v.id == variant_id), None)
    if variant is None:
        raise ValueError(f"{template_path}: no variant {variant_id!r}")
    img = cv2.imread(str(sample))
    if img is None:
        raise ValueError(f"{sample}: unreadable image")
    img = cv2.resize(img, variant.size, interpolation=cv2.INTER_AREA)
    gray = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)
    raw = json.loads(template_path.read_text(encoding="utf-8"))
    raw_variant = next(v for v in raw["variants"] if v["id"] == variant_id)
    shown = img.copy()
    for key, box in variant.boxes.items():
        n = tpl.fields[key][1].digits
        cells, snapped = locate_cells(gray, box, n)
        x0, y0 = cells[0][0], cells[0][1]
        x1, y1 = cells[-1][0] + cells[-1][2], cells[0][1] + cells[0][3]
        new = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)] if snapped else list(box)
        raw_variant["boxes"][key] = new
        print(f"{key:40s} {'snapped' if snapped else 'NOT FOUND, kept'} {box} -> {new}")
        for cx, cy, cw, ch in cells:
            cv2.rectangle(shown, (cx, cy), (cx + cw, cy + ch), (0, 200, 0) if snapped else (0, 0, 255), 2)
        cv2.putText(shown, key.split(".")[1][:10], (x0, y0 - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 0, 0), 1)
    paper = int(np.median(gray))
    ref = gray.copy()
    for x, y, w, h in variant.masked:
        cv2.rectangle(ref, (int(x), int(y)), (int(x + w), int(y + h)), paper, -1)
        cv2.rectangle(shown, (int(x), int(y)), (int(x + w), int(y + h)), (0, 140, 255), 1)
    scale = REFERENCE_WIDTH / variant.size[0]
    ref_small = cv2.resize(ref, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(template_path.parent / variant.reference), ref_small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    template_path.write_text(_fmt(raw) + "\n", encoding="utf-8")
    if overlay:
        cv2.imwrite(str(overlay), shown)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m actas.authoring", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("template", type=Path)
    p.add_argument("variant")
    p.add_argument("sample", type=Path)
    p.add_argument("--overlay", type=Path)
    args = p.parse_args(argv)
    try:
        return author(args.template, args.variant, args.sample, args.overlay)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
