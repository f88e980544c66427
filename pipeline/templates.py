"""Form templates: one JSON file per form, loaded from a directory, no Python per form.

A template names the form's sections and fields (with the number of digit boxes of each), its
arithmetic rules, and one or more print variants (the runoff was printed as tipo A1 in Bolivia and A3
abroad, with boxes in slightly different places). Each variant has a reference image of the printed
form, handwriting and personal data masked out, and each field's box group in that image's frame.
To add a new election's form, drop `<id>.json` and its reference image(s) into a templates
directory (`--templates-dir`, `ACTAS_TEMPLATES_DIR`), which adds to the built-in forms (a template with a
built-in id replaces it), then check it with `actas templates`.

Templates are strict: an unknown key is an error naming the file and the key's JSON path (a misspelt
`masked` would otherwise ship a reference image with jurors' names in it). `template_json_schema()` is
the schema form authors write against (`actas templates --schema`, docs/template.schema.json).
"""

from __future__ import annotations

import json
import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.rules import RuleSet

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES_DIR = Path(__file__).with_name("forms")
STRICT = ConfigDict(frozen=True, extra="forbid")

Box = tuple[float, float, float, float]


class FieldSpec(BaseModel):
    model_config = STRICT
    key: str
    label: str
    digits: int = Field(ge=1, le=6)


class SectionSpec(BaseModel):
    model_config = STRICT
    key: str
    title: str
    fields: list[FieldSpec]


class RuleSpec(BaseModel):
    """`sum(left) == sum(right)` (`op: "=="`, a printed sum) or `sum(left) <= sum(right)` (`op: "<="`, a
    plausibility bound: no more votes than electors), over `section.KEY` references; a blank field
    counts as 0. With `each`, a bound holds for every left field on its own (each party's count at most
    the ballots), not for their sum. `pipeline.rules.RuleSet` evaluates them."""

    model_config = STRICT
    name: str
    left: list[str] = Field(min_length=1)
    right: list[str] = Field(min_length=1)
    op: Literal["==", "<="] = "=="
    each: bool = False

    @model_validator(mode="after")
    def _each_is_a_bound(self) -> RuleSpec:
        if self.each and self.op != "<=":
            raise ValueError("'each' applies to bounds (op '<=') only")
        return self

    @property
    def fields(self) -> list[str]:
        """Every field the rule ties together, left then right, once each."""
        return list(dict.fromkeys([*self.left, *self.right]))


class MesaCodeSpec(BaseModel):
    """Where the mesa code's barcodes are (several candidate regions, tried in order), which barcode
    formats to read (zxing-cpp's names: `Code128`, `Code39`, `QRCode`...), and how a barcode's text
    becomes the printed code. The 2019 and 2020 forms carry a Code 39 in the mesa-code block and a
    Code 128 at the top right, both with the bare code; 2025's Code 128 appends a check digit."""

    model_config = STRICT
    regions: list[Box] = Field(min_length=1)
    formats: list[str] = Field(default=["Code128"], min_length=1)
    pattern: str = r"^(\d+)(\d)$"  # regular expression the barcode text must match
    format: str = r"\1-\2"  # replacement giving the printed form, e.g. 8004121 -> 800412-1

    @model_validator(mode="after")
    def _known(self) -> MesaCodeSpec:
        import zxingcpp  # here, not at import: templates load without the barcode reader

        unknown = [f for f in self.formats if not hasattr(zxingcpp.BarcodeFormat, f)]
        if unknown:
            raise ValueError(f"unknown barcode formats {unknown} (zxing-cpp's names, e.g. Code128, Code39)")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}") from exc
        return self


class VariantSpec(BaseModel):
    model_config = STRICT
    id: str
    reference: str  # image file beside the template, printed form only
    size: tuple[int, int]  # the reference frame (width, height) in which boxes are given
    masked: list[Box] = []  # regions blanked in the reference (handwriting, personal data, per-acta codes)
    boxes: dict[str, Box]  # "section.KEY" -> the group of digit boxes, outer border
    mesa_code: MesaCodeSpec | None = None
    # The inside of the notes box (OBSERVACIONES), under its printed heading and above its printed
    # footer: where jurors write corrections, which the official result follows (`pipeline.notes`).
    notes: Box | None = None


