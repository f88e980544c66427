"""Storage under concurrency: scans arriving at the same moment still dedupe and still see each other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select

from pipeline.schema import ActaReading
from service import crud
from service.db import create_tables, make_engine, session_factory
from service.models import Acta, ActaStatus, Blob
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


def test_concurrent_uploads(database_url: str, service_reader: MemoReader) -> None:
    engine = make_engine(database_url)
    create_tables(engine)
    sessions = session_factory(engine)
    templates = service_reader.templates
    scans = [SAMPLE.read_bytes(), reencode_jpeg(SAMPLE, 70), reencode_jpeg(SAMPLE, 60)]
    readings: list[ActaReading] = [service_reader.read(d) for d in scans]
    assert len({r.mesa_code for r in readings}) == 1 and len({r.acta_id for r in readings}) == 3

    def store(i: int) -> Callable[[], tuple[str, bool]]:
        def job() -> tuple[str, bool]:
            with sessions() as session:
                acta, created = crud.store_reading(session, readings[i], scans[i], f"k{i}", templates)
                return acta.id, created

        return job

    # The same bytes four times at once, and two other scans of the same mesa at the same moment.
    got = at_once([store(0), store(0), store(0), store(0), store(1), store(2)])
    assert sum(created for _, created in got[:4]) == 1 and {i for i, _ in got[:4]} == {readings[0].acta_id}
    assert all(created for _, created in got[4:])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Acta)) == 3
        assert session.scalar(select(func.count()).select_from(Blob)) == 3
        statuses = set(session.scalars(select(Acta.status)))
    assert statuses == {ActaStatus.conflict}  # none of the three slipped into the totals
    engine.dispose()
