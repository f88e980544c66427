"""`actas ingest` as an operator runs it on real scans: folders, PDFs, bad files, resuming, Ctrl-C, the service."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image

from actas.cli import main
from pipeline.config import SHIPPED_MODEL
from pipeline.reader import ActaReader
from tests.conftest import ACTAS, REPO

RUNOFF = ACTAS / "bo2025-runoff"
TRUTH = json.loads((RUNOFF / "truth.json").read_text())["actas"]


def make_pdf(path: Path, scans: list[Path]) -> None:
    """A multi-page PDF with one scan per page, at the scans' 150 dpi (A4)."""
    pages = [Image.open(p).convert("RGB") for p in scans]
    pages[0].save(path, format="PDF", save_all=True, append_images=pages[1:], resolution=150)


def result_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def failed_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]


def truth_of(line: dict[str, Any], pdf_pages: dict[int, str]) -> dict[str, Any]:
    name = Path(line["source"]).name if line["page"] is None else pdf_pages[line["page"]]
    return dict(TRUTH[name])


@pytest.fixture
def election(tmp_path: Path) -> Path:
    """A folder as scanners leave it: scans in sub-folders, a two-page PDF, and some junk."""
    folder = tmp_path / "election"
    (folder / "district-1").mkdir(parents=True)
    shutil.copy(RUNOFF / "mesa_1000551.jpg", folder)
    shutil.copy(RUNOFF / "mesa_5018381.jpg", folder / "district-1")
    make_pdf(folder / "district-1" / "batch.pdf", [RUNOFF / "mesa_100014.jpg", RUNOFF / "mesa_8002451.jpg"])
    (folder / "cut.jpg").write_bytes((RUNOFF / "mesa_100344.jpg").read_bytes()[:20_000])  # truncated upload
    (folder / "notes.png").write_text("a text file with a scan's name")
    (folder / "readme.txt").write_text("not named like a scan: ignored")
    return folder


BATCH_PAGES = {1: "mesa_100014.jpg", 2: "mesa_8002451.jpg"}


def test_ingest_reads_folders_and_pdf_pages_lists_failures_and_resumes(
    election: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    out = tmp_path / "out"
    args = ["ingest", str(election), str(broken_pdf), "--out", str(out), "--cpu", "--workers", "2"]

    assert main(args) == 1  # some files failed; the others were all read
    printed, err = capsys.readouterr()

    lines = result_lines(out)
    assert sorted((Path(d["source"]).name, d["page"]) for d in lines) == [
        ("batch.pdf", 1),
        ("batch.pdf", 2),
        ("mesa_1000551.jpg", None),
        ("mesa_5018381.jpg", None),
    ]
    for d in lines:
        truth = truth_of(d, BATCH_PAGES)
        assert d["reading"]["mesa_code"] == truth["mesa_code"]
        assert d["reading"]["counts"]["presidente"] == truth["counts"]["presidente"], d["source"]
        # An image's acta_id is its file's sha256; a page's is that of the rendered page.
        assert (d["reading"]["acta_id"] == d["sha256"]) is (d["page"] is None)
    assert len({d["reading"]["acta_id"] for d in lines}) == 4

    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    lines.sort(key=lambda d: (d["source"], d["page"] or 0))  # the CSV's order; results.jsonl's is as read
    assert [(Path(r["source"]).name, r["page"]) for r in rows] == [
        (Path(d["source"]).name, "" if d["page"] is None else str(d["page"])) for d in lines
    ]
    for r, d in zip(rows, lines, strict=True):
        assert r["mesa_code"] == d["reading"]["mesa_code"] and r["template"] == "bo2025-runoff"
        assert r["needs_review"] == str(d["reading"]["needs_review"]).lower()
        assert int(r["presidente.LIBRE"]) == d["reading"]["counts"]["presidente"]["LIBRE"]
        assert r["mesa.ELECTORES_HABILITADOS"] != ""

    reasons = {Path(f["source"]).name: f["reason"] for f in failed_lines(out)}
    assert set(reasons) == {"cut.jpg", "notes.png", "broken.pdf"}
    assert "truncated JPEG" in reasons["cut.jpg"]
    assert "not a JPEG, PNG, TIFF or PDF" in reasons["notes.png"]
    assert "not a readable PDF" in reasons["broken.pdf"]
    for name in reasons:
        assert any(name in line for line in err.splitlines()), err
    assert "Traceback" not in err

    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"] == {
        "actas": 4,
        "flagged": sum(d["reading"]["needs_review"] for d in lines),
        "with_notes": sum(d["reading"]["notes"]["written"] for d in lines),
        "by_template": {"bo2025-runoff": 4},
    }
    run = summary["this_run"]
    assert (run["read"], run["failed"], run["skipped"], run["ignored"], run["not_attempted"]) == (4, 3, 0, 1, 0)
    expected_pdc = sum(truth_of(d, BATCH_PAGES)["counts"]["presidente"]["PDC"] for d in lines)
    assert summary["totals"]["bo2025-runoff"]["presidente.PDC"] == expected_pdc
    assert "this run: 4 read" in printed and "presidente.PDC" in printed

    # Again: every acta is done, so nothing is read; the bad files are tried (and listed) again.
    before = (out / "results.jsonl").read_bytes()
    assert main(args) == 1
    assert (out / "results.jsonl").read_bytes() == before
    assert len(failed_lines(out)) == 3
    run = json.loads((out / "summary.json").read_text())["this_run"]
    assert (run["read"], run["skipped"], run["failed"]) == (0, 4, 3)
    assert "this run: 0 read" in capsys.readouterr().out

    # The same scans under other names, by glob: duplicates of what is done, not new actas.
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy(RUNOFF / "mesa_1000551.jpg", copies / "again.jpg")
    shutil.copy(RUNOFF / "mesa_1000551.jpg", copies / "again-2.jpg")
    assert main(["ingest", str(copies / "*.jpg"), "--out", str(out), "--cpu"]) == 0
    assert (out / "results.jsonl").read_bytes() == before
    run = json.loads((out / "summary.json").read_text())["this_run"]
    assert (run["read"], run["skipped"], run["duplicates"], run["failed"]) == (0, 1, 1, 0)


