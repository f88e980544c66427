"""Form templates are data: both ship, validate, and a broken one is refused with a reason."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ReadError
from pipeline.templates import (
    BUILTIN_TEMPLATES_DIR,
    TemplateError,
    load_template,
    load_templates,
    template_json_schema,
)
from tests.conftest import REPO


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


def _runoff_json() -> dict:
    return json.loads((BUILTIN_TEMPLATES_DIR / "bo2025-runoff.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["variants"][1].update(maskd=d["variants"][1].pop("masked")), r"\$\.variants\[1\]\.maskd"),
        (lambda d: d["rules"][0].update(lefft=["presidente.PDC"]), r"\$\.rules\[0\]\.lefft"),
        (lambda d: d["sections"][0]["fields"][2].update(digit=3), r"\$\.sections\[0\]\.fields\[2\]\.digit"),
        (lambda d: d.update(notes="x"), r"\$\.notes"),
        (lambda d: d.update(directory="/tmp"), r"\$\.directory"),
    ],
)
def test_an_unknown_key_is_refused_with_the_file_and_its_json_path(tmp_path: Path, edit, path: str) -> None:
    # A misspelt `masked` used to validate as "nothing masked", shipping jurors' names in the reference.
    data = _runoff_json()
    edit(data)
    target = tmp_path / "typo.json"
    target.write_text(json.dumps(data))
    with pytest.raises(TemplateError, match=path) as info:
        load_template(target)
    assert str(target) in str(info.value) and "Extra inputs are not permitted" in str(info.value)
    assert not isinstance(info.value, ReadError)  # a broken form file is the operator's, not the upload's


def test_a_templates_dir_adds_to_the_built_ins_and_a_same_id_replaces(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for f in BUILTIN_TEMPLATES_DIR.glob("bo2025-runoff*"):
        shutil.copy(f, tmp_path)
    data = _runoff_json()
    data["title"] = "a local edit of the runoff form"
    (tmp_path / "bo2025-runoff.json").write_text(json.dumps(data))
    with caplog.at_level(logging.INFO, logger="pipeline.templates"):
        templates = load_templates(tmp_path)
    assert set(templates) == set(load_templates())  # the first round is still there
    assert templates["bo2025-runoff"].title == "a local edit of the runoff form"
    assert "replaces" in caplog.text
    assert list(templates) == sorted(templates)  # which forms, not the order found, decides
    with pytest.raises(TemplateError, match="not found"):
        load_templates(tmp_path / "missing")


def test_the_published_schema_is_current_and_strict() -> None:
    schema: dict[str, Any] = template_json_schema()
    published = json.loads((REPO / "docs" / "template.schema.json").read_text(encoding="utf-8"))
    assert published == schema, "docs/template.schema.json is stale: run `actas templates --schema`"
    assert schema["additionalProperties"] is False and "directory" not in schema["properties"]
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values() if d.get("type") == "object")
