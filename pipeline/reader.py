"""The acta reader: image -> registered form -> boxes -> digits -> counts -> checks -> reading.

Each stage is a plain function in its own module; this class only holds what is costly to build
(the classifier session, the templates' reference features) and runs the stages in order.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.cells import GroupPatch, extract_group
from pipeline.classifier import DigitClassifier
from pipeline.constraints import constrained_reading, fields_of_broken_rules, top_values
from pipeline.decoding import BoxEvidence, apply_correction, flag_broken_rules, flag_low_confidence, read_field
from pipeline.image_io import DEFAULT_MAX_PIXELS, decode_image
from pipeline.mesa_code import read_mesa_code
from pipeline.registration import FormRegistrar, NotAForm, Registration
from pipeline.rules import check_rules
from pipeline.schema import ActaReading, PixelBox
from pipeline.segmentation import Cell, segment_cell
from pipeline.templates import Template, load_templates
from pipeline.views import check_views, default_views, second_look

# Registration is verified by the boxes themselves: at least this share of a form's box groups must
# show their printed border where the template puts them (a wrong form or warp finds almost none).
MIN_BOXES_FOUND = 0.5
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "convnext_tiny.onnx"


def default_model() -> Path:
    return Path(os.environ.get("ACTAS_MODEL_PATH", DEFAULT_MODEL))


class ActaReader:
    def __init__(
        self,
        classifier: DigitClassifier,
        templates: dict[str, Template],
        max_pixels: int = DEFAULT_MAX_PIXELS,
        views: tuple[str, ...] | None = None,
    ) -> None:
        self.classifier = classifier
        self.templates = templates
        self.registrar = FormRegistrar(templates)
        self.max_pixels = max_pixels
        self.views = check_views(views) if views is not None else default_views()  # thresholds: DEFAULT_VIEWS

    @classmethod
    def from_paths(
        cls,
        model: Path | None = None,
        templates_dir: Path | None = None,
        prefer_gpu: bool = True,
        threads: int = 0,
        views: tuple[str, ...] | None = None,
    ) -> ActaReader:
        return cls(
            DigitClassifier(model or default_model(), prefer_gpu=prefer_gpu, threads=threads),
            load_templates(templates_dir),
            views=views,
        )

    def read(self, data: bytes, template: str | None = None) -> ActaReading:
        """Read one scan's bytes. Raises an `ImageError` or `NotAForm` for unusable input."""
        return self.read_with_scan(data, template)[0]

    def read_with_scan(self, data: bytes, template: str | None = None) -> tuple[ActaReading, np.ndarray]:
        """The reading and the decoded scan (for an overlay)."""
        t = {"start": time.perf_counter()}
        scan = decode_image(data, self.max_pixels)
        t["decode"] = time.perf_counter()
        reg, groups = self.locate(scan, template)
        t["register"] = time.perf_counter()
        return self._read_registered(scan, reg, groups, hashlib.sha256(data).hexdigest(), t), scan

    def locate(self, scan: np.ndarray, template: str | None = None) -> tuple[Registration, dict[str, GroupPatch]]:
        """The form's registration and its located box groups. Raises `NotAForm`."""
        gray = np.asarray(cv2.cvtColor(scan, cv2.COLOR_BGR2GRAY), np.uint8)
        # The first registration whose boxes are where the template puts them; the next candidate
        # (another print variant, or SIFT's warp) when they are not.
        found: list[str] = []
        for reg in self.registrar.register_ranked(gray, only=template):
            groups = locate_groups(scan, reg)
            share = sum(g.snapped for g in groups.values()) / len(groups)
            if share >= MIN_BOXES_FOUND:
                return reg, groups
            found.append(f"{reg.template.id}/{reg.variant.id} {share:.0%}")
        raise NotAForm(
            f"the form's boxes are not where its template puts them (groups found: {', '.join(found)}): "
            "not a known form, or too distorted to read"
        )

    def _classify(self, tpl: Template, cells: list[LocatedCell]) -> np.ndarray:
        """Calibrated probabilities per cell: one look, and a second in every view at the fields of a
        rule the first breaks (`pipeline.views.second_look`)."""
        names = [c.field for c in cells]

        def suspects(probs: np.ndarray) -> set[str]:
            return fields_of_broken_rules(tpl, top_values(_by_field(names, probs)))

        canvases = np.stack([c.cell.canvas for c in cells])
        return second_look(lambda x: self.classifier.predict(x).probs, canvases, names, suspects, self.views)

    def _read_registered(
        self, scan: np.ndarray, reg: Registration, groups: dict[str, GroupPatch], acta_id: str, t: dict[str, float]
    ) -> ActaReading:
        tpl, variant = reg.template, reg.variant
        cells = segment_groups(groups)
        t["cells"] = time.perf_counter()
        probs = self._classify(tpl, cells)
        t["classify"] = time.perf_counter()

        by_field: dict[str, list[BoxEvidence]] = {name: [] for name in variant.boxes}
        for c, p in zip(cells, probs, strict=True):
            by_field[c.field].append(BoxEvidence(p, c.cell.ink, c.box))
        fields = []
        for name, boxes in by_field.items():
            section, spec = tpl.fields[name]
            fields.append(read_field(section.key, spec.key, spec.label, boxes, located=groups[name].snapped))
        for fix in constrained_reading(tpl, {n: np.stack([b.probs for b in bs]) for n, bs in by_field.items()}):
            fields = [
                apply_correction(f, by_field[name], fix.labels[name], fix.confidence, fix.trusted)
                if (name := f"{f.section}.{f.key}") in fix.labels
                else f
                for f in fields
            ]
        values = {f"{f.section}.{f.key}": f.value for f in fields}
        checks = check_rules(tpl, values)
        fields = flag_low_confidence(flag_broken_rules(fields, checks), checks)
        counts: dict[str, dict[str, int | None]] = {s.key: {} for s in tpl.sections}
        for f in fields:
            counts[f.section][f.key] = f.value
        mesa = read_mesa_code(scan, reg.scan_to_ref, variant.mesa_code) if variant.mesa_code else None
        t["end"] = time.perf_counter()
        timings = {
            "decode": t["decode"] - t["start"],
            "register": t["register"] - t["decode"],
            "cells": t["cells"] - t["register"],
            "classify": t["classify"] - t["cells"],
            "checks": t["end"] - t["classify"],
            "total": t["end"] - t["start"],
        }
        return ActaReading(
            acta_id=acta_id,
            template=tpl.id,
            variant=variant.id,
            template_score=reg.score,
            mesa_code=mesa,
            counts=counts,
            fields=fields,
            checks=checks,
            needs_review=any(f.needs_review for f in fields) or not all(c.ok for c in checks),
            timings_ms={k: round(v * 1000, 1) for k, v in timings.items()},
        )


