"""bench.load's own fixes (issue 18): --help without the dev extra, uploads never sent are not errors,
only the folders of forms the service reads are uploaded."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.load import NOT_SENT, SAMPLES, count_errors, sample_scans
from pipeline.templates import load_templates
from tests.conftest import REPO


def test_help_needs_no_dev_dependency() -> None:
    # httpx2 made unimportable: --help must still work (it comes with the dev extra only).
    code = "import sys; sys.modules['httpx2'] = None; from bench.load import main; main(['--help'])"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "--same-bytes" in r.stdout


def test_uploads_not_sent_are_not_errors() -> None:
    assert count_errors(Counter({"201": 5, "200": 2, NOT_SENT: 9})) == 0
    assert count_errors(Counter({"201": 5, "422": 1, "ReadTimeout": 2, NOT_SENT: 9})) == 3


def test_only_forms_the_service_reads(tmp_path: Path) -> None:
    scans = sample_scans()
    assert scans and {p.parent.name for p in scans} == set(load_templates()) & {p.name for p in SAMPLES.iterdir()}
    for form in ("bo2025-runoff", "elections-abroad-2031"):  # a folder no template reads is not uploaded
        (tmp_path / form).mkdir()
        (tmp_path / form / "scan.jpg").write_bytes(b"")
    assert [p.parent.name for p in sample_scans(tmp_path)] == ["bo2025-runoff"]