def test_interrupted_run_resumes_with_every_acta_exactly_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("mesa_1000551.jpg", "mesa_5018381.jpg"):
        shutil.copy(RUNOFF / name, folder)
    pages = sorted(TRUTH)  # the five runoff actas, one per page
    make_pdf(folder / "all.pdf", [RUNOFF / n for n in pages])
    out = tmp_path / "out"
    results = out / "results.jsonl"
    cmd = ["ingest", str(folder), "--out", str(out), "--cpu", "--no-progress"]

    proc = subprocess.Popen(
        [sys.executable, "-m", "actas.cli", *cmd, "--workers", "1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no acta read in 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "not attempted: run the same command again" in stdout  # the summary is printed on the way out
    read_before = result_lines(out)
    assert 1 <= len(read_before) < 7
    summary = json.loads((out / "summary.json").read_text())  # written on the way out
    assert summary["results"]["actas"] == len(read_before) and summary["this_run"]["not_attempted"] > 0

    # A kill in the middle of a write leaves a partial last line: the next run drops it.
    with results.open("ab") as f:
        f.write(b'{"source": "half-written", "page": nu')
    assert main([*cmd, "--workers", "2"]) == 0
    assert "dropped an incomplete last line" in capsys.readouterr().err
    lines = result_lines(out)
    keys = [(Path(d["source"]).name, d["page"]) for d in lines]
    assert sorted(keys, key=str) == sorted(
        [("mesa_1000551.jpg", None), ("mesa_5018381.jpg", None)] + [("all.pdf", p) for p in range(1, 6)], key=str
    )
    assert lines[: len(read_before)] == read_before  # what was read before is kept as it was
    by_page = dict(enumerate(pages, start=1))
    for d in lines:
        assert d["reading"]["mesa_code"] == truth_of(d, by_page)["mesa_code"]
    with (out / "results.csv").open(newline="") as f:
        assert len(list(csv.DictReader(f))) == 7


def test_folders_give_scans_by_name_but_not_the_output_directory(tmp_path: Path) -> None:
    from actas.ingest.sources import expand

    for name in ("b.jpg", "sub/c.PDF", "sub/.hidden.jpg", ".cache/d.png", "notes.txt", "out/e.png", "out/results.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = expand([str(tmp_path), str(tmp_path / "b.jpg"), str(tmp_path / "notes.txt")], skip_dir=tmp_path / "out")
    assert [p.relative_to(tmp_path).as_posix() for p in found.files] == ["b.jpg", "sub/c.PDF", "notes.txt"]
    assert [p.name for p in found.ignored] == []  # notes.txt was named directly: tried, not ignored
    assert [p.name for p in expand([str(tmp_path)]).ignored] == ["notes.txt", "results.csv"]


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a scan")
    assert main(["ingest", str(empty), "--out", str(tmp_path / "out")]) == 2
    assert "no input files matched" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "*.jpg"), "--out", str(tmp_path / "out")]) == 2
    assert main(["ingest", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "out")]) == 2
    assert "missing.jpg: no such file" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["ingest", str(RUNOFF / "mesa_1000551.jpg"), "--out", str(tmp_path / "file")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["ingest", str(RUNOFF / "mesa_1000551.jpg"), "--out", str(tmp_path / "o"), "--template", "nope"]) == 2
    assert "unknown template" in capsys.readouterr().err


