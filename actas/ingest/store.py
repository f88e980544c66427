"""The output directory: results.jsonl (append-only, the record of what is done), failed.jsonl (this run's
failures), and results.csv / summary.json derived from results.jsonl, each replaced atomically.

Only the parent process writes. Each line goes out in one write() on an O_APPEND descriptor, so a kill
leaves at most one partial line at the end; opening the store cuts it off.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actas.files import write_atomic
from actas.ingest.errors import UsageError
from actas.ingest.items import Key

RESULTS = "results.jsonl"
FAILED = "failed.jsonl"
CSV = "results.csv"
SUMMARY = "summary.json"
LOCK = ".ingest.lock"


class Store:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(directory / LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"--out {directory}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock)
            raise UsageError(f"--out {directory}: another `actas ingest` is writing there") from exc
        self.results = directory / RESULTS
        self.failed = directory / FAILED
        self.dropped_lines = self._repair()
        self._results_fd = os.open(self.results, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._failed_fd = -1

    def close(self) -> None:
        for fd in (self._results_fd, self._failed_fd, self._lock):
            if fd >= 0:
                os.close(fd)
        self._results_fd = self._failed_fd = self._lock = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repair(self) -> int:
        """Cut a trailing partial line (a write cut short by a kill); return how many bytes were dropped."""
        if not self.results.exists():
            return 0
        with self.results.open("rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return 0
            end, pos = 0, size
            while pos > 0:  # find the last newline, reading backwards in blocks
                start = max(0, pos - 65536)
                f.seek(start)
                block = f.read(pos - start)
                nl = block.rfind(b"\n")
                if nl >= 0:
                    end = start + nl + 1
                    break
                pos = start
            f.truncate(end)
            return size - end

    def lines(self) -> Iterator[dict[str, Any]]:
        """Every complete result line (a line that is not valid JSON is passed over)."""
        with self.results.open("rb") as f:
            for raw in f:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    continue
                if (
                    isinstance(doc, dict)
                    and isinstance(doc.get("sha256"), str)
                    and isinstance(doc.get("reading"), dict)
                ):
                    yield doc

    def done(self) -> set[Key]:
        return {(d["sha256"], d.get("page")) for d in self.lines()}

    def start_run(self) -> None:
        """failed.jsonl lists this run's failures: failed files are tried again on every run."""
        self._failed_fd = os.open(self.failed, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)

    def add_result(self, doc: dict[str, Any]) -> None:
        _write_line(self._results_fd, doc)

    def add_failure(self, source: Path | str, page: int | None, sha256: str | None, reason: str) -> None:
        _write_line(self._failed_fd, {"source": str(source), "page": page, "sha256": sha256, "reason": reason})

    def replace(self, name: str, text: str) -> None:
        """Write DIR/name whole or not at all (temp file, then rename)."""
        write_atomic(self.dir / name, text.encode("utf-8"))


def _write_line(fd: int, doc: dict[str, Any]) -> None:
    data = memoryview((json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
    while data:  # one write() in practice; a short write (full disk, signal) continues where it stopped
        data = data[os.write(fd, data) :]
