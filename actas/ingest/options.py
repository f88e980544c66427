"""`actas ingest`'s arguments (kept light: parsed before anything heavy is imported)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

API_KEY_ENV = "ACTAS_API_KEY"
DEFAULT_OUT = Path("ingest-out")
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class IngestOptions:
    inputs: list[str]
    out: Path = DEFAULT_OUT
    template: str | None = None
    model: Path | None = None
    templates_dir: Path | None = None
    cpu: bool = False
    workers: int | None = None  # None: one per CPU (with --engine ray: one actor per CPU of the cluster)
    engine: str = "local"  # "local": worker processes here; "ray": Ray Data, on a local or a running cluster
    address: str | None = None  # the Ray cluster to join (--engine ray); None: a local one
    url: str | None = None
    api_key: str = ""
    concurrency: int = 4
    retries: int = 5
    backoff_s: float = 1.0
    progress: bool | None = None  # None: when stderr is a terminal


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600, not {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="PATH", help="scans, PDFs (a page per acta), folders, globs")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: ./{DEFAULT_OUT})")
    p.add_argument("--template", help="force this form template id")
    p.add_argument("--workers", type=_positive, help="reader processes, or Ray actors (default: one per CPU)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: worker processes here (default); ray: Ray Data (pip install 'actas-ocr[ray]')",
    )
    p.add_argument("--address", help="with --engine ray, join this running cluster (default: start a local one)")
    p.add_argument("--url", help="send the scans to this running service instead of reading them here")
    p.add_argument("--api-key", help=f"operator key for --url (default: ${API_KEY_ENV})")
    p.add_argument("--concurrency", type=_positive, default=4, help="uploads at once with --url (default: 4)")
    p.add_argument(
        "--retries", type=int, default=5, help="with --url, retries on no answer or 502/503/504 (default: 5)"
    )
    p.add_argument("--backoff", type=_seconds, default=1.0, help="seconds before the first retry; doubles (default: 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")


def from_args(args: argparse.Namespace) -> IngestOptions:
    return IngestOptions(
        inputs=list(args.inputs),
        out=args.out,
        template=args.template,
        model=args.model,
        templates_dir=args.templates_dir,
        cpu=args.cpu,
        workers=args.workers,
        engine=args.engine,
        address=args.address,
        url=args.url,
        api_key=args.api_key or os.environ.get(API_KEY_ENV, ""),
        concurrency=args.concurrency,
        retries=max(0, args.retries),
        backoff_s=args.backoff,
        progress=False if args.no_progress else None,
    )
