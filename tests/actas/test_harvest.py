"""`actas harvest`: real boxes with their labels from truth files and hand labels, split by scan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from actas.cli import main
from actas.harvest import box_labels, harvest, load_manifest, read_hand_labels, split_of
from pipeline.reader import ActaReader
from tests.conftest import ACTAS

RUNOFF = ACTAS / "bo2025-runoff"


def test_a_value_sits_right_aligned_and_leading_boxes_are_zero_where_inked() -> None:
    assert box_labels(8, [True, True, True]) == ["0", "0", "8"]  # a juror's `008`
    assert box_labels(8, [False, False, True]) == ["blank", "blank", "8"]
    assert box_labels(164, [True, True, True]) == ["1", "6", "4"]
    assert box_labels(None, [False, True]) == ["blank", "blank"]  # a field left empty on purpose


def test_a_field_whose_boxes_cannot_carry_its_value_is_left_unlabelled() -> None:
    assert box_labels(1234, [True, True, True]) is None  # more digits than boxes
    assert box_labels(45, [True, True, False]) is None  # the value needs a box the reader saw empty
    assert box_labels(-1, [True]) is None


def test_an_official_zero_labels_empty_boxes_blank_only_where_the_truth_says_so() -> None:
    assert box_labels(0, [False, False, False], zero_may_be_blank=True) == ["blank"] * 3
    assert box_labels(0, [False, False, False]) is None  # a 0 needs ink somewhere
    assert box_labels(0, [False, False, True], zero_may_be_blank=True) == ["blank", "blank", "0"]


def test_the_split_is_by_content_stable_and_near_its_share() -> None:
    shas = [f"{i:064x}" for i in range(2000)]
    held = [split_of(s, 0.4, 2026) for s in shas]
    assert held == [split_of(s, 0.4, 2026) for s in shas]  # the same scan always lands the same side
    assert 0.36 < held.count("heldout") / len(held) < 0.44
    assert {split_of(s, 0.0, 1) for s in shas} == {"train"}
    assert {split_of(s, 1.0, 1) for s in shas} == {"heldout"}


def test_hand_label_files_are_checked_line_by_line(tmp_path: Path) -> None:
    good = tmp_path / "good.tsv"
    good.write_text("# comment\nabc:presidente.CC:0\tX  # 3 read 4\nabc:presidente.CC:1\t?\n\nabc:p.Q:2\t7\n")
    assert read_hand_labels([good]) == {"abc:presidente.CC:0": "X", "abc:p.Q:2": "7"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("abc:p.Q:2\tseven\n")
    with pytest.raises(ValueError, match=r"bad.tsv:1: label 'seven'"):
        read_hand_labels([bad])
    bad.write_text("\nabc:p.Q:2\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 'KEY LABEL'"):
        read_hand_labels([bad])


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runoff scans with their truth, and a file that is not a scan."""
    d = tmp_path_factory.mktemp("scans")
    truth = json.loads((RUNOFF / "truth.json").read_text())
    names = ["mesa_1000551.jpg", "mesa_8002451.jpg"]
    for n in names:
        shutil.copy(RUNOFF / n, d / n)
    truth["actas"] = {n: truth["actas"][n] for n in names}
    (d / "truth.json").write_text(json.dumps(truth))
    (d / "broken.jpg").write_bytes(b"not a jpeg")
    return d


def test_harvest_labels_every_box_of_a_known_field_from_the_truth(
    scans: Path, tmp_path: Path, reader: ActaReader
) -> None:
    files = sorted(scans.glob("*.jpg"))
    summary = harvest(reader, files, tmp_path / "ds", {}, heldout=0.5, seed=1, progress=False)
    assert summary.scans == 2 and list(summary.failed) == [str(scans / "broken.jpg")]
    rows = load_manifest(tmp_path / "ds")
    truth = json.loads((scans / "truth.json").read_text())["actas"]
    assert {r.scan for r in rows} == set(truth)
    # the labels of a field's boxes spell its official value
    for scan, entry in truth.items():
        fields: dict[str, list[str]] = {}
        for r in (r for r in rows if r.scan == scan and r.source == "truth"):
            fields.setdefault(r.field, []).append(r.label or "")
        assert fields, scan
        for name, labels in fields.items():
            section, key = name.split(".", 1)
            value = "".join(c for c in labels if c != "blank").lstrip("0") or ("0" if "0" in labels else "")
            want = entry["counts"][section][key]
            assert value == ("" if want is None else str(want)), (scan, name, labels)
    # crops at the scan's resolution and canvases at the classifier's input size
    r = rows[0]
    crop = cv2.imread(str(tmp_path / "ds" / r.crop))
    canvas = cv2.imread(str(tmp_path / "ds" / r.canvas), cv2.IMREAD_GRAYSCALE)
    assert crop is not None and crop.shape[0] > 20 and canvas is not None and canvas.shape == (32, 32)
    assert {r.split for r in rows if r.scan == rows[0].scan} in ({"train"}, {"heldout"})  # one side per scan
    held = (tmp_path / "ds" / "heldout.txt").read_text().split()
    assert sorted(held) == sorted({r.scan for r in rows if r.split == "heldout"})
    assert json.loads((tmp_path / "ds" / "summary.json").read_text())["boxes"] == len(rows)


