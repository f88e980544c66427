"""Database engine and sessions (SQLAlchemy 2): an SQLite file by default, PostgreSQL when the URL says so."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from service import schema


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Requests are served from a thread pool, and several writers may wait on the file lock.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        if parsed.database not in (None, "", ":memory:") and not parsed.database.startswith("file:"):
            _private_file(parsed.database)
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer, nor it them
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _private_file(path: str) -> None:
    """Scans hold personal data: the database file is created readable by its owner only (SQLite gives
    its -wal and -shm files the same mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


def ensure_schema(engine: Engine, attempts: int = 5) -> str:
    """Create an empty database at the migrations' head, or check that it is there (`service.schema`).
    Several workers start at once, and the database may still be starting: connection errors are
    retried briefly; a schema behind the code raises `schema.SchemaBehind`."""
    for attempt in range(attempts):
        try:
            return schema.ensure(engine)
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Raises if the database cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
