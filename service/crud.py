"""Storage logic: store a reading, list, review, resolve mesa conflicts, add up the results.

Each write is one transaction: the file, the acta, its fields and any status changes land together or
not at all. Writes that touch a mesa lock its `mesas` row first, so concurrent scans of one mesa see
each other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.image_io import FORMATS, sniff_format
from pipeline.schema import ActaReading
from pipeline.templates import Template
from service.errors import ApiError
from service.models import (
    Acta,
    ActaField,
    ActaStatus,
    Blob,
    Mesa,
    Review,
    ReviewAction,
    utcnow,
)
from service.schemas import (
    ActaDocument,
    ActaRecordInfo,
    FieldState,
    FieldTally,
    Results,
    ReviewEntry,
    ReviewRequest,
    TemplateResults,
)


def _lock_mesa(session: Session, code: str) -> None:
    """Upsert the mesa's row: PostgreSQL holds a row lock, SQLite the database write lock, to commit."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = pg_insert(Mesa).values(code=code)
        session.execute(pg.on_conflict_do_update(index_elements=[Mesa.code], set_={"code": pg.excluded.code}))
    elif dialect == "sqlite":
        lite = sqlite_insert(Mesa).values(code=code)
        session.execute(lite.on_conflict_do_update(index_elements=[Mesa.code], set_={"code": lite.excluded.code}))
    else:
        raise RuntimeError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def _recompute(acta: Acta, template: Template | None) -> None:
    """A field waits for review while it is unreviewed and either the machine flagged it or a rule on the
    current values breaks. A flag is only ever cleared by a person."""
    broken: set[str] = set()
    if template is not None:
        broken = template.ruleset.fields_of_broken({f.name: f.value for f in acta.fields})
    for f in acta.fields:
        f.waiting = not f.reviewed and (f.machine_needs_review or f.name in broken)
    acta.needs_review = any(f.waiting for f in acta.fields)


def get_acta(session: Session, acta_id: str) -> Acta | None:
    return session.get(Acta, acta_id)


def store_reading(
    session: Session, reading: ActaReading, data: bytes, uploaded_by: str, templates: dict[str, Template]
) -> tuple[Acta, bool]:
    """Store the scan and its reading; (acta, created). Same bytes again: the stored acta, not created."""
    try:
        acta, created = _store(session, reading, data, uploaded_by, templates)
        session.commit()
    except IntegrityError:
        # The same bytes stored by a concurrent request after our check: theirs is the record.
        session.rollback()
        existing = session.get(Acta, reading.acta_id)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        session.rollback()
        raise
    return acta, created


def _store(
    session: Session, reading: ActaReading, data: bytes, uploaded_by: str, templates: dict[str, Template]
) -> tuple[Acta, bool]:
    if reading.mesa_code:
        _lock_mesa(session, reading.mesa_code)
    existing = session.get(Acta, reading.acta_id)
    if existing is not None:
        return existing, False
    blob = session.get(Blob, reading.acta_id)
    if blob is None:
        fmt = sniff_format(data)
        blob = Blob(
            sha256=reading.acta_id,
            media_type=FORMATS.get(fmt or "", "application/octet-stream"),
            size=len(data),
            data=data,
        )
    status = ActaStatus.counted
    if reading.mesa_code:
        others = session.scalars(
            select(Acta).where(Acta.mesa_code == reading.mesa_code, Acta.status != ActaStatus.superseded)
        ).all()
        if others:  # two scans claim this mesa: neither counts until a reviewer keeps one
            status = ActaStatus.conflict
            for other in others:
                other.status = ActaStatus.conflict
    acta = Acta(
        id=reading.acta_id,
        mesa_code=reading.mesa_code,
        template=reading.template,
        variant=reading.variant,
        status=status,
        machine_needs_review=reading.needs_review,
        needs_review=reading.needs_review,
        reading=reading.model_dump(mode="json"),
        blob=blob,
        uploaded_by=uploaded_by,
    )
    acta.fields = [
        ActaField(
            name=f"{f.section}.{f.key}",
            position=i,
            section=f.section,
            key=f.key,
            machine_value=f.value,
            machine_needs_review=f.needs_review,
            reviewed=False,
            reviewed_value=None,
            waiting=f.needs_review,
        )
        for i, f in enumerate(reading.fields)
    ]
    _recompute(acta, templates.get(reading.template))
    session.add(acta)
    session.flush()
    return acta, True