def test_hand_labels_win_over_the_truth_and_a_rerun_rebuilds_whole(
    scans: Path, tmp_path: Path, reader: ActaReader
) -> None:
    scan = scans / "mesa_1000551.jpg"
    first = harvest(reader, [scan], tmp_path / "ds", {}, heldout=0.0, seed=1, progress=False)
    row = load_manifest(tmp_path / "ds")[3]
    (tmp_path / "ds" / "stray.txt").write_text("left over")
    again = harvest(reader, [scan], tmp_path / "ds", {row.key: "X"}, heldout=0.0, seed=1, progress=False)
    rows = load_manifest(tmp_path / "ds")
    assert again.boxes == first.boxes == len(rows)
    assert (rows[3].label, rows[3].source) == ("X", "hand")
    assert not (tmp_path / "ds" / "stray.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]  # no temporary left behind


def test_the_cli_builds_writes_sheets_and_refuses_bad_options(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = tmp_path / "ds"
    assert main(["harvest", "build", str(scans / "mesa_8002451.jpg"), "--out", str(ds), "--cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["scans"] == 1
    assert main(["harvest", "sheet", str(ds), "--out", str(tmp_path / "sheets"), "--source", "any"]) == 0
    sheet = tmp_path / "sheets" / "sheet-001.png"
    lines = [x for x in sheet.with_suffix(".tsv").read_text().splitlines() if not x.startswith("#")]
    assert cv2.imread(str(sheet)) is not None and len(lines) == min(120, len(load_manifest(ds)))
    # the sheet's file, filled in, is a hand-label file as it stands
    assert len(read_hand_labels([sheet.with_suffix(".tsv")])) == len(lines)
    # an audit of labels: the labelled boxes of one split, grouped by label, each line its own label
    audit = tmp_path / "audit"
    split = load_manifest(ds)[0].split  # the one scan's
    args = ["--source", "truth", "--split", split, "--by-label"]
    assert main(["harvest", "sheet", str(ds), "--out", str(audit), *args]) == 0
    labels = [x.split("\t")[1] for x in (audit / "sheet-001.tsv").read_text().splitlines() if not x.startswith("#")]
    want = sorted(str(r.label) for r in load_manifest(ds) if r.source == "truth")
    assert labels == want and len(set(labels)) > 1
    capsys.readouterr()
    assert main(["harvest", "build", str(scans), "--out", str(ds), "--heldout", "2"]) == 2
    assert "--heldout must be between 0 and 1" in capsys.readouterr().err
    assert main(["harvest", "build", str(tmp_path / "nope"), "--out", str(ds)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["harvest", "sheet", str(tmp_path), "--out", str(tmp_path / "s2")]) == 2
    assert "not a harvested dataset" in capsys.readouterr().err
    assert (ds / "manifest.jsonl").is_file()  # a refused rebuild left the dataset as it was


def test_checked_labels_are_the_vouched_readings_of_training_scans_only(tmp_path: Path, reader: ActaReader) -> None:
    src = ACTAS / "bo2019-general"
    scan = tmp_path / "mesa_10370.jpg"  # every rule holds; truth for the presidente column only
    shutil.copy(src / scan.name, scan)
    truth = json.loads((src / "truth.json").read_text())
    truth["actas"] = {scan.name: truth["actas"][scan.name]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    harvest(reader, [scan], tmp_path / "train", {}, heldout=0.0, seed=1, progress=False, checked=True)
    rows = load_manifest(tmp_path / "train")
    checked = [r for r in rows if r.source == "checked"]
    assert checked and {r.field.split(".")[0] for r in checked} <= {"diputados", "mesa"}
    assert all(r.source == "truth" for r in rows if r.field.startswith("presidente."))
    reading = reader.read(scan.read_bytes())
    by_name = {f"{f.section}.{f.key}": f for f in reading.fields}
    for r in checked:  # each label is the box as the reader read it, in a field nothing doubts
        f = by_name[r.field]
        assert not f.needs_review or {c.value for c in f.reason_codes} == {"note_written"}
        assert r.label == ("blank" if f.text[r.box] == "_" else f.text[r.box])
    harvest(reader, [scan], tmp_path / "held", {}, heldout=1.0, seed=1, progress=False, checked=True)
    assert not [r for r in load_manifest(tmp_path / "held") if r.source == "checked"]  # never on a held-out scan
