"""Storage logic: store a reading, list, review, resolve mesa conflicts, add up the results.

Each write is one transaction: the file, the acta, its fields and any status changes land together or
not at all. Writes that touch a mesa lock its `mesas` row (election = template, mesa code) first, so
concurrent scans of one mesa see each other; every write to an acta moves its `version` on, and reviews
write only where the version is the one they read. Failures are `service.domain_errors`, never HTTP.
"""

from __future__ import annotations

import enum
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.image_io import FORMATS, sniff_format
from pipeline.schema import ActaReading
from pipeline.templates import Template
from service.domain_errors import Conflict, Invalid, NotFound, StaleReview
from service.models import (
    Acta,
    ActaField,
    ActaStatus,
    Blob,
    Mesa,
    Review,
    ReviewAction,
    Scan,
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
    ScanInfo,
    TemplateResults,
)

REVIEW_ATTEMPTS = 5  # a review that finds the acta changed under it reads it again, this many times in all
NEAR_DUPLICATE_BITS = 12  # of 256: re-encodings of a real scan differ by <= 4, two different actas by >= 28


def _lock_mesa(session: Session, template: str, code: str) -> None:
    """Upsert the mesa's row: PostgreSQL holds a row lock, SQLite the database write lock, to commit."""
    dialect = session.get_bind().dialect.name
    values = {"template": template, "code": code, "scans": 0}
    keys = [Mesa.template, Mesa.code]
    if dialect == "postgresql":
        pg = pg_insert(Mesa).values(**values)
        session.execute(pg.on_conflict_do_update(index_elements=keys, set_={"scans": Mesa.scans}))
    elif dialect == "sqlite":
        lite = sqlite_insert(Mesa).values(**values)
        session.execute(lite.on_conflict_do_update(index_elements=keys, set_={"scans": Mesa.scans}))
    else:
        raise RuntimeError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def _count_scan(session: Session, template: str, code: str) -> None:
    session.execute(update(Mesa).where(Mesa.template == template, Mesa.code == code).values(scans=Mesa.scans + 1))


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
    """By its id, or by the sha256 of any scan stored for it (a rescan)."""
    acta = session.get(Acta, acta_id)
    if acta is None:
        scan = session.get(Scan, acta_id)
        acta = session.get(Acta, scan.acta_id) if scan else None
    return acta


class StoreOutcome(enum.StrEnum):
    new = "new"  # a new acta
    same_bytes = "same_bytes"  # these exact bytes were stored before
    rescan = "rescan"  # new bytes of a stored acta's mesa that read the same on every field: one more scan


@dataclass(frozen=True)
class Stored:
    acta: Acta
    outcome: StoreOutcome

    @property
    def created(self) -> bool:
        return self.outcome == StoreOutcome.new


def store_reading(
    session: Session,
    reading: ActaReading,
    data: bytes,
    uploaded_by: str,
    templates: dict[str, Template],
    phash: str | None = None,
) -> Stored:
    """Store the scan and its reading. Same bytes again: the stored acta. Another scan of a stored mesa
    (same election) that reads the same on every field: stored as one more scan of that acta."""
    try:
        stored = _store(session, reading, data, uploaded_by, templates, phash)
        session.commit()
    except IntegrityError:
        # The same bytes stored by a concurrent request after our check: theirs is the record.
        session.rollback()
        existing = get_acta(session, reading.acta_id)
        if existing is None:
            raise
        return Stored(existing, StoreOutcome.same_bytes)
    except BaseException:
        session.rollback()
        raise
    return stored


def _same_reading(acta: Acta, reading: ActaReading) -> bool:
    machine = {f.name: f.machine_value for f in acta.fields}
    read = {f"{f.section}.{f.key}": f.value for f in reading.fields}
    return acta.template == reading.template and machine == read


def _store(
    session: Session,
    reading: ActaReading,
    data: bytes,
    uploaded_by: str,
    templates: dict[str, Template],
    phash: str | None,
) -> Stored:
    if reading.mesa_code:
        _lock_mesa(session, reading.template, reading.mesa_code)
    existing = get_acta(session, reading.acta_id)
    if existing is not None:
        return Stored(existing, StoreOutcome.same_bytes)
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
        _count_scan(session, reading.template, reading.mesa_code)
        others = session.scalars(
            select(Acta)
            .where(
                Acta.template == reading.template,
                Acta.mesa_code == reading.mesa_code,
                Acta.status != ActaStatus.superseded,
            )
            .order_by(Acta.created_at, Acta.id)
        ).all()
        same = [o for o in others if _same_reading(o, reading)]
        if same:  # the same paper scanned again: one acta, one more scan, counted once
            keep = next((o for o in same if o.status == ActaStatus.counted), same[0])
            session.add(blob)
            session.flush()  # the file before the scan row that points at it
            keep.scans.append(Scan(sha256=blob.sha256, phash=phash, uploaded_by=uploaded_by))
            session.flush()
            return Stored(keep, StoreOutcome.rescan)
        if others:  # two different readings claim this mesa: neither counts until a reviewer keeps one
            status = ActaStatus.conflict
            for other in others:
                if other.status != ActaStatus.conflict:
                    other.status = ActaStatus.conflict
                    other.version = Acta.version + 1  # a status change is a write to the acta
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
        version=1,
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
    acta.scans = [Scan(sha256=blob.sha256, phash=phash, uploaded_by=uploaded_by)]
    _recompute(acta, templates.get(reading.template))
    session.add(acta)
    session.flush()
    return Stored(acta, StoreOutcome.new)


