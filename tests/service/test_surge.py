"""The service under a surge (issue 17): the same new scan sent by many clients at once is read once and
stored once, on one replica and on two racing on one database; overlays of stored scans never take the
read slots, so an upload does not wait behind them."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pipeline.reader import ActaReader
from pipeline.schema import ActaReading
from service.app import create_app
from service.models import Acta, Blob, Scan
from service.models import Role as R
from service.routes import actas as actas_routes
from tests.service.conftest import RUNOFF, SAMPLE, Api, MemoReader, start_api
from tests.service.test_crud import at_once

CLIENTS = 16
serving = contextmanager(start_api)  # one app (one replica) for the block


class CountingReader(MemoReader):
    """The real reader with no memo: every call is a real reading, and is counted. `before_read` runs
    first in the reading's thread (a test holds a reading there)."""

    def __init__(self, base: MemoReader) -> None:
        super().__init__(base)
        self.calls = 0
        self._lock = threading.Lock()
        self.before_read: Callable[[], object] = lambda: None

    def read(self, data: bytes, template: str | None = None) -> ActaReading:
        with self._lock:
            self.calls += 1
        self.before_read()
        return ActaReader.read(self, data, template)


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def rows(api: Api) -> dict[str, int]:
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {t.__tablename__: conn.scalar(select(func.count()).select_from(t)) for t in (Acta, Blob, Scan)}


def check_one_record(api: Api, answers: list[httpx2.Response], data: bytes) -> None:
    """One 201 `new`, every other answer 200 `same_bytes`, all with the same body; one acta, one file."""
    assert sorted(r.status_code for r in answers) == [200] * (len(answers) - 1) + [201], [r.text for r in answers]
    assert sorted(r.headers["X-Actas-Upload"] for r in answers) == ["new"] + ["same_bytes"] * (len(answers) - 1)
    bodies = [r.json() for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["acta_id"] == hashlib.sha256(data).hexdigest()
    assert rows(api) == {"actas": 1, "blobs": 1, "scans": 1}
    stored = api.client.get(f"/actas/{bodies[0]['acta_id']}", headers=api.headers(R.reader))
    assert stored.status_code == 200 and stored.json() == bodies[0]


def test_sixteen_identical_uploads_are_read_once(database_url: str, service_reader: MemoReader) -> None:
    reader = CountingReader(service_reader)
    data = SAMPLE.read_bytes()  # a real 2025 runoff scan, new to this database
    key = (hashlib.sha256(data).hexdigest(), None)
    with serving(database_url, reader) as api:
        flights = api.client.app.state.upload_flights  # type: ignore[attr-defined]
        joined: list[bool] = []
        # The one reading starts only once the 15 other uploads wait for it: every one of them arrived
        # while the scan was new and being read (without the single flight each would read it too).
        reader.before_read = lambda: joined.append(wait_until(lambda: flights.waiting(key) == CLIENTS - 1))
        answers = at_once([lambda: api.upload(data) for _ in range(CLIENTS)])
        assert reader.calls == 1 and joined == [True]
        check_one_record(api, answers, data)


@contextmanager
def replica(api: Api, reader: MemoReader) -> Iterator[Api]:
    """A second replica of the service on the first one's database: its own process state (flights,
    read slots), the same keys."""
    app = create_app(api.client.app.state.settings, reader=reader)  # type: ignore[attr-defined]
    with TestClient(app) as client:
        yield Api(client, api.keys, reader)


@pytest.mark.parametrize(
    "name",
    [
        "mesa_1000551.jpg",  # its mesa code reads: the mesa's row lock orders the two stores
        "mesa_100014.jpg",  # its barcode does not read: the file's primary key settles the race
    ],
)
def test_two_replicas_racing_on_one_scan_keep_one_record(
    database_url: str, service_reader: MemoReader, name: str
) -> None:
    """Behind the proxy the flights are per replica: each replica reads the scan once, and both store it
    at the same moment. The database keeps one record and the loser answers it (200), never a 500."""
    reader = CountingReader(service_reader)
    data = (RUNOFF[0].parent / name).read_bytes()
    both_reading = threading.Barrier(2, timeout=60)
    reader.before_read = both_reading.wait  # neither replica stores before the other has looked and read
    with serving(database_url, reader) as first:
        with replica(first, reader) as second:
            answers = at_once([partial(api.upload, data) for api in [first, second] * (CLIENTS // 2)])
        assert reader.calls == 2
        check_one_record(first, answers, data)


def test_an_upload_is_not_blocked_by_overlays_in_flight(
    database_url: str, service_reader: MemoReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read slot and one overlay slot; three overlays in flight (one drawing, held, two waiting for
    the overlay slot): a new scan is read and stored while they are all still held."""
    with serving(database_url, service_reader, concurrency=1, overlay_concurrency=1) as api:
        acta_id = api.upload(SAMPLE.read_bytes()).json()["acta_id"]
        state = api.client.app.state  # type: ignore[attr-defined]
        drawing, release = threading.Event(), threading.Event()
        order: list[str] = []
        encode_png = actas_routes.encode_png

        def held(img):
            drawing.set()
            release.wait(20)  # bounded: a blocked upload fails the test below instead of hanging it
            order.append("overlay")
            return encode_png(img)

        monkeypatch.setattr(actas_routes, "encode_png", held)
        overlays: list[httpx2.Response] = []

        def fetch() -> None:
            overlays.append(api.client.get(f"/actas/{acta_id}/overlay.png", headers=api.headers(R.reader)))

        threads = [threading.Thread(target=fetch) for _ in range(3)]
        for t in threads:
            t.start()
        assert drawing.wait(30)
        assert wait_until(lambda: state.overlay_limiter.statistics().tasks_waiting == 2)
        assert state.overlay_limiter.borrowed_tokens == 1 and state.read_limiter.borrowed_tokens == 0
        upload = api.upload((RUNOFF[0].parent / "mesa_8002451.jpg").read_bytes())
        order.append("upload")
        assert upload.status_code == 201, upload.text
        assert not release.is_set() and state.overlay_limiter.statistics().tasks_waiting == 2  # still all held
        release.set()
        for t in threads:
            t.join(60)
        assert order == ["upload", "overlay", "overlay", "overlay"]
        assert [r.status_code for r in overlays] == [200, 200, 200]