def conflicts_with(session: Session, acta: Acta) -> list[str]:
    if not acta.mesa_code:
        return []
    return list(
        session.scalars(
            select(Acta.id)
            .where(
                Acta.mesa_code == acta.mesa_code,
                Acta.id != acta.id,
                Acta.status != ActaStatus.superseded,
            )
            .order_by(Acta.created_at, Acta.id)
        )
    )


def to_document(session: Session, acta: Acta, templates: dict[str, Template]) -> ActaDocument:
    template = templates.get(acta.template)
    values = {f.name: f.value for f in acta.fields}
    counts: dict[str, dict[str, int | None]] = defaultdict(dict)
    for f in acta.fields:
        counts[f.section][f.key] = f.value
    checks = template.ruleset.check(values) if template else ActaReading.model_validate(acta.reading).checks
    record = ActaRecordInfo(
        status=acta.status,
        counted=acta.status == ActaStatus.counted,
        needs_review=acta.needs_review,
        uploaded_by=acta.uploaded_by,
        created_at=acta.created_at,
        conflicts_with=conflicts_with(session, acta),
        counts=dict(counts),
        checks=checks,
        fields=[
            FieldState(
                field=f.name,
                machine_value=f.machine_value,
                reviewed=f.reviewed,
                reviewed_value=f.reviewed_value,
                value=f.value,
                waiting_review=f.waiting,
            )
            for f in acta.fields
        ],
        reviews=[
            ReviewEntry(
                reviewer=r.reviewer,
                at=r.at,
                action=r.action,
                field=r.field,
                old_value=r.old_value,
                new_value=r.new_value,
                old_status=ActaStatus(r.old_status) if r.old_status else None,
                new_status=ActaStatus(r.new_status) if r.new_status else None,
                note=r.note,
            )
            for r in acta.reviews
        ],
    )
    return ActaDocument.model_validate({**acta.reading, "record": record})


@dataclass(frozen=True)
class ActaFilters:
    mesa_code: str | None = None
    needs_review: bool | None = None
    template: str | None = None
    status: ActaStatus | None = None


def list_actas(session: Session, filters: ActaFilters, limit: int, offset: int) -> tuple[int, list[Acta]]:
    where = []
    if filters.mesa_code is not None:
        where.append(Acta.mesa_code == filters.mesa_code)
    if filters.needs_review is not None:
        where.append(Acta.needs_review == filters.needs_review)
    if filters.template is not None:
        where.append(Acta.template == filters.template)
    if filters.status is not None:
        where.append(Acta.status == filters.status)
    total = session.scalar(select(func.count()).select_from(Acta).where(*where)) or 0
    rows = session.scalars(
        select(Acta).where(*where).order_by(Acta.created_at.desc(), Acta.id).limit(limit).offset(offset)
    ).all()
    return int(total), list(rows)


def review(
    session: Session, acta_id: str, request: ReviewRequest, reviewer: str, templates: dict[str, Template]
) -> Acta:
    """Apply one review in one transaction; raises ApiError (404, 409, 422) with nothing changed."""
    try:
        acta = _review(session, acta_id, request, reviewer, templates)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return acta