def _by_field(names: list[str], probs: np.ndarray) -> dict[str, np.ndarray]:
    """Per-cell rows grouped by field, boxes in order."""
    return {n: probs[[i for i, m in enumerate(names) if m == n]] for n in dict.fromkeys(names)}


def locate_groups(scan: np.ndarray, reg: Registration) -> dict[str, GroupPatch]:
    """Every field's group of boxes under this registration."""
    tpl = reg.template
    return {
        name: extract_group(scan, reg.scan_to_ref, box, tpl.fields[name][1].digits)
        for name, box in reg.variant.boxes.items()
    }


@dataclass(frozen=True)
class LocatedCell:
    field: str  # section.KEY
    cell: Cell  # the segmented digit, model-ready
    box: PixelBox  # where the box is in the scan


def segment_groups(groups: dict[str, GroupPatch]) -> list[LocatedCell]:
    """Every box of every field, in template order, segmented for the classifier."""
    return [
        LocatedCell(name, segment_cell(g.image, rect), _to_scan_box(g, rect))
        for name, g in groups.items()
        for rect in g.cells
    ]


def _to_scan_box(g: GroupPatch, rect: tuple[int, int, int, int]) -> PixelBox:
    x, y, w, h = rect
    corners = np.array([[[x, y]], [[x + w, y]], [[x + w, y + h]], [[x, y + h]]], np.float64)
    pts = cv2.perspectiveTransform(corners, g.to_scan).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
