"""Form templates: one JSON file per form, loaded from a directory, no Python per form.

A template names the form's sections and fields (with the number of digit boxes of each), its
arithmetic rules, and one or more print variants (the runoff was printed as tipo A1 in Bolivia and A3
abroad, with boxes in slightly different places). Each variant has a reference image of the printed
form, handwriting and personal data masked out, and each field's box group in that image's frame.
To add a new election's form, drop `<id>.json` and its reference image(s) into the templates
directory (`ACTAS_TEMPLATES_DIR`), then check it with `actas templates`.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TEMPLATES_DIR = Path(__file__).with_name("forms")

Box = tuple[float, float, float, float]


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    label: str
    digits: int = Field(ge=1, le=6)


class SectionSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    title: str
    fields: list[FieldSpec]


class RuleSpec(BaseModel):
    """`sum(left) == sum(right)`, over `section.KEY` references; a blank field counts as 0."""

    model_config = ConfigDict(frozen=True)
    name: str
    left: list[str]
    right: list[str]


class MesaCodeSpec(BaseModel):
    """Where the mesa code's barcode is, and how its text becomes the printed code."""

    model_config = ConfigDict(frozen=True)
    region: Box
    pattern: str = r"^(\d+)(\d)$"  # regular expression the barcode text must match
    format: str = r"\1-\2"  # replacement giving the printed form, e.g. 8004121 -> 800412-1


class VariantSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    reference: str  # image file beside the template, printed form only
    size: tuple[int, int]  # the reference frame (width, height) in which boxes are given
    masked: list[Box] = []  # regions blanked in the reference (handwriting, personal data, per-acta codes)
    boxes: dict[str, Box]  # "section.KEY" -> the group of digit boxes, outer border
    mesa_code: MesaCodeSpec | None = None


class Template(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    title: str
    sections: list[SectionSpec]
    rules: list[RuleSpec] = []
    variants: list[VariantSpec]
    directory: Path = Path(".")

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
        return self

    @property
    def field_keys(self) -> list[str]:
        return [f"{s.key}.{f.key}" for s in self.sections for f in s.fields]

    @cached_property
    def fields(self) -> dict[str, tuple[SectionSpec, FieldSpec]]:
        return {f"{s.key}.{f.key}": (s, f) for s in self.sections for f in s.fields}

    def reference_image(self, variant: VariantSpec) -> npt.NDArray[np.uint8]:
        path = self.directory / variant.reference
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise FileNotFoundError(f"{path}: template reference image missing or unreadable")
        return np.asarray(img, np.uint8)


def load_template(path: Path) -> Template:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    return Template.model_validate({**data, "directory": path.parent})


def templates_dir() -> Path:
    return Path(os.environ.get("ACTAS_TEMPLATES_DIR", DEFAULT_TEMPLATES_DIR))


def load_templates(directory: Path | None = None) -> dict[str, Template]:
    """Every `*.json` template in `directory`, by id."""
    directory = directory or templates_dir()
    found = {}
    for path in sorted(directory.glob("*.json")):
        t = load_template(path)
        if t.id in found:
            raise ValueError(f"{path}: template id {t.id!r} defined twice")
        found[t.id] = t
    if not found:
        raise FileNotFoundError(f"{directory}: no form templates (*.json)")
    return found