def _review(
    session: Session, acta_id: str, request: ReviewRequest, reviewer: str, templates: dict[str, Template]
) -> Acta:
    acta = session.get(Acta, acta_id)
    if acta is None:
        raise ApiError(404, "not_found", f"no acta {acta_id}")
    now = utcnow()

    def audit(target: str, action: ReviewAction, **kw: object) -> None:
        session.add(Review(acta_id=target, reviewer=reviewer, at=now, action=action, note=request.note, **kw))

    if request.keep_for_mesa:
        if not acta.mesa_code:
            raise ApiError(409, "no_mesa_code", "this acta has no mesa code read, so it has no mesa to resolve")
        _lock_mesa(session, acta.mesa_code)
        session.refresh(acta)  # another reviewer may have resolved this mesa while we waited for the lock
        if acta.status == ActaStatus.counted:
            raise ApiError(409, "not_in_conflict", "this acta is already the counted scan of its mesa")
        others = session.scalars(
            select(Acta).where(
                Acta.mesa_code == acta.mesa_code, Acta.id != acta.id, Acta.status != ActaStatus.superseded
            )
        ).all()
        audit(acta.id, ReviewAction.keep, old_status=acta.status.value, new_status=ActaStatus.counted.value)
        acta.status = ActaStatus.counted
        for other in others:
            audit(
                other.id, ReviewAction.supersede, old_status=other.status.value, new_status=ActaStatus.superseded.value
            )
            other.status = ActaStatus.superseded

    if request.fields:
        if acta.status == ActaStatus.superseded:
            raise ApiError(409, "superseded", "this scan was superseded by another of its mesa; review that one")
        template = templates.get(acta.template)
        by_name = {f.name: f for f in acta.fields}
        for item in request.fields:
            field = by_name.get(item.field)
            if field is None:
                raise ApiError(422, "unknown_field", f"{item.field} is not a field of {acta.template}")
            if template is not None and item.value is not None:
                digits = template.fields[item.field][1].digits
                if item.value >= 10**digits:
                    raise ApiError(
                        422, "value_out_of_range", f"{item.field} has {digits} boxes: at most {10**digits - 1}"
                    )
            action = ReviewAction.confirm if item.value == field.machine_value else ReviewAction.correct
            audit(acta.id, action, field=item.field, old_value=field.value, new_value=item.value)
            field.reviewed, field.reviewed_value = True, item.value
        _recompute(acta, template)
    acta.updated_at = now
    session.flush()
    session.expire(acta, ["reviews"])  # reload the audit trail with the new records
    return acta


def results(session: Session, templates: dict[str, Template], template: str | None = None) -> Results:
    """Totals over counted actas, reviewed values where present; counts of actas and fields by state."""
    acta_where = [Acta.template == template] if template else []
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tpl, status, needs_review, n in session.execute(
        select(Acta.template, Acta.status, Acta.needs_review, func.count())
        .where(*acta_where)
        .group_by(Acta.template, Acta.status, Acta.needs_review)
    ):
        c = per[tpl]
        c["actas"] += n
        c[ActaStatus(status).value] += n
        if status == ActaStatus.counted and needs_review:
            c["flagged"] += n

    value = case((ActaField.reviewed, ActaField.reviewed_value), else_=ActaField.machine_value)
    rows = session.execute(
        select(
            Acta.template,
            ActaField.section,
            ActaField.key,
            func.min(ActaField.position),
            func.sum(func.coalesce(value, 0)),
            func.sum(case((ActaField.reviewed, 1), else_=0)),
            func.sum(case((ActaField.waiting, 1), else_=0)),
            func.count(),
        )
        .join(Acta, Acta.id == ActaField.acta_id)
        .where(Acta.status == ActaStatus.counted, *acta_where)
        .group_by(Acta.template, ActaField.section, ActaField.key)
    ).all()
    totals: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tpl, section, key, _pos, total, reviewed, waiting, n in sorted(rows, key=lambda r: (r[0], r[3])):
        totals[tpl].setdefault(section, {})[key] = int(total or 0)
        tallies[tpl]["reviewed"] += int(reviewed or 0)
        tallies[tpl]["waiting"] += int(waiting or 0)
        tallies[tpl]["all"] += int(n)

    def tally(t: dict[str, int]) -> FieldTally:
        return FieldTally(
            machine_read=t["all"] - t["reviewed"] - t["waiting"], reviewed=t["reviewed"], waiting_review=t["waiting"]
        )

    out = []
    for tpl in sorted(per):
        c = per[tpl]
        out.append(
            TemplateResults(
                template=tpl,
                title=templates[tpl].title if tpl in templates else tpl,
                actas=c["actas"],
                counted=c["counted"],
                flagged=c["flagged"],
                excluded=c["conflict"] + c["superseded"],
                fields=tally(tallies[tpl]),
                totals=totals.get(tpl, {}),
            )
        )
    every: dict[str, int] = defaultdict(int)
    for t in tallies.values():
        for k, v in t.items():
            every[k] += v
    return Results(
        actas=sum(c["actas"] for c in per.values()),
        counted=sum(c["counted"] for c in per.values()),
        flagged=sum(c["flagged"] for c in per.values()),
        excluded=sum(c["conflict"] + c["superseded"] for c in per.values()),
        in_conflict=sum(c["conflict"] for c in per.values()),
        superseded=sum(c["superseded"] for c in per.values()),
        fields=tally(every),
        templates=out,
    )
