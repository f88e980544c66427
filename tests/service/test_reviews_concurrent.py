"""Reviews of one acta arriving at once (threads, SQLite and PostgreSQL): none is lost, the acta, the totals
and the audit chain stay consistent; mesas are mesas of one election."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.schema import ActaReading
from pipeline.templates import Template
from service import crud
from service.db import ensure_schema, make_engine, session_factory
from service.domain_errors import StaleReview
from service.models import Acta, ActaStatus, Review
from service.schemas import FieldReview, ReviewRequest
from tests.service.conftest import GENERAL, SAMPLE, MemoReader
from tests.service.test_crud import at_once


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    ensure_schema(engine)
    yield session_factory(engine)
    engine.dispose()


def stored(sessions: sessionmaker[Session], reading: ActaReading, data: bytes, templates: dict[str, Template]) -> str:
    with sessions() as session:
        return crud.store_reading(session, reading, data, "scanner", templates).acta.id


def reviewing(
    sessions: sessionmaker[Session], acta_id: str, fields: dict[str, int | None], templates: dict[str, Template]
) -> Callable[[], int]:
    """A reviewer's client: sends the review, and on 409 stale_review tries again (as Retry-After says)."""

    def job() -> int:
        request = ReviewRequest(fields=[FieldReview(field=k, value=v) for k, v in fields.items()])
        for tries in range(1, 50):
            try:
                with sessions() as session:
                    crud.review(session, acta_id, request, "ana", templates)
                return tries
            except StaleReview:
                continue
        raise AssertionError("never applied")

    return job


def check_consistent(sessions: sessionmaker[Session], acta_id: str, templates: dict[str, Template]) -> Acta:
    """What is stored agrees with itself: flags recomputed from the stored values, the version counted
    every review, each audit record's old value is the previous record's new value."""
    with sessions() as session:
        acta = session.get_one(Acta, acta_id)
        fields = {f.name: (f.reviewed, f.reviewed_value, f.waiting) for f in acta.fields}
        version, needs_review = acta.version, acta.needs_review
        trail = [
            (r.field, r.old_value, r.new_value)
            for r in session.scalars(select(Review).where(Review.acta_id == acta_id).order_by(Review.id))
        ]
        machine = {f.name: f.machine_value for f in acta.fields}
        expected = session.get_one(Acta, acta_id)
        crud._recompute(expected, templates.get(acta.template))
        assert {f.name: f.waiting for f in expected.fields} == {k: w for k, (_, _, w) in fields.items()}
        assert needs_review == any(w for _, _, w in fields.values())
        session.rollback()
    last: dict[str, int | None] = dict(machine)
    for name, old, new in trail:
        assert name is not None
        assert old == last[name], (name, old, last[name])
        last[name] = new
    for name, (reviewed, value, _) in fields.items():
        if reviewed:
            assert value == last[name]
    assert version >= 1
    return acta


def test_every_field_confirmed_at_once_clears_the_acta(
    sessions: sessionmaker[Session], service_reader: MemoReader
) -> None:
    """Issue 18: eight confirms of eight fields sent at once left needs_review true."""
    templates = service_reader.templates
    data = SAMPLE.read_bytes()
    reading = service_reader.read(data)
    acta_id = stored(sessions, reading, data, templates)
    jobs = [reviewing(sessions, acta_id, {f"{f.section}.{f.key}": f.value}, templates) for f in reading.fields]
    at_once(jobs)
    with sessions() as session:
        acta = session.get_one(Acta, acta_id)
        assert all(f.reviewed and not f.waiting for f in acta.fields)
        assert acta.needs_review is False and acta.version == 1 + len(jobs)
        assert len(acta.reviews) == len(jobs)
        res = crud.results(session, templates)
    assert res.flagged == 0 and res.fields.waiting_review == 0 and res.fields.reviewed == len(jobs)
    check_consistent(sessions, acta_id, templates)


