"""Form templates are data: both ship, validate, and a broken one is refused with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.templates import load_template, load_templates


def test_shipped_templates() -> None:
    templates = load_templates()
    assert set(templates) == {"bo2019-general", "bo2020-general", "bo2025-general", "bo2025-runoff"}
    general, runoff = templates["bo2025-general"], templates["bo2025-runoff"]
    assert len(general.field_keys) == 27 and "diputados.MAS_IPSP" in general.field_keys
    assert runoff.field_keys[:2] == ["presidente.PDC", "presidente.LIBRE"]
    assert [v.id for v in runoff.variants] == ["A1", "A3"]
    for t in templates.values():
        for v in t.variants:
            img = t.reference_image(v)
            assert img.ndim == 2 and img.shape[1] == 1200  # shipped downscaled, grayscale


def test_rules_are_the_printed_ones() -> None:
    runoff = load_templates()["bo2025-runoff"]
    rules = {r.name: (r.left, r.right) for r in runoff.rules}
    assert (["presidente.VOTOS_VALIDOS"], ["presidente.PDC", "presidente.LIBRE"]) in rules.values()
    assert (
        ["mesa.PAPELETAS_EN_ANFORA", "mesa.PAPELETAS_NO_UTILIZADAS"],
        ["mesa.ELECTORES_HABILITADOS"],
    ) in rules.values()


def test_a_new_form_is_a_new_file(tmp_path: Path) -> None:
    src = Path(load_templates()["bo2025-runoff"].directory)
    for f in src.glob("bo2025-runoff*"):
        shutil.copy(f, tmp_path)
    data = json.loads((tmp_path / "bo2025-runoff.json").read_text())
    data["id"] = "example-2030"
    (tmp_path / "example-2030.json").write_text(json.dumps(data))
    assert {"bo2025-runoff", "example-2030"} <= set(load_templates(tmp_path))


def test_rule_naming_an_unknown_field_is_refused(tmp_path: Path) -> None:
    data = json.loads((Path(load_templates()["bo2025-runoff"].directory) / "bo2025-runoff.json").read_text())
    data["rules"][0]["right"].append("presidente.NOPE")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="NOPE"):
        load_template(path)


def test_missing_box_is_refused(tmp_path: Path) -> None:
    data = json.loads((Path(load_templates()["bo2025-runoff"].directory) / "bo2025-runoff.json").read_text())
    del data["variants"][0]["boxes"]["presidente.PDC"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"presidente\.PDC"):
        load_template(path)
