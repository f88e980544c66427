"""Expand the command line into work: files, folders (recursive) and globs; one item per acta, PDF pages included.

Folders contribute their files named like scans (.jpg .jpeg .png .tif .tiff .pdf, any case; hidden names
skipped); a file named on the command line or matched by a glob is always tried. What a file is comes from
its bytes, not its name: a PDF or a multi-page TIFF is split into pages, anything else goes to the reader,
which names the problem. Object-store URIs (`s3://bucket/prefix/`, `file:///...`) are listed and read
through pyarrow's filesystems (`uris`); globs are for local paths only.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from actas.ingest.errors import UsageError
from actas.ingest.items import Key, Source, WorkItem, source_bytes
from actas.ingest.pdf import PdfError, is_pdf, page_count
from actas.ingest.uris import is_uri, list_uri
from pipeline.errors import ImageError
from pipeline.image_io import sniff_format, tiff_pages

SCAN_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"})
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)  # in command-line order, folders sorted, no path twice
    ignored: list[Path] = field(default_factory=list)  # files inside folders not named like scans
    uris: list[str] = field(default_factory=list)  # object-store files, in command-line order, prefixes sorted
    ignored_uris: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # globs that matched nothing

    @property
    def sources(self) -> list[Source]:
        return [*self.files, *self.uris]


@dataclass(frozen=True)
class PlanFailure:
    path: Source
    sha256: str | None
    reason: str


@dataclass
class Plan:
    items: list[WorkItem] = field(default_factory=list)  # still to read
    failures: list[PlanFailure] = field(default_factory=list)  # unreadable files, broken PDFs
    skipped: int = 0  # actas already in the results
    duplicates: list[tuple[Source, Source]] = field(default_factory=list)  # (file, earlier file with the same bytes)


def expand(args: Sequence[str], skip_dir: Path | None = None) -> Inputs:
    """Raises UsageError for a path that does not exist (a glob that matches nothing is only noted).
    Folders are walked without entering `skip_dir` (the output directory)."""
    out = Inputs()
    seen: set[Path] = set()
    ignored: dict[Path, Path] = {}

    def add(path: Path) -> None:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            out.files.append(path)

    for arg in args:
        if is_uri(arg):
            scans, others = list_uri(arg, SCAN_SUFFIXES)
            out.uris += [u for u in scans if u not in out.uris]
            out.ignored_uris += others
            continue
        path = Path(arg)
        if path.exists():
            matches = [path]
        elif _GLOB_CHARS & set(arg):
            matches = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
            if not matches:
                out.unmatched.append(arg)
        else:
            raise UsageError(f"{arg}: no such file or folder")
        for m in matches:
            if m.is_dir():
                for f in _walk(m, skip_dir.resolve() if skip_dir else None):
                    if f.suffix.lower() in SCAN_SUFFIXES:
                        add(f)
                    else:
                        ignored.setdefault(f.resolve(), f)
            else:
                add(m)
    out.ignored = [f for real, f in ignored.items() if real not in seen]  # unless also named directly
    return out


def _walk(folder: Path, skip: Path | None) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() != skip)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def plan(files: Iterable[Source], done: set[Key], tick: Callable[[], object] = lambda: None) -> Plan:
    """Hash every file (and count a PDF's pages) to list what is still to read; `tick` after each file."""
    out = Plan()
    first: dict[str, Source] = {}
    for path in files:
        try:
            out_keys = _keys(path, out)
        finally:
            tick()
        if out_keys is None:
            continue
        sha, pages = out_keys
        if sha in first:
            out.duplicates.append((path, first[sha]))
            continue
        first[sha] = path
        for page in pages:
            if (sha, page) in done:
                out.skipped += 1
            else:
                out.items.append(WorkItem.of(path, sha, page))
    return out


def _keys(path: Source, out: Plan) -> tuple[str, list[int | None]] | None:
    try:
        data = source_bytes(path)
    except OSError as exc:
        out.failures.append(PlanFailure(path, None, exc.strerror or str(exc)))
        return None
    sha = hashlib.sha256(data).hexdigest()
    if sniff_format(data) == "TIFF":
        try:
            n = tiff_pages(data)
        except ImageError:
            return sha, [None]  # the reader will say what is wrong with it
        return sha, [None] if n <= 1 else list(range(1, n + 1))
    if not is_pdf(data):
        return sha, [None]
    try:
        n = page_count(data)
    except PdfError as exc:
        out.failures.append(PlanFailure(path, sha, str(exc)))
        return None
    if n == 0:
        out.failures.append(PlanFailure(path, sha, "the PDF has no pages"))
        return None
    return sha, list(range(1, n + 1))
