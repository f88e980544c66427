"""`actas read`, `actas eval`, `actas templates` as a user runs them: output, messages, exit status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from actas.cli import main
from pipeline.reader import ActaReader
from pipeline.templates import BUILTIN_TEMPLATES_DIR
from tests.conftest import ACTAS


def test_read_prints_one_document_per_file_and_writes_overlays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [ACTAS / "bo2025-runoff" / "mesa_1000551.jpg", ACTAS / "bo2025-runoff" / "mesa_8002451.jpg"]
    assert main(["read", *map(str, files), "--cpu", "--overlay", str(tmp_path / "audit")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["template"] for d in docs] == ["bo2025-runoff"] * 2
    assert docs[0]["counts"]["presidente"]["LIBRE"] == 164
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == [
        "mesa_1000551.overlay.png",
        "mesa_8002451.overlay.png",
    ]


def test_bad_files_are_named_and_the_rest_still_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = ACTAS / "bo2025-runoff" / "mesa_5018381.jpg"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not a scan")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good.read_bytes()[:5000])
    missing = tmp_path / "nope.jpg"
    status = main(["read", str(empty), str(text), str(good), str(truncated), str(missing), "--cpu"])
    out, err = capsys.readouterr()
    assert status == 1
    assert len(out.strip().splitlines()) == 1 and json.loads(out)["mesa_code"] == "501838-1"
    for name, reason in (
        ("empty.jpg", "empty"),
        ("notes.txt", "not a JPEG"),
        ("cut.jpg", "truncated"),
        ("nope.jpg", "No such file"),
    ):
        assert any(name in line and reason in line for line in err.splitlines()), (name, err)
    assert "Traceback" not in err


def test_eval_closes_with_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ACTAS / "bo2025-runoff", tmp_path / "runoff")
    truth = json.loads((tmp_path / "runoff" / "truth.json").read_text())
    truth["actas"]["mesa_1000551.jpg"]["counts"]["presidente"]["PDC"] = 41  # a deliberately wrong truth
    (tmp_path / "runoff" / "truth.json").write_text(json.dumps(truth))
    assert main(["eval", str(tmp_path / "runoff"), "--cpu"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any("mesa_1000551.jpg" in line and "presidente.PDC" in line and " 41 " in line for line in out)
    assert out[-1].startswith("field accuracy 96.00% (24/25), actas exact 4/5, unflagged errors")


def test_templates_lists_the_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    assert "bo2025-general" in out and "bo2025-runoff" in out and "variants A1, A3" in out


def test_templates_refuses_an_unknown_key_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((BUILTIN_TEMPLATES_DIR / "bo2025-runoff.json").read_text(encoding="utf-8"))
    data["id"] = "typo-form"
    data["variants"][0]["maskd"] = data["variants"][0].pop("masked")
    (tmp_path / "typo-form.json").write_text(json.dumps(data))
    assert main(["templates", "--templates-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "typo-form.json" in err and "$.variants[0].maskd: Extra inputs are not permitted" in err


def test_templates_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "actas-ocr form template" and "maskd" not in json.dumps(schema)


def test_eval_without_truth_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path)]) == 2
    assert "truth.json" in capsys.readouterr().err


def test_eval_scores_the_readings_of_an_ingest_run_without_reading_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reader: ActaReader
) -> None:
    folder = ACTAS / "bo2025-runoff"
    read = ["mesa_1000551.jpg", "mesa_8002451.jpg"]  # 3 of the folder's 5 actas were not read
    lines = [
        json.dumps(
            {"source": str(folder / n), "page": None, "reading": reader.read((folder / n).read_bytes()).model_dump()}
        )
        for n in read
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(lines) + "\n")
    assert main(["eval", str(folder), "--readings", str(results), "--quiet"]) == 1  # the unread ones failed
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("field accuracy 100.00% (10/10), actas exact 2/2, unflagged errors 0")

    results.write_text(lines[0] + "\n{not json\n")
    assert main(["eval", str(folder), "--readings", str(results)]) == 2
    assert "line 2 is not an ingest result" in capsys.readouterr().err
