"""`actas forms new` drafts a template from real samples; `actas forms check` is idempotent and writes
only when asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from actas.cli import main
from pipeline.templates import BUILTIN_TEMPLATES_DIR, load_template, load_templates
from tests.conftest import ACTAS

Y2020 = ACTAS / "bo2020-general"


def test_forms_new_finds_the_box_grid_and_never_overwrites(tmp_path: Path, capsys) -> None:
    samples = [str(Y2020 / n) for n in ("25001.jpg", "25002.jpg", "25003.jpg")]
    assert main(["forms", "new", "draft-2020", *samples, "--out", str(tmp_path)]) == 0
    draft = load_template(tmp_path / "draft-2020.json")  # a valid, strict template as written
    threes = [k for k, (_s, f) in draft.fields.items() if f.digits == 3]
    assert len(threes) >= 15  # most of the 25 count groups of the form, found from the printed lines
    v = draft.variants[0]
    assert v.mesa_code is not None and {"Code39", "Code128"} <= set(v.mesa_code.formats)
    assert (tmp_path / "draft-2020.A1.jpg").stat().st_size < 400_000
    assert (tmp_path / "draft-2020.A1.overlay.png").is_file()
    before = (tmp_path / "draft-2020.json").read_bytes()
    assert main(["forms", "new", "draft-2020", *samples, "--out", str(tmp_path)]) == 2
    assert (tmp_path / "draft-2020.json").read_bytes() == before


def test_forms_check_is_idempotent_and_writes_only_when_asked(tmp_path: Path, capsys) -> None:
    for f in BUILTIN_TEMPLATES_DIR.glob("bo2020-general*"):
        shutil.copy(f, tmp_path)
    path = tmp_path / "bo2020-general.json"
    data = json.loads(path.read_text())
    box = data["variants"][0]["boxes"]["presidente.MAS_IPSP"]
    box[0] += 3  # a rough guess, 3 px off
    path.write_text(json.dumps(data))
    sample = str(Y2020 / "25001.jpg")
    assert main(["forms", "check", str(path), sample]) == 0
    assert json.loads(path.read_text()) == data  # reported, not written
    assert main(["forms", "check", str(path), sample, "--write"]) == 0
    once = path.read_text()
    assert json.loads(once) != data  # the groups moved to their printed lines
    assert main(["forms", "check", str(path), sample, "--write"]) == 0
    assert path.read_text() == once
    assert "nothing to change" in capsys.readouterr().out


def test_templates_dir_adds_to_the_builtins(tmp_path: Path) -> None:
    for f in BUILTIN_TEMPLATES_DIR.glob("bo2020-general*"):
        shutil.copy(f, tmp_path)
    data = json.loads((tmp_path / "bo2020-general.json").read_text())
    data["title"] = "replaced"
    (tmp_path / "bo2020-general.json").write_text(json.dumps(data))
    found = load_templates(tmp_path)
    assert {"bo2019-general", "bo2025-general", "bo2025-runoff", "bo2020-general"} <= set(found)
    assert found["bo2020-general"].title == "replaced"
