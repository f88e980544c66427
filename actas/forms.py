"""`actas forms`: the argument parser of the authoring commands (`actas.authoring` loads OpenCV; only a
command that runs imports it)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _new(args: argparse.Namespace) -> int:
    from actas.authoring import cmd_new

    return cmd_new(args)


def _check(args: argparse.Namespace) -> int:
    from actas.authoring import cmd_check

    return cmd_check(args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="forms_command", required=True)
    n = sub.add_parser("new", help="draft a template, masked reference and overlay from sample scans")
    n.add_argument("id")
    n.add_argument("samples", type=Path, nargs="+", help="scans of one print variant; the first sets the frame")
    n.add_argument("--variant", default="A1")
    n.add_argument("--out", type=Path, default=Path("."), help="directory to write into (default: here)")
    n.add_argument("--min-boxes", type=int, default=2, help="smallest group of boxes proposed")
    n.add_argument("--force", action="store_true", help="overwrite existing files")
    n.set_defaults(func=_new)
    c = sub.add_parser("check", help="snap a template's groups on samples; report; --write to update")
    c.add_argument("template", help="template id or path to its JSON")
    c.add_argument("samples", type=Path, nargs="+")
    c.add_argument("--templates-dir", type=Path)
    c.add_argument("--write", action="store_true", help="move the groups to their snapped positions")
    c.add_argument(
        "--overlay",
        type=Path,
        help="directory for one PNG per sample: its colour scan in the template's frame, "
        "each group green where it snapped, red where not",
    )
    c.set_defaults(func=_check)
