"""`actas`: read scanned actas, score them against a truth file, list the form templates.

Exit status: 0 when every file was read, 1 when some file could not be (each named on stderr with
its reason; the others are still processed), 2 for a usage or set-up error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from actas.config import reader_config
from actas.files import write_atomic
from pipeline.errors import ReadError

if TYPE_CHECKING:  # the reader loads OpenCV and onnxruntime: import it only when a command needs it
    from pipeline.reader import ActaReader

READ_ERRORS = (ReadError, OSError)


def _reader(args: argparse.Namespace) -> ActaReader:
    from pipeline.reader import ActaReader

    return ActaReader.from_config(reader_config(args.model, args.templates_dir, cpu=args.cpu))


def cmd_read(args: argparse.Namespace) -> int:
    from pipeline.overlay import draw_overlay, encode_png

    reader = _reader(args)
    failed = 0
    overlay_dir = args.overlay if args.overlay and (len(args.files) > 1 or args.overlay.is_dir()) else None
    for path in args.files:
        try:
            trace = reader.trace(path.read_bytes(), args.template)
        except READ_ERRORS as exc:
            print(f"actas read: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        # `source`: which file this line reads, so a batch's lines need not be matched by order
        print(json.dumps({"source": str(path), **trace.reading.model_dump(mode="json")}), flush=True)
        if args.overlay:
            target = overlay_dir / f"{path.stem}.overlay.png" if overlay_dir else args.overlay
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, encode_png(draw_overlay(trace.scan, trace.reading)))
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from actas.evaluation import EvalReport, load_truth, readings_by_name

    truth = load_truth(args.directory)
    if args.only:  # e.g. a harvested dataset's held-out scans: a figure on scans never trained on
        try:
            names = {Path(n.strip()).name for n in args.only.read_text(encoding="utf-8").splitlines() if n.strip()}
        except OSError as exc:
            print(f"actas eval: {args.only}: {exc}", file=sys.stderr)
            return 2
        unknown = names - set(truth.actas)
        if unknown:
            print(
                f"actas eval: {args.only}: not in {args.directory}/truth.json: {', '.join(sorted(unknown)[:5])}",
                file=sys.stderr,
            )
            return 2
        truth = truth.model_copy(update={"actas": {k: v for k, v in truth.actas.items() if k in names}})
    report = EvalReport(zero_may_be_blank=truth.zero_may_be_blank)
    if args.readings:  # score what `actas ingest` already read
        try:
            done = readings_by_name(args.readings)
        except (OSError, ValueError) as exc:
            print(f"actas eval: {args.readings}: {exc}", file=sys.stderr)
            return 2
        for name, expected in truth.actas.items():
            if name in done:
                report.add(name, expected, done[name])
            else:
                report.fail(name, f"no reading of it in {args.readings}")
    else:
        reader = _reader(args)
        for name, expected in tqdm(truth.actas.items(), desc="actas", unit="acta", disable=len(truth.actas) < 20):
            path = args.directory / name
            try:
                reading = reader.read(path.read_bytes(), args.template)
            except READ_ERRORS as exc:
                print(f"actas eval: {path}: {exc}", file=sys.stderr)
                report.fail(name, str(exc))
                continue
            report.add(name, expected, reading)
    if not args.quiet:
        print(report.table())
    if args.per_field:
        print(report.field_table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.json, (json.dumps(report.as_dict(), indent=2) + "\n").encode())
    if report.failed:
        print(f"{len(report.failed)} of {len(truth.actas)} scans not read (identification or registration failed):")
        print(report.failures())
    print(report.summary())
    return 1 if report.failed else 0


def cmd_templates(args: argparse.Namespace) -> int:
    from actas.config import templates_dirs
    from pipeline.templates import BUILTIN_TEMPLATES_DIR, load_templates, template_json_schema

    if args.schema:
        print(json.dumps(template_json_schema(), indent=2))
        return 0
    dirs = templates_dirs(args.templates_dir)
    templates = load_templates(*dirs)
    print(f"form templates (built-in {BUILTIN_TEMPLATES_DIR}{''.join(f', then {d}' for d in dirs)}):")
    for t in templates.values():
        n = len(t.field_keys)
        print(f"  {t.id:18s} {n:3d} fields, {len(t.rules)} rules, variants {', '.join(v.id for v in t.variants)}")
        print(f"  {'':18s} {t.title}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from actas.synth.generate import run

    return run(args)


def cmd_ingest(args: argparse.Namespace) -> int:
    from actas.ingest.options import from_args
    from actas.ingest.run import ingest

    return ingest(from_args(args))


def cmd_harvest(args: argparse.Namespace) -> int:
    from actas.harvest import run

    return run(args, lambda: _reader(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="actas", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", type=Path, help="ONNX digit model (default: $ACTAS_MODEL_PATH or the shipped one)")
    common.add_argument(
        "--templates-dir", type=Path, help="form templates added to the built-in ones (default: $ACTAS_TEMPLATES_DIR)"
    )
    common.add_argument("--cpu", action="store_true", help="do not use a GPU even if onnxruntime has one")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read", parents=[common], help="read scans, one JSON document per line")
    r.add_argument("files", type=Path, nargs="+", help="JPEG, PNG or TIFF scans")
    r.add_argument("--template", help="force this form template id")
    r.add_argument("--overlay", type=Path, help="audit image: a PNG path, or a directory for several files")
    r.set_defaults(func=cmd_read)
    e = sub.add_parser("eval", parents=[common], help="score against DIR/truth.json")
    e.add_argument("directory", type=Path)
    e.add_argument("--template", help="force this form template id")
    e.add_argument("--per-field", action="store_true", help="a table of accuracy and flag rates per field")
    e.add_argument("--json", type=Path, help="also write the scores as JSON to this file")
    e.add_argument("--quiet", action="store_true", help="do not list every field that differs")
    e.add_argument("--readings", type=Path, help="score this `actas ingest` results.jsonl instead of reading")
    e.add_argument("--only", type=Path, help="score only the scans named in this file (one per line)")
    e.set_defaults(func=cmd_eval)
    t = sub.add_parser("templates", parents=[common], help="list the form templates (checked strictly)")
    t.add_argument("--schema", action="store_true", help="print the JSON Schema of a template file and exit")
    t.set_defaults(func=cmd_templates)
    from actas.synth import add_arguments as add_synth_arguments  # argparse only; generation loads lazily

    s = sub.add_parser("synth", help="write synthetic filled actas (MNIST test digits) with a truth.json")
    add_synth_arguments(s)
    s.set_defaults(func=cmd_synth)
    from actas.ingest.options import add_arguments as add_ingest_arguments  # argparse only

    g = sub.add_parser("ingest", parents=[common], help="read folders, globs and PDFs into DIR; resumable")
    add_ingest_arguments(g)
    g.set_defaults(func=cmd_ingest)
    from actas.forms import add_arguments as add_forms_arguments  # argparse only

    f = sub.add_parser("forms", help="author a form template from sample scans: new, check")
    add_forms_arguments(f)
    from actas.harvest import add_arguments as add_harvest_arguments

    h = sub.add_parser("harvest", help="real digits from scans: a labelled dataset, contact sheets")
    add_harvest_arguments(h, parents=[common])
    h.set_defaults(func=cmd_harvest)
    _register_service_commands(sub)
    return p


def _register_service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`serve` and `keys` come from the service package (thin shell over this pipeline)."""
    try:
        from service.cli import register
    except ImportError:  # service not installed: reading and evaluation still work
        return
    register(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"actas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `actas read ... | head`: the reader went away, not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
