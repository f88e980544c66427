"""`actas ingest --engine ray` on a local Ray of 2 CPUs: the local engine's outputs, object-store URIs, resuming
after a kill, and a usage error without Ray."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actas.cli import main
from tests.conftest import ACTAS, REPO

ray = pytest.importorskip("ray")

RUNOFF = ACTAS / "bo2025-runoff"
SCANS = ("mesa_1000551.jpg", "mesa_100014.jpg", "mesa_5018381.jpg")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One local Ray for the module; its address, for a second process to join."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real runoff actas (one in a sub-folder) and a truncated upload."""
    folder = tmp_path_factory.mktemp("election")
    (folder / "district-1").mkdir()
    shutil.copy(RUNOFF / SCANS[0], folder)
    for name in SCANS[1:]:
        shutil.copy(RUNOFF / name, folder / "district-1")
    (folder / "cut.jpg").write_bytes((RUNOFF / "mesa_100344.jpg").read_bytes()[:20_000])
    return folder


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def readings(out: Path) -> dict[tuple[str, int | None], dict[str, Any]]:
    """(file name, page) -> the reading without its timings (the only part that differs run to run)."""
    found = {}
    for d in lines(out / "results.jsonl"):
        found[(Path(d["source"]).name, d["page"])] = {k: v for k, v in d["reading"].items() if k != "timings_ms"}
    return found


def test_ray_gives_the_local_engines_outputs(cluster: str, folder: Path, tmp_path: Path) -> None:
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    common = [str(folder), "--cpu", "--no-progress", "--workers", "2"]
    assert main(["ingest", *common, "--out", str(local), "--engine", "local"]) == 1  # cut.jpg fails
    assert main(["ingest", *common, "--out", str(on_ray), "--engine", "ray"]) == 1

    expected = readings(local)
    assert sorted(expected) == sorted((name, None) for name in SCANS)
    assert readings(on_ray) == expected  # field by field
    assert sorted(lines(on_ray / "failed.jsonl"), key=str) == sorted(lines(local / "failed.jsonl"), key=str)
    assert [d["source"] for d in lines(on_ray / "failed.jsonl")] == [str(folder / "cut.jpg")]
    for name in ("results.csv", "summary.json"):  # sorted by source, no timings: the same bytes
        assert (on_ray / name).read_text() == (local / name).read_text()

    # Resuming by (sha256, page): nothing left but the failed file, tried again.
    assert main(["ingest", *common, "--out", str(on_ray), "--engine", "ray"]) == 1
    assert len(lines(on_ray / "results.jsonl")) == len(SCANS)
    run = json.loads((on_ray / "summary.json").read_text())["this_run"]
    assert (run["read"], run["skipped"], run["failed"]) == (0, len(SCANS), 1)


def test_object_store_uris_are_listed_and_read_through_pyarrow(cluster: str, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    uri = f"file://{folder / 'district-1'}"
    assert main(["ingest", uri, "--out", str(out), "--cpu", "--no-progress", "--engine", "ray"]) == 0
    got = lines(out / "results.jsonl")
    assert sorted(d["source"] for d in got) == [f"{uri}/{name}" for name in sorted(SCANS[1:])]
    local = tmp_path / "local"
    assert main(["ingest", str(folder / "district-1"), "--out", str(local), "--cpu", "--no-progress"]) == 0
    assert readings(out) == readings(local)

    assert main(["ingest", f"{uri}/missing.jpg", "--out", str(out), "--engine", "ray"]) == 2


def test_a_killed_run_resumes_with_every_acta_exactly_once(
    cluster: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # more actas than Ray hands back at once, so that the kill lands before the last (three once came together)
    election = tmp_path / "election"
    shutil.copytree(folder, election)
    more = sorted((ACTAS / "bo2019-general").glob("*.jpg"))[:6]
    (election / "district-2").mkdir()
    for scan in more:
        shutil.copy(scan, election / "district-2")
    names = sorted([*SCANS, *(p.name for p in more)])
    out = tmp_path / "out"
    results = out / "results.jsonl"
    cmd = ["ingest", str(election), "--out", str(out), "--cpu", "--no-progress", "--engine", "ray"]
    proc = subprocess.Popen(  # a second driver, joining the module's cluster; one actor: the work outlasts a read
        [sys.executable, "-m", "actas.cli", *cmd, "--workers", "1", "--address", cluster],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no acta read in 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    read_before = lines(results)
    assert 1 <= len(read_before) < len(names)

    assert main([*cmd, "--workers", "2"]) == 1  # cut.jpg
    capsys.readouterr()
    got = lines(results)
    assert sorted(Path(d["source"]).name for d in got) == names  # each exactly once
    assert got[: len(read_before)] == read_before


def test_engine_ray_without_ray_is_a_usage_error(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["ingest", str(folder), "--out", str(tmp_path / "out"), "--cpu", "--engine", "ray"]) == 2
    assert "pip install 'actas-ocr[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.jsonl").read_text()  # nothing was read
