"""The acta reader: image -> registered form -> box groups -> cells -> digits -> fields -> checks ->
review flags -> reading.

Each stage is a plain function in its own module (the file list reads in this order); this class only
holds what is costly to build (the classifier session, the templates' reference features) and runs the
stages in order. `trace()` returns every intermediate; `read()` is its last element.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.box_groups import GroupPatch, locate_groups, share_located
from pipeline.cells import LocatedCell, segment_groups
from pipeline.classifier import DigitClassifier
from pipeline.config import ReaderConfig, cpu_count
from pipeline.constraints import constrained_reading, top_values
from pipeline.digit_input import BLANK
from pipeline.errors import NotAForm, UnprocessableImage
from pipeline.fields import BoxEvidence, apply_correction, read_field
from pipeline.image_io import decode_image
from pipeline.mesa_code import read_mesa_code
from pipeline.notes import notes_ink
from pipeline.registration import FormRegistrar, Registration
from pipeline.review import review
from pipeline.schema import ActaReading, NotesReading
from pipeline.templates import Template, load_templates
from pipeline.thresholds import MIN_BOXES_FOUND
from pipeline.views import second_look

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ReadTrace:
    """Every intermediate of one reading, in data-flow order (for overlays, benchmarks, harvesting)."""

    scan: U8  # the decoded upload, BGR
    registration: Registration
    groups: dict[str, GroupPatch]  # section.KEY -> its located box group
    cells: list[LocatedCell]  # every box, template order
    probs: F32  # (cells, classes) calibrated, after the second look
    reading: ActaReading


class _Clock:
    """Milliseconds per stage, in the order the stages end."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = round((now - self.last) * 1000, 1)
        self.last = now

    def total(self) -> dict[str, float]:
        return {**self.ms, "total": round((self.last - self.start) * 1000, 1)}