def test_unknown_views_are_a_usage_error_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a worker crash per file: the set-up is checked once, and no acta is recorded as failed."""
    monkeypatch.setenv("ACTAS_VIEWS", "identity,mirror")
    out = tmp_path / "out"
    assert main(["ingest", str(RUNOFF / "mesa_1000551.jpg"), "--out", str(out)]) == 2
    assert "$ACTAS_VIEWS" in capsys.readouterr().err
    assert not (out / "failed.jsonl").exists() and not (out / "results.jsonl").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_service(tmp_path: Path, reader: ActaReader) -> Iterator[tuple[str, str]]:
    """The real service (uvicorn on loopback, in a thread) over SQLite in tmp_path; (url, operator key)."""
    from service.app import create_app
    from service.db import ensure_schema, make_engine, session_factory
    from service.models import Role
    from service.security import create_key
    from service.settings import Settings

    database = f"sqlite:///{tmp_path / 'actas.db'}"
    engine = make_engine(database)
    ensure_schema(engine)
    with session_factory(engine)() as session:
        key = create_key(session, "scanner-1", Role.operator)
        session.commit()
    engine.dispose()
    settings = Settings(_env_file=None, database_url=database, model_path=SHIPPED_MODEL, prefer_gpu=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, reader=reader), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(10)


def test_url_mode_uploads_to_the_service(
    live_service: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, key = live_service
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(RUNOFF / "mesa_1000551.jpg", folder)
    make_pdf(folder / "one.pdf", [RUNOFF / "mesa_8002451.jpg"])
    (folder / "notes.png").write_text("a text file with a scan's name")
    out = tmp_path / "out"
    args = ["ingest", str(folder), "--out", str(out), "--url", url, "--concurrency", "2", "--no-progress"]

    assert main([*args, "--api-key", key]) == 1
    lines = result_lines(out)
    assert sorted((Path(d["source"]).name, d["page"]) for d in lines) == [("mesa_1000551.jpg", None), ("one.pdf", 1)]
    for d in lines:
        assert d["reading"]["mesa_code"] == truth_of(d, {1: "mesa_8002451.jpg"})["mesa_code"]
        assert d["record"]["uploaded_by"] == "scanner-1"
        assert "record" not in d["reading"]
    (failure,) = failed_lines(out)
    assert Path(failure["source"]).name == "notes.png"
    assert failure["reason"].startswith("HTTP 415 unsupported_media_type: not a JPEG")
    stored = urllib.request.urlopen(urllib.request.Request(f"{url}/actas", headers={"X-API-Key": key}), timeout=10)
    assert json.load(stored)["total"] == 2
    capsys.readouterr()

    # The key from the environment; everything read is skipped, only the bad file is sent again.
    monkeypatch.setenv("ACTAS_API_KEY", key)
    assert main(args) == 1
    run = json.loads((out / "summary.json").read_text())["this_run"]
    assert (run["read"], run["skipped"], run["failed"]) == (0, 2, 1)
    assert len(result_lines(out)) == 2

    monkeypatch.setenv("ACTAS_API_KEY", "actas_not-a-key")
    assert main([*args, "--out", str(tmp_path / "o2")]) == 2
    assert "401" in capsys.readouterr().err


class FlakyService(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` uploads, then stores anything with a canned reading."""

    failures = 2
    uploads = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200, {"total": 0, "limit": 1, "offset": 0, "items": []})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).uploads += 1
        if type(self).uploads <= self.failures:
            self._answer(503, {"detail": "the database cannot be reached; try again", "code": "database_unavailable"})
            return
        reading = {"acta_id": "0" * 64, "template": "t", "variant": "A1", "template_score": 1.0, "mesa_code": None}
        reading |= {"counts": {"s": {"K": 1}}, "fields": [], "checks": [], "needs_review": False, "timings_ms": {}}
        self._answer(201, {**reading, "record": {"status": "counted"}})