def near_duplicates(session: Session, acta: Acta) -> list[str]:
    """Other actas of the same form with a scan whose perceptual hash is within NEAR_DUPLICATE_BITS of one
    of this acta's scans: most likely the same paper (re-encoded, rescanned) read differently."""
    mine = [int(s.phash, 16) for s in acta.scans if s.phash]
    if not mine:
        return []
    found: set[str] = set()
    rows = session.execute(
        select(Scan.acta_id, Scan.phash)
        .join(Acta, Acta.id == Scan.acta_id)
        .where(Acta.template == acta.template, Scan.acta_id != acta.id, Scan.phash.is_not(None))
    )
    for other_id, other_hash in rows:
        h = int(other_hash or "0", 16)
        if any((h ^ m).bit_count() <= NEAR_DUPLICATE_BITS for m in mine):
            found.add(other_id)
    return sorted(found)


def conflicts_with(session: Session, acta: Acta) -> list[str]:
    if not acta.mesa_code:
        return []
    return list(
        session.scalars(
            select(Acta.id)
            .where(
                Acta.template == acta.template,
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
        version=acta.version,
        scans=[ScanInfo(sha256=sc.sha256, uploaded_by=sc.uploaded_by, created_at=sc.created_at) for sc in acta.scans],
        near_duplicates=near_duplicates(session, acta),
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
                seconds=r.seconds,
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


class _Stale(Exception):
    """The acta's version moved between our read and our write."""


def review(
    session: Session, acta_id: str, request: ReviewRequest, reviewer: str, templates: dict[str, Template]
) -> Acta:
    """Apply one review in one transaction, serialised per acta: the write is `UPDATE actas ... WHERE
    version = <the version read>`; when another write got there first, the review is read and applied
    again from what is stored (REVIEW_ATTEMPTS in all), then StaleReview. A `request.version` the client
    read that is no longer current is StaleReview at once. Raises NotFound, Conflict, Invalid with
    nothing changed."""
    for attempt in range(REVIEW_ATTEMPTS):
        try:
            acta = _review(session, acta_id, request, reviewer, templates)
            session.commit()
            return acta
        except _Stale:
            session.rollback()
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # let the winner commit, and spread the losers
        except BaseException:
            session.rollback()
            raise
    raise StaleReview(
        "stale_review",
        f"acta {acta_id} was changed by other reviews {REVIEW_ATTEMPTS} times while this one was applied",
    )


def _bump(session: Session, acta_id: str, read_version: int, now: datetime) -> None:
    """The version check on write: only the review that read the current version moves it on (and from
    here until commit holds the acta's row lock on PostgreSQL, the write lock on SQLite)."""
    done = session.execute(
        update(Acta)
        .where(Acta.id == acta_id, Acta.version == read_version)
        .values(version=read_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise _Stale


def _review(
    session: Session, acta_id: str, request: ReviewRequest, reviewer: str, templates: dict[str, Template]
) -> Acta:
    session.expire_all()  # what is stored now, not what an earlier attempt saw
    acta = get_acta(session, acta_id)
    if acta is None:
        raise NotFound("not_found", f"no acta {acta_id}")
    if request.version is not None and request.version != acta.version:
        raise StaleReview(
            "stale_version",
            f"the acta is at version {acta.version}, not {request.version}: read it again and review what it holds",
        )
    acta_id = acta.id  # a rescan's sha256 names its acta
    now = utcnow()

    def audit(target: str, action: ReviewAction, **kw: object) -> None:
        session.add(Review(acta_id=target, reviewer=reviewer, at=now, action=action, note=request.note, **kw))

    if request.keep_for_mesa:
        if not acta.mesa_code:
            raise Conflict("no_mesa_code", "this acta has no mesa code read, so it has no mesa to resolve")
        _lock_mesa(session, acta.template, acta.mesa_code)  # the mesa first, then the acta: as uploads do
    _bump(session, acta_id, acta.version, now)
    session.expire_all()  # reload under the lock: the recomputation works on what is stored
    acta = session.get_one(Acta, acta_id)

    if request.keep_for_mesa:
        if acta.status == ActaStatus.counted:
            raise Conflict("not_in_conflict", "this acta is already the counted scan of its mesa")
        others = session.scalars(
            select(Acta).where(
                Acta.template == acta.template,
                Acta.mesa_code == acta.mesa_code,
                Acta.id != acta.id,
                Acta.status != ActaStatus.superseded,
            )
        ).all()
        audit(acta.id, ReviewAction.keep, old_status=acta.status.value, new_status=ActaStatus.counted.value)
        acta.status = ActaStatus.counted
        for other in others:
            audit(
                other.id, ReviewAction.supersede, old_status=other.status.value, new_status=ActaStatus.superseded.value
            )
            other.status = ActaStatus.superseded
            other.version = Acta.version + 1

    if request.fields:
        if acta.status == ActaStatus.superseded:
            raise Conflict("superseded", "this scan was superseded by another of its mesa; review that one")
        template = templates.get(acta.template)
        by_name = {f.name: f for f in acta.fields}
        for item in request.fields:
            field = by_name.get(item.field)
            if field is None:
                raise Invalid("unknown_field", f"{item.field} is not a field of {acta.template}")
            if template is not None and item.value is not None:
                digits = template.fields[item.field][1].digits
                if item.value >= 10**digits:
                    raise Invalid("value_out_of_range", f"{item.field} has {digits} boxes: at most {10**digits - 1}")
            action = ReviewAction.confirm if item.value == field.machine_value else ReviewAction.correct
            audit(acta.id, action, field=item.field, old_value=field.value, new_value=item.value, seconds=item.seconds)
            field.reviewed, field.reviewed_value = True, item.value
        _recompute(acta, template)
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