def test_sixteen_corrections_of_one_field_keep_the_audit_chain(
    sessions: sessionmaker[Session], service_reader: MemoReader
) -> None:
    """Issue 18: sixteen corrections of one field at once all got 200 and four audit records claimed the
    same old value. Now each applies to what the previous one left."""
    templates = service_reader.templates
    data = SAMPLE.read_bytes()
    reading = service_reader.read(data)
    acta_id = stored(sessions, reading, data, templates)
    name = "presidente.PDC"
    values = list(range(100, 116))
    at_once([reviewing(sessions, acta_id, {name: v}, templates) for v in values])
    with sessions() as session:
        trail = list(session.scalars(select(Review).where(Review.acta_id == acta_id).order_by(Review.id)))
        acta = session.get_one(Acta, acta_id)
        field = next(f for f in acta.fields if f.name == name)
        assert len(trail) == 16 and sorted(r.new_value for r in trail if r.new_value is not None) == values
        assert [r.old_value for r in trail[1:]] == [r.new_value for r in trail[:-1]]  # the chain
        assert trail[0].old_value == field.machine_value
        assert field.reviewed_value == trail[-1].new_value and acta.version == 17
        totals = crud.results(session, templates).templates[0].totals
    assert totals["presidente"]["PDC"] == trail[-1].new_value
    check_consistent(sessions, acta_id, templates)


def test_corrections_of_every_field_at_once_recompute_the_flags(
    sessions: sessionmaker[Session], service_reader: MemoReader
) -> None:
    """Corrections that break the form's rules, eight at once: the flags are those the stored values give."""
    templates = service_reader.templates
    data = SAMPLE.read_bytes()
    reading = service_reader.read(data)
    acta_id = stored(sessions, reading, data, templates)
    half = reading.fields[: len(reading.fields) // 2]
    jobs = [reviewing(sessions, acta_id, {f"{f.section}.{f.key}": (f.value or 0) + 3}, templates) for f in half]
    at_once(jobs)
    acta = check_consistent(sessions, acta_id, templates)
    with sessions() as session:
        acta = session.get_one(Acta, acta_id)
        waiting = [f.name for f in acta.fields if f.waiting]
        assert waiting and acta.needs_review  # the unreviewed totals no longer add up: they wait for a person
        assert all(not f.waiting for f in acta.fields[: len(half)])


def test_a_stale_client_version_is_refused(sessions: sessionmaker[Session], service_reader: MemoReader) -> None:
    templates = service_reader.templates
    data = SAMPLE.read_bytes()
    acta_id = stored(sessions, service_reader.read(data), data, templates)
    first = ReviewRequest(fields=[FieldReview(field="presidente.PDC", value=1)], version=1)
    with sessions() as session:
        assert crud.review(session, acta_id, first, "ana", templates).version == 2
    with sessions() as session, pytest.raises(StaleReview) as err:
        crud.review(session, acta_id, first, "bob", templates)  # bob read version 1 too
    assert err.value.code == "stale_version"


def test_the_same_mesa_code_in_two_elections_is_two_mesas(
    sessions: sessionmaker[Session], service_reader: MemoReader
) -> None:
    """Issue 18: a first-round acta and a runoff acta whose barcodes carry the same mesa code were put in
    conflict. Here the runoff sample's reading is given the first-round sample's mesa code."""
    templates = service_reader.templates
    general_bytes, runoff_bytes = GENERAL[0].read_bytes(), SAMPLE.read_bytes()
    general = service_reader.read(general_bytes)
    runoff = service_reader.read(runoff_bytes).model_copy(update={"mesa_code": general.mesa_code})
    assert general.mesa_code and general.template != runoff.template
    ids = [stored(sessions, general, general_bytes, templates), stored(sessions, runoff, runoff_bytes, templates)]
    with sessions() as session:
        actas = [session.get_one(Acta, i) for i in ids]
        assert [a.status for a in actas] == [ActaStatus.counted, ActaStatus.counted]
        assert [crud.conflicts_with(session, a) for a in actas] == [[], []]
        res = crud.results(session, templates)
    assert res.counted == 2 and res.in_conflict == 0
    assert {t.template: t.counted for t in res.templates} == {"bo2025-general": 1, "bo2025-runoff": 1}
