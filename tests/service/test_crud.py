"""Storage under concurrency: scans arriving at the same moment still dedupe and still see each other;
reviews arriving at the same moment are serialised per acta."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select

from pipeline.schema import ActaReading
from service import crud
from service.db import ensure_schema, make_engine, session_factory
from service.models import Acta, ActaStatus, Blob, Mesa
from tests.service.conftest import SAMPLE, MemoReader
from tests.service.inputs import reencode_jpeg

T = TypeVar("T")


def at_once(jobs: list[Callable[[], T]]) -> list[T]:
    """Run the jobs in threads released together."""
    barrier = threading.Barrier(len(jobs))
    out: list[T | BaseException | None] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = jobs[i]()
        except BaseException as exc:  # re-raised below, in the test's thread
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for o in out:
        if isinstance(o, BaseException):
            raise o
    return out  # type: ignore[return-value]


def misread(reading: ActaReading, data: bytes) -> tuple[ActaReading, bytes]:
    """The same scan as another file whose reading differs in one count (as a misread would)."""
    other = data + b"\x00" * 16  # trailing bytes: a new sha256, the same image
    fields = list(reading.fields)
    fields[0] = fields[0].model_copy(update={"value": (fields[0].value or 0) + 1})
    return reading.model_copy(update={"acta_id": hashlib.sha256(other).hexdigest(), "fields": fields}), other


def test_concurrent_uploads(database_url: str, service_reader: MemoReader) -> None:
    engine = make_engine(database_url)
    ensure_schema(engine)
    sessions = session_factory(engine)
    templates = service_reader.templates
    scans = [SAMPLE.read_bytes(), reencode_jpeg(SAMPLE, 70)]
    readings: list[ActaReading] = [service_reader.read(d) for d in scans]
    assert len({r.mesa_code for r in readings}) == 1 and len({r.acta_id for r in readings}) == 2
    # The re-encoded copy reads the same on every field (a rescan); a third file reads one count differently.
    assert [f.value for f in readings[0].fields] == [f.value for f in readings[1].fields]
    third, third_bytes = misread(readings[0], scans[0])
    readings.append(third)
    scans.append(third_bytes)

    def store(i: int) -> Callable[[], tuple[str, crud.StoreOutcome]]:
        def job() -> tuple[str, crud.StoreOutcome]:
            with sessions() as session:
                stored = crud.store_reading(session, readings[i], scans[i], f"k{i}", templates)
                return stored.acta.id, stored.outcome

        return job

    # The same bytes four times at once, a rescan and a differing scan of the same mesa at the same moment.
    got = at_once([store(0), store(0), store(0), store(0), store(1), store(2)])
    outcomes = [o for _, o in got]
    with sessions() as session:
        actas = {a.id: a for a in session.scalars(select(Acta))}
        assert session.scalar(select(func.count()).select_from(Blob)) == 3
        scans_of = {a.id: sorted(s.sha256 for s in a.scans) for a in actas.values()}
        mesa = session.get_one(Mesa, ("bo2025-runoff", readings[0].mesa_code))
        mesa_scans = mesa.scans
    # Two actas: the paper (two files, whichever arrived first is its id) and the differing reading.
    assert len(actas) == 2 and third.acta_id in actas and outcomes.count(crud.StoreOutcome.new) == 2
    paper = next(i for i in actas if i != third.acta_id)
    assert sorted(scans_of[paper]) == sorted([readings[0].acta_id, readings[1].acta_id])
    assert {a.status for a in actas.values()} == {ActaStatus.conflict}  # neither slipped into the totals
    assert mesa_scans == 3
    assert outcomes.count(crud.StoreOutcome.same_bytes) + outcomes.count(crud.StoreOutcome.rescan) == 4
    engine.dispose()