class Template(BaseModel):
    model_config = STRICT
    id: str
    title: str
    # What jurors write in a box that holds no digit, besides leaving it blank: on the 2020 form every
    # unused box is crossed with an `X` (and a withdrawn party's row is pre-printed `X X X`). Such a
    # box reads as no digit, never as a digit (`pipeline.marks`).
    no_digit_marks: list[Literal["X"]] = []
    sections: list[SectionSpec]
    rules: list[RuleSpec] = []
    variants: list[VariantSpec] = Field(min_length=1)
    directory: Path = Field(default=Path("."), exclude=True)  # where the file was; not part of the form

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        keys = set(self.field_keys)
        for rule in self.rules:
            missing = [r for r in rule.left + rule.right if r not in keys]
            if missing:
                raise ValueError(f"rule {rule.name!r} names unknown fields {missing}")
        for v in self.variants:
            if set(v.boxes) != keys:
                raise ValueError(f"variant {v.id}: boxes {sorted(set(v.boxes) ^ keys)} do not match the fields")
            if v.notes is not None:
                x, y, w, h = v.notes
                if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > v.size[0] or y + h > v.size[1]:
                    raise ValueError(
                        f"variant {v.id}: notes box {list(v.notes)} is not inside the frame {list(v.size)}"
                    )
        return self

    @property
    def field_keys(self) -> list[str]:
        return [f"{s.key}.{f.key}" for s in self.sections for f in s.fields]

    @cached_property
    def ruleset(self) -> RuleSet:
        """The one engine that evaluates this form's rules (reader, decoding, review, synth, service)."""
        return RuleSet(self.rules)

    @cached_property
    def fields(self) -> dict[str, tuple[SectionSpec, FieldSpec]]:
        return {f"{s.key}.{f.key}": (s, f) for s in self.sections for f in s.fields}

    def reference_image(self, variant: VariantSpec) -> npt.NDArray[np.uint8]:
        path = self.directory / variant.reference
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise FileNotFoundError(f"{path}: template reference image missing or unreadable")
        return np.asarray(img, np.uint8)


class TemplateError(ValueError):
    """A template file that is not valid: the message names the file and each bad key's JSON path."""


def _json_path(loc: tuple[int | str, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def load_template(path: Path) -> Template:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: a template is a JSON object")
    if "directory" in data:
        raise TemplateError(f"{path}: $.directory: Extra inputs are not permitted")
    try:
        return Template.model_validate({**data, "directory": path.parent})
    except ValidationError as exc:
        problems = "; ".join(f"{_json_path(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"{path}: {problems}") from exc


def load_templates(*directories: Path, builtins: bool = True) -> dict[str, Template]:
    """The built-in forms (unless `builtins=False`), then every `*.json` in each directory in turn, by
    id; a later file with a known id replaces that template (logged). Ids are kept in sorted order, so
    which forms are loaded, not the order they were found in, decides what the reader holds."""
    dirs = ([BUILTIN_TEMPLATES_DIR] if builtins else []) + [d for d in directories if d != BUILTIN_TEMPLATES_DIR]
    found: dict[str, Template] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise TemplateError(f"{directory}: templates directory not found")
        here: set[str] = set()
        for path in sorted(directory.glob("*.json")):
            t = load_template(path)
            if t.id in here:
                raise TemplateError(f"{path}: template id {t.id!r} defined twice in {directory}")
            if t.id in found:
                log.info("template %s from %s replaces the one from %s", t.id, path, found[t.id].directory)
            here.add(t.id)
            found[t.id] = t
    if not found:
        raise TemplateError(f"{', '.join(map(str, dirs))}: no form templates (*.json)")
    return dict(sorted(found.items()))


def template_json_schema() -> dict[str, object]:
    """The JSON Schema of a template file, for form authors."""
    schema = Template.model_json_schema()
    schema["properties"].pop("directory", None)
    schema["$id"] = "https://github.com/actas-ocr/actas-ocr/docs/template.schema.json"
    schema["title"] = "actas-ocr form template"
    return schema
