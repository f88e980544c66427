"""Write N synthetic actas of one template: `synth_00000.jpg`..., `truth.json` for `actas eval`, and
`synth.json` saying what was done to each (variant, the juror's mistake if any, pen, MNIST test indices,
scan distortions).

Deterministic: acta i depends only on (seed, i, template id), whatever N; its counts, handwriting and scan draw from
separate streams spawned from that seed, so changing the scan options leaves the counts as they were.
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from actas.config import mnist_dir, templates_dirs
from actas.files import write_atomic
from actas.synth.counts import draw_counts
from actas.synth.form import RENDER_SCALE, blank_form, draw_mesa_code, fill_form, mesa_code_for
from actas.synth.handwriting import MnistTest, draw_pen, draw_style, layout, load_mnist_test
from actas.synth.scan import ScanOptions, scan
from pipeline.templates import Template, load_templates

BLANK_ZERO = (0.0, 0.3, 0.8)  # per acta: chance that a zero count is left blank rather than written


@dataclass(frozen=True)
class SynthConfig:
    template: Template
    seed: int
    variant: str | None = None  # None: cycle through the template's variants
    break_rate: float = 0.1  # share of actas where the juror broke one rule
    scan: ScanOptions = field(default_factory=ScanOptions)


@dataclass(frozen=True)
class SynthActa:
    image: bytes  # JPEG
    truth: dict[str, Any]  # {"mesa_code": ..., "counts": {section: {KEY: value or None}}}
    record: dict[str, Any]  # what was done, for synth.json


def file_name(i: int) -> str:
    return f"synth_{i:05d}.jpg"


def synth_acta(config: SynthConfig, mnist: MnistTest, i: int) -> SynthActa:
    """Acta number `i` of this configuration."""
    tpl = config.template
    streams = np.random.SeedSequence([config.seed, i, zlib.crc32(tpl.id.encode())]).spawn(3)
    r_counts, r_hand, r_scan = (np.random.default_rng(s) for s in streams)
    variant_id = config.variant or tpl.variants[i % len(tpl.variants)].id
    variant = next((v for v in tpl.variants if v.id == variant_id), None)
    if variant is None:
        raise ValueError(f"template {tpl.id} has no variant {variant_id!r}")

    counts = draw_counts(tpl, r_counts, break_rule=bool(r_counts.random() < config.break_rate))
    style = draw_style(r_hand)
    blank_zero = float(r_hand.choice(BLANK_ZERO))
    boxes: dict[str, list[int | None]] = {}
    truth: dict[str, dict[str, int | None]] = {s.key: {} for s in tpl.sections}
    for name in tpl.field_keys:
        section, spec = tpl.fields[name]
        value: int | None = counts.values[name]
        if value == 0 and r_hand.random() < blank_zero:
            value = None
        boxes[name] = layout(value, spec.digits, style)
        truth[section.key][spec.key] = value

    img = blank_form(tpl, variant, r_hand)
    barcode, code = None, None
    if variant.mesa_code is not None:
        barcode, code = mesa_code_for(variant.mesa_code, r_hand)
        draw_mesa_code(img, variant.mesa_code, barcode, code, RENDER_SCALE)
    pen = draw_pen(r_hand)
    written = fill_form(img, tpl, variant, boxes, mnist, pen, r_hand)
    jpeg, scan_record = scan(img, r_scan, config.scan)
    record = {
        "variant": variant.id,
        "rules_obeyed": counts.mistake is None,
        "mistake": asdict(counts.mistake) if counts.mistake else None,
        "style": style,
        "blank_zero": blank_zero,
        "barcode": barcode,
        "pen": pen.record(),
        "digits": [[d.field, d.box, d.label, d.mnist_test_index] for d in written],
        "scan": scan_record,
    }
    return SynthActa(jpeg, {"mesa_code": code, "counts": truth}, record)


def generate(out_dir: Path, config: SynthConfig, n: int, mnist: MnistTest, progress: bool = True) -> Path:
    """Write `n` actas, `truth.json` and `synth.json` into `out_dir` (each file written atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {"form": config.template.id, "source": f"synthetic, seed {config.seed}", "actas": {}}
    side: dict[str, Any] = {
        "template": config.template.id,
        "seed": config.seed,
        "n": n,
        "variant": config.variant,
        "break_rate": config.break_rate,
        "scan_options": config.scan.record(),
        "mnist": {"file": mnist.source.name, "split": "test"},
        "digits_columns": ["field", "box", "label", "mnist_test_index"],
        "actas": {},
    }
    for i in tqdm(range(n), desc=f"synth {config.template.id}", unit="acta", disable=not progress):
        acta = synth_acta(config, mnist, i)
        name = file_name(i)
        write_atomic(out_dir / name, acta.image)
        truth["actas"][name] = acta.truth
        side["actas"][name] = acta.record
    write_atomic(out_dir / "truth.json", (json.dumps(truth, indent=1, ensure_ascii=False) + "\n").encode())
    write_atomic(out_dir / "synth.json", (_compact_json(side) + "\n").encode())
    return out_dir / "truth.json"


def _compact_json(data: dict[str, Any]) -> str:
    """Indented JSON with innermost lists (a digit, a corner) kept on one line."""
    text = json.dumps(data, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)


def run(args: argparse.Namespace) -> int:
    """`actas synth` (arguments: actas.synth.add_arguments)."""
    if args.n < 0:
        raise ValueError("-n must be 0 or more")
    if not 0 <= args.break_rate <= 1 or not 0 <= args.turn_rate <= 1:
        raise ValueError("--break-rate and --turn-rate are shares between 0 and 1")
    templates = load_templates(*templates_dirs(args.templates_dir))
    if args.template not in templates:
        raise ValueError(f"unknown template {args.template!r}; known: {', '.join(sorted(templates))}")
    mnist = load_mnist_test(mnist_dir(args.mnist))
    options = ScanOptions(max_rotation=args.max_rotation, turn_rate=args.turn_rate)
    config = SynthConfig(templates[args.template], args.seed, args.variant, args.break_rate, options)
    truth = generate(args.out_dir, config, args.n, mnist, progress=not args.quiet)
    print(f"wrote {args.n} actas and {truth}")
    return 0