class ActaReader:
    def __init__(self, classifier: DigitClassifier, templates: dict[str, Template], config: ReaderConfig) -> None:
        self.classifier = classifier
        self.templates = templates
        self.config = config
        self.registrar = FormRegistrar(templates, threads=config.threads or cpu_count())

    @classmethod
    def from_config(cls, config: ReaderConfig | None = None) -> ActaReader:
        config = config or ReaderConfig()
        classifier = DigitClassifier(config.model, prefer_gpu=config.prefer_gpu, threads=config.threads)
        templates = load_templates(*config.templates_dirs, builtins=config.builtin_templates)
        return cls(classifier, templates, config)

    def read(self, data: bytes, template: str | None = None) -> ActaReading:
        """Read one scan's bytes. Raises a `pipeline.errors.ReadError` for unusable input."""
        return self.trace(data, template).reading

    def trace(self, data: bytes, template: str | None = None) -> ReadTrace:
        """The reading with every intermediate. OpenCV failures on a strange image become
        `UnprocessableImage`, so callers handle the reader's errors only."""
        clock = _Clock()
        scan = decode_image(data, self.config.max_pixels)
        clock.lap("decode")
        try:
            reg, groups = self.locate(scan, template)
            clock.lap("register")
            cells = segment_groups(groups, score_marks=crosses_boxes(reg.template))
            clock.lap("cells")
            probs = no_digit_marks(reg.template, cells, self.classify(reg.template, cells))
            clock.lap("classify")
            reading = self.decide(scan, reg, groups, cells, probs, hashlib.sha256(data).hexdigest())
            clock.lap("checks")
        except cv2.error as exc:
            where = (exc.err or str(exc)).strip().splitlines()[-1][:200]
            raise UnprocessableImage(f"the image could not be processed ({where})") from exc
        reading = reading.model_copy(update={"timings_ms": clock.total()})
        return ReadTrace(scan, reg, groups, cells, probs, reading)

    def locate(self, scan: U8, template: str | None = None) -> tuple[Registration, dict[str, GroupPatch]]:
        """The form's registration and its located box groups. Raises `NotAForm`."""
        gray = np.asarray(cv2.cvtColor(scan, cv2.COLOR_BGR2GRAY), np.uint8)
        # The first registration whose boxes are where the template puts them; the next candidate
        # (another print variant, or SIFT's warp) when they are not.
        found: list[str] = []
        for reg in self.registrar.register_ranked(gray, only=template):
            groups = locate_groups(scan, reg)
            share = share_located(groups)
            if share >= MIN_BOXES_FOUND:
                return reg, groups
            found.append(f"{reg.template.id}/{reg.variant.id} {share:.0%}")
        raise NotAForm(
            f"the form's boxes are not where its template puts them (groups found: {', '.join(found)}): "
            "not a known form, or too distorted to read"
        )

    def classify(self, tpl: Template, cells: list[LocatedCell]) -> F32:
        """Calibrated probabilities per cell: one look, and a second in every view at the fields of a
        rule the first breaks (`pipeline.views.second_look`)."""
        names = [c.field for c in cells]

        def suspects(probs: F32) -> set[str]:
            return tpl.ruleset.fields_of_broken(top_values(by_field(names, probs)))

        canvases = np.stack([c.cell.canvas for c in cells])
        marks = tuple(tpl.no_digit_marks)
        look = lambda x: self.classifier.predict(x, no_digit_marks=marks).probs  # noqa: E731
        return second_look(look, canvases, names, suspects, self.config.views)

    def decide(
        self,
        scan: U8,
        reg: Registration,
        groups: dict[str, GroupPatch],
        cells: list[LocatedCell],
        probs: F32,
        acta_id: str,
    ) -> ActaReading:
        """Digits -> fields (corrected by the rules where they clearly win) -> checks and the notes box ->
        review flags."""
        tpl, variant = reg.template, reg.variant
        evidence: dict[str, list[BoxEvidence]] = {name: [] for name in variant.boxes}
        for c, p in zip(cells, probs, strict=True):  # marks are only scored on forms that declare them
            mark = c.cell.mark
            evidence[c.field].append(BoxEvidence(p, c.cell.ink, c.box, mark=mark.is_x, maybe_mark=mark.maybe_x))
        fields = []
        for name, boxes in evidence.items():
            section, spec = tpl.fields[name]
            fields.append(read_field(section.key, spec.key, spec.label, boxes, located=groups[name].snapped))
        for fix in constrained_reading(tpl.ruleset, by_field([c.field for c in cells], probs)):
            fields = [
                apply_correction(f, evidence[name], fix.labels[name], fix.confidence, fix.trusted)
                if (name := f"{f.section}.{f.key}") in fix.labels
                else f
                for f in fields
            ]
        checks = tpl.ruleset.check({f"{f.section}.{f.key}": f.value for f in fields})
        notes = self.notes(scan, reg)
        fields, needs_review = review(fields, checks, note_written=notes is not None and notes.written)
        counts: dict[str, dict[str, int | None]] = {s.key: {} for s in tpl.sections}
        for f in fields:
            counts[f.section][f.key] = f.value
        mesa = read_mesa_code(scan, reg.scan_to_ref, variant.mesa_code) if variant.mesa_code else None
        return ActaReading(
            acta_id=acta_id,
            template=tpl.id,
            variant=variant.id,
            template_score=reg.score,
            mesa_code=mesa,
            counts=counts,
            fields=fields,
            checks=checks,
            needs_review=needs_review,
            notes=notes,
            timings_ms={},
        )

    def notes(self, scan: U8, reg: Registration) -> NotesReading | None:
        """The notes box's writing, where the form has one and the reader is asked to check it."""
        region = reg.variant.notes
        if region is None or not self.config.flag_notes:
            return None
        ink = notes_ink(scan, reg.scan_to_ref, region)
        return NotesReading(written=ink.written, ink_share=ink.share, box=ink.box)


def crosses_boxes(tpl: Template) -> bool:
    """Whether the form's jurors cross unused boxes with an `X` (its `no_digit_marks`)."""
    return "X" in tpl.no_digit_marks


def no_digit_marks(tpl: Template, cells: list[LocatedCell], probs: F32) -> F32:
    """A box holding the form's no-digit mark (an `X` on the 2020 form) reads as blank, surely: the model
    would read a cross as a digit (mostly `4`)."""
    if not crosses_boxes(tpl):
        return probs
    out = probs.copy()
    for i, c in enumerate(cells):
        if c.cell.mark.is_x:
            out[i] = 0.0
            out[i, BLANK] = 1.0
    return out


def by_field(names: list[str], probs: F32) -> dict[str, F32]:
    """Per-cell rows grouped by field, boxes in order."""
    return {n: probs[[i for i, m in enumerate(names) if m == n]] for n in dict.fromkeys(names)}
