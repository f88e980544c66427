"""Service fixtures: the real reader (shipped model), SQLite and a real PostgreSQL, API keys per role.

Each test gets empty tables on both databases. The reader is the real pipeline; `MemoReader` only
remembers what it read by file hash, so that the same scan is not read again in every test (each test
still goes through upload, storage and the HTTP layer for real).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.reader import ActaReader
from pipeline.schema import ActaReading
from service.app import create_app
from service.db import make_engine, session_factory
from service.models import Role
from service.security import create_key
from service.settings import Settings
from tests.conftest import ACTAS

GENERAL = sorted((ACTAS / "bo2025-general").glob("*.jpg"))
RUNOFF = sorted((ACTAS / "bo2025-runoff").glob("*.jpg"))
SAMPLE = ACTAS / "bo2025-runoff" / "mesa_1000551.jpg"  # A1 runoff scan, mesa 100055-1 (a fast one)

# A PostgreSQL server on loopback (`scripts/ensure_postgres.sh` starts it); each test session makes its own
# throwaway database there and drops it at the end.
PG_ADMIN_URL = os.environ.get("ACTAS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


class MemoReader(ActaReader):
    """The real reader, remembering each reading by (file hash, template) for the test session."""

    def __init__(self, base: ActaReader, config: ReaderConfig | None = None) -> None:
        super().__init__(base.classifier, base.templates, config or base.config)
        self.registrar = base.registrar  # reuse the reference features already computed
        self._memo: dict[tuple[str, str | None], ActaReading] = {}
        self.reads = 0  # actual pipeline runs, to show the service does not re-read stored scans

    def read(self, data: bytes, template: str | None = None) -> ActaReading:
        key = (hashlib.sha256(data).hexdigest(), template)
        if key not in self._memo:
            self._memo[key] = super().read(data, template)
            self.reads += 1
        return self._memo[key]


@pytest.fixture(scope="session")
def service_reader(reader: ActaReader) -> MemoReader:
    return MemoReader(reader)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"actas_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing server is a failure to report, not a reason to skip
        pytest.fail(
            f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)} is not usable "
            f"({type(exc).__name__}); run scripts/ensure_postgres.sh",
            pytrace=False,
        )
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Empty tables on an SQLite file or on the session's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'actas.db'}"
        return
    url: str = request.getfixturevalue("pg_database")
    reset_postgres(url)
    yield url


def reset_postgres(url: str) -> None:
    """An empty database again: every table (alembic_version included) dropped."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        model_path=SHIPPED_MODEL,
        **overrides,
    )


class Api:
    """A TestClient over a fresh app, with one key per role."""

    def __init__(self, client: TestClient, keys: dict[Role, str], reader: MemoReader) -> None:
        self.client, self.keys, self.reader = client, keys, reader

    def headers(self, role: Role | None) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]} if role else {}

    def upload(
        self, data: bytes, role: Role | None = Role.operator, name: str = "scan.jpg", template: str | None = None
    ) -> httpx2.Response:
        form = {"template": template} if template else None
        return self.client.post(
            "/actas", files={"file": (name, data, "image/jpeg")}, data=form, headers=self.headers(role)
        )


def start_api(database_url: str, reader: MemoReader, **overrides: object) -> Iterator[Api]:
    settings = make_settings(database_url, **overrides)
    app = create_app(settings, reader=reader)
    with TestClient(app) as client:  # runs the lifespan: tables created
        sessions = session_factory(app.state.engine)
        with sessions() as session:
            keys = {role: create_key(session, f"test-{role.value}", role) for role in Role}
            session.commit()
        yield Api(client, keys, reader)


@pytest.fixture
def api(database_url: str, service_reader: MemoReader) -> Iterator[Api]:
    yield from start_api(database_url, service_reader)


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()