def test_url_mode_retries_503_and_gives_up_on_a_dead_service(tmp_path: Path) -> None:
    scan = tmp_path / "scan.jpg"
    scan.write_bytes(b"any bytes: this stub service does not read them")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    common = [str(scan), "--api-key", "actas_k", "--backoff", "0.01", "--no-progress"]
    try:
        assert main(["ingest", *common, "--out", str(tmp_path / "a"), "--url", url]) == 0
        assert FlakyService.uploads == 3
        assert result_lines(tmp_path / "a")[0]["reading"]["counts"] == {"s": {"K": 1}}

        FlakyService.uploads, FlakyService.failures = 0, 100
        assert main(["ingest", *common, "--out", str(tmp_path / "b"), "--url", url, "--retries", "2"]) == 1
        assert FlakyService.uploads == 3
        (failure,) = failed_lines(tmp_path / "b")
        assert "HTTP 503" in failure["reason"] and "gave up after 3 tries" in failure["reason"]
    finally:
        server.shutdown()
        server.server_close()

    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["ingest", *common, "--out", str(tmp_path / "c"), "--url", dead, "--retries", "1"]) == 2


def test_a_multi_page_tiff_is_read_page_by_page(tmp_path: Path) -> None:
    """A two-page TIFF (two real runoff scans) is two actas, as a two-page PDF is; resuming skips both."""
    from pipeline.image_io import tiff_page_png

    names = ["mesa_1000551.jpg", "mesa_8002451.jpg"]
    pages = [Image.open(RUNOFF / n).convert("RGB") for n in names]
    tiff = tmp_path / "scans" / "batch.tif"
    tiff.parent.mkdir()
    pages[0].save(tiff, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    out = tmp_path / "out"
    assert main(["ingest", str(tiff.parent), "--out", str(out), "--cpu", "--workers", "1", "--no-progress"]) == 0
    lines = sorted(result_lines(out), key=lambda d: d["page"])
    assert [(Path(d["source"]).name, d["page"]) for d in lines] == [("batch.tif", 1), ("batch.tif", 2)]
    for d, name in zip(lines, names, strict=True):
        assert d["reading"]["mesa_code"] == TRUTH[name]["mesa_code"]
        assert d["reading"]["acta_id"] == hashlib.sha256(tiff_page_png(tiff.read_bytes(), d["page"])).hexdigest()
    assert main(["ingest", str(tiff.parent), "--out", str(out), "--cpu", "--workers", "1", "--no-progress"]) == 0
    assert len(result_lines(out)) == 2  # both pages already read: skipped


def test_the_csv_and_summary_say_which_actas_carry_a_written_note() -> None:
    from actas.ingest.report import RunCounts, build

    def line(name: str, notes: dict[str, object] | None) -> dict[str, object]:
        reading = {"acta_id": name, "template": "t", "needs_review": bool(notes and notes["written"]), "counts": {}}
        return {"source": f"/scans/{name}.jpg", "page": None, "reading": {**reading, "notes": notes}}

    box = [0, 0, 10, 10]
    report = build(
        [
            line("a", {"written": True, "ink_share": 0.02, "box": box}),
            line("b", {"written": False, "ink_share": 0.0, "box": box}),
            line("c", None),
        ],
        RunCounts(read=3),
    )
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert [r["note_written"] for r in rows] == ["true", "false", ""]  # "": the form has no notes box
    assert report.summary["results"]["with_notes"] == 1 and report.summary["results"]["flagged"] == 1
