"""What the review pages show, read from the service's tables (writes go through `service.crud`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, distinct, func, or_, select
from sqlalchemy.orm import Session, selectinload

from pipeline.image_io import decode_image
from pipeline.reasons import ReasonCode
from pipeline.schema import ActaReading, FieldReading, PixelBox, RuleCheck
from pipeline.templates import Template
from service import crud
from service.models import Acta, ActaStatus, Blob, Review, utcnow
from service.schemas import ActaDocument

QUEUE_LIMIT = 200  # rows shown; the count above the table is over all of them
CROP_MARGIN = 8  # pixels around a field's boxes, so the reviewer sees strokes that leave them
ALTERNATIVES = 3  # next most likely readings shown per field


@dataclass(frozen=True)
class QueueItem:
    acta_id: str
    template: str
    mesa_code: str | None
    status: ActaStatus
    created_at: datetime
    waiting: int  # fields waiting
    broken: int  # rules broken on the current values
    confidence: float  # lowest confidence among the waiting fields (1.0 when none)

    @property
    def urgency(self) -> tuple[int, int, float, datetime]:
        """Conflicts first, then more broken rules, then lower confidence, then older."""
        return (0 if self.status == ActaStatus.conflict else 1, -self.broken, self.confidence, self.created_at)


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    waiting_actas: int
    waiting_fields: int
    conflicts: int
    reviewed_today_actas: int
    reviewed_today_fields: int


def rule_checks(template: Template, values: dict[str, int | None]) -> list[RuleCheck]:
    """The form's rules (sums and bounds) on these values, by the template's one rule engine."""
    return template.ruleset.check(values)


def _waiting() -> list[ColumnElement[bool]]:
    """An acta waits for a person while a field waits or its mesa is in conflict (not once superseded)."""
    return [or_(Acta.needs_review.is_(True), Acta.status == ActaStatus.conflict), Acta.status != ActaStatus.superseded]


def waiting_per_form(session: Session) -> dict[str, int]:
    rows = session.execute(select(Acta.template, func.count()).where(*_waiting()).group_by(Acta.template))
    return {t: int(n) for t, n in rows}


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def queue(session: Session, templates: dict[str, Template], form: str | None = None, mesa: str | None = None) -> Queue:
    """Actas waiting for a person (a field waiting, or a mesa conflict), most urgent first."""
    where = _waiting()
    if form:
        where.append(Acta.template == form)
    if mesa:
        where.append(Acta.mesa_code.like(_like_prefix(mesa), escape="\\"))
    actas = session.scalars(select(Acta).where(*where).options(selectinload(Acta.fields))).all()
    items = []
    for acta in actas:
        template = templates.get(acta.template)
        values = {f.name: f.value for f in acta.fields}
        broken = sum(not c.ok for c in rule_checks(template, values)) if template else 0
        waiting = {f.name for f in acta.fields if f.waiting}
        confidence = min(
            (f["confidence"] for f in acta.reading.get("fields", []) if f"{f['section']}.{f['key']}" in waiting),
            default=1.0,
        )
        items.append(
            QueueItem(
                acta.id, acta.template, acta.mesa_code, acta.status, acta.created_at, len(waiting), broken, confidence
            )
        )
    items.sort(key=lambda i: i.urgency)
    midnight = datetime.combine(utcnow().date(), time.min, tzinfo=utcnow().tzinfo)
    today_actas, today_fields = session.execute(
        select(func.count(distinct(Review.acta_id)), func.count(Review.id)).where(
            Review.at >= midnight, Review.field.is_not(None)
        )
    ).one()
    return Queue(
        items=items[:QUEUE_LIMIT],
        waiting_actas=len(items),
        waiting_fields=sum(i.waiting for i in items),
        conflicts=sum(i.status == ActaStatus.conflict for i in items),
        reviewed_today_actas=int(today_actas or 0),
        reviewed_today_fields=int(today_fields or 0),
    )


def next_acta(session: Session, templates: dict[str, Template], after: str | None) -> str | None:
    """The most urgent acta with a field waiting, other than `after` (the one just finished or skipped)."""
    for item in queue(session, templates).items:
        if item.acta_id != after and item.waiting:
            return item.acta_id
    return None


def field_value(text: str) -> int | None:
    """The count a text of boxes reads ('_' is a blank box): '_41' -> 41, '___' -> None."""
    digits = text.replace("_", "")
    return int(digits) if digits else None


def alternatives(f: FieldReading, k: int = ALTERNATIVES) -> list[tuple[int | None, float]]:
    """The next most likely values: one box read as its runner-up, the others as read (the digit
    probabilities are calibrated and independent per box, so the field's probability is their product)."""
    base = [d.char or "_" for d in f.digits]
    found: dict[int | None, float] = {}
    for i, d in enumerate(f.digits):
        if d.confidence <= 0:
            continue
        for char, p in d.alternatives:
            text = base.copy()
            text[i] = char
            value = field_value("".join(text))
            if value == f.value:
                continue
            found[value] = max(found.get(value, 0.0), f.confidence * p / d.confidence)
    return sorted(found.items(), key=lambda kv: -kv[1])[:k]


@dataclass
class FieldView:
    name: str
    label: str
    digits: int
    machine_value: int | None
    value: int | None
    reviewed: bool
    waiting: bool
    confidence: float
    text: str
    reasons: list[str]
    alternatives: list[tuple[int | None, float]]
    note_only: bool = False  # flagged for the written note alone: the note's reader may confirm it at once

    def js(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "digits": self.digits,
            "machine": self.machine_value,
            "value": self.value,
            "reviewed": self.reviewed,
            "waiting": self.waiting,
            "noteOnly": self.note_only,
        }


@dataclass
class ActaView:
    doc: ActaDocument
    fields: list[FieldView]
    rules: list[dict[str, Any]] = field(default_factory=list)
    note_written: bool = False  # the jurors wrote under OBSERVACIONES: the page shows the note first

    @property
    def flagged(self) -> list[FieldView]:
        return [f for f in self.fields if f.waiting]

    @property
    def note_only(self) -> list[FieldView]:
        """The waiting fields flagged for the written note alone."""
        return [f for f in self.flagged if f.note_only]


def acta_view(session: Session, acta: Acta, templates: dict[str, Template]) -> ActaView:
    doc = crud.to_document(session, acta, templates)
    template = templates.get(acta.template)
    state = {s.field: s for s in doc.record.fields}
    broken = {k for c in doc.record.checks if not c.ok for k in c.fields}  # as the values stand now
    views = []
    for f in doc.fields:
        name = f"{f.section}.{f.key}"
        s = state[name]
        digits = template.fields[name][1].digits if template and name in template.fields else len(f.digits)
        views.append(
            FieldView(
                name=name,
                label=f.label,
                digits=digits,
                machine_value=s.machine_value,
                value=s.value,
                reviewed=s.reviewed,
                waiting=s.waiting_review,
                confidence=f.confidence,
                text=f.text,
                reasons=f.reasons,
                alternatives=alternatives(f),
                note_only={c for c in f.reason_codes if c.flags} == {ReasonCode.NOTE_WRITTEN} and name not in broken,
            )
        )
    rules = [
        {"name": r.name, "left": list(r.left), "right": list(r.right), "op": r.op, "each": r.each}
        for r in (template.rules if template else [])
    ]
    return ActaView(doc, views, rules, note_written=doc.notes is not None and doc.notes.written)


def conflict_actas(session: Session, acta: Acta) -> list[Acta]:
    """This acta and the other scans claiming its mesa (same form, same code), superseded ones too."""
    if not acta.mesa_code:
        return [acta]
    return list(
        session.scalars(
            select(Acta)
            .where(Acta.template == acta.template, Acta.mesa_code == acta.mesa_code)
            .order_by(Acta.created_at, Acta.id)
        )
    )


# Decoding a 3-megapixel JPEG takes ~50 ms: keep the last few, since one acta screen asks for a crop
# per flagged field.
_decoded: OrderedDict[str, npt.NDArray[np.uint8]] = OrderedDict()
_decoded_lock = threading.Lock()
_DECODED_KEPT = 4


def scan_image(session: Session, acta: Acta, max_pixels: int) -> npt.NDArray[np.uint8]:
    with _decoded_lock:
        if acta.blob_sha256 in _decoded:
            _decoded.move_to_end(acta.blob_sha256)
            return _decoded[acta.blob_sha256]
    blob = session.get_one(Blob, acta.blob_sha256)
    image = decode_image(blob.data, max_pixels)
    with _decoded_lock:
        _decoded[acta.blob_sha256] = image
        while len(_decoded) > _DECODED_KEPT:
            _decoded.popitem(last=False)
    return image


def boxes_bounds(boxes: list[PixelBox], shape: tuple[int, ...], margin: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 around every box (x, y, w, h), in the scan's pixels, clipped to it."""
    x0 = min(b[0] for b in boxes) - margin
    y0 = min(b[1] for b in boxes) - margin
    x1 = max(b[0] + b[2] for b in boxes) + margin
    y1 = max(b[1] + b[3] for b in boxes) + margin
    height, width = shape[:2]
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _crop_png(session: Session, acta: Acta, boxes: list[PixelBox], max_pixels: int) -> bytes | None:
    """PNG of the boxes cut from the scan at its own resolution (no resampling), CROP_MARGIN around."""
    image = scan_image(session, acta, max_pixels)
    x0, y0, x1, y1 = boxes_bounds(boxes, image.shape, CROP_MARGIN)
    if x1 <= x0 or y1 <= y0:
        return None
    ok, buf = cv2.imencode(".png", image[y0:y1, x0:x1])
    return bytes(buf) if ok else None


def field_crop(session: Session, acta: Acta, name: str, max_pixels: int) -> bytes | None:
    """PNG of the field's boxes, or None."""
    reading = ActaReading.model_validate(acta.reading)
    f = next((f for f in reading.fields if f"{f.section}.{f.key}" == name), None)
    if f is None or not f.digits:
        return None
    return _crop_png(session, acta, [d.box for d in f.digits], max_pixels)


def notes_crop(session: Session, acta: Acta, max_pixels: int) -> bytes | None:
    """PNG of the notes box (OBSERVACIONES), or None where the reading has none."""
    notes = ActaReading.model_validate(acta.reading).notes
    return None if notes is None else _crop_png(session, acta, [notes.box], max_pixels)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    width: float


def chart(totals: dict[str, int], labels: dict[str, str], width: float = 560.0) -> list[Bar]:
    """Horizontal bars for an inline SVG, longest = `width`."""
    top = max(totals.values(), default=0) or 1
    return [Bar(labels.get(k, k), v, 0.0, width * v / top) for k, v in totals.items()]


def candidate_keys(template: Template | None, section: str, keys: list[str]) -> list[str]:
    """The keys of a section that are votes for someone: not the section's sums (a sum rule's left side),
    not the VOTOS_* tallies, and no section named `mesa` (ballots and electors)."""
    if section == "mesa":
        return []
    rules = template.rules if template else []
    sums = {ref for r in rules if r.op == "==" for ref in r.left}  # a bound's left: candidates
    return [k for k in keys if not k.startswith("VOTOS_") and f"{section}.{k}" not in sums]
