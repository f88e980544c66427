"""The database schema's revision: Alembic migrations shipped in `service/migrations`.

- An empty database is created at the head revision (by `actas serve`, `actas keys`, or the app's start).
- A database of release 0.1.0 (the tables `create_all` made, no `alembic_version`) is recognised as
  `0001_initial`; `actas db upgrade` stamps it so and upgrades it.
- A database behind the code's head is refused at start (`SchemaBehind`, ending with the command to run);
  a database ahead of it (newer code has migrated it) is refused too.

Replicas starting at once on an empty database do not race: the check and the upgrade run under a lock
(`pg_advisory_lock` on PostgreSQL, an exclusive `flock` on the SQLite file).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
INITIAL = "0001_initial"
# The tables release 0.1.0 made (no alembic_version): such a database is at INITIAL.
RELEASE_0_1_0_TABLES = frozenset({"api_keys", "blobs", "mesas", "actas", "acta_fields", "reviews"})
_PG_LOCK_KEY = 0x61637461_73_6462  # "actas" "db": one advisory lock for every migrating process
UPGRADE_HINT = "Run: actas db upgrade"


class SchemaError(RuntimeError):
    """The database's schema is not one this code can serve."""


class SchemaBehind(SchemaError):
    pass


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


@dataclass(frozen=True)
class State:
    revision: str | None  # None: no alembic_version
    legacy: bool  # the 0.1.0 tables without alembic_version
    empty: bool  # no table of ours at all

    def describe(self) -> str:
        if self.empty:
            return "empty (no tables)"
        if self.legacy:
            return f"{INITIAL} (release 0.1.0 schema, not stamped yet)"
        return str(self.revision)


def state(conn: Connection) -> State:
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is not None:
        return State(revision, legacy=False, empty=False)
    tables = set(inspect(conn).get_table_names())
    if tables >= RELEASE_0_1_0_TABLES:
        return State(None, legacy=True, empty=False)
    if tables & RELEASE_0_1_0_TABLES:
        raise SchemaError(
            f"the database has some of the service's tables ({', '.join(sorted(tables & RELEASE_0_1_0_TABLES))}) "
            "but no alembic_version: it is not a database this code made"
        )
    return State(None, legacy=False, empty=True)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock: one process at a time checks and upgrades."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
        return
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        with engine.connect() as conn:
            yield conn
        return
    # SQLite takes POSIX byte-range locks on the file; flock is a separate lock on Linux, ours alone.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with engine.connect() as conn:
            yield conn
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _upgrade(conn: Connection, target: str = "head") -> None:
    cfg = _config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)
    conn.commit()


def upgrade(engine: Engine) -> tuple[str, str]:
    """`actas db upgrade`: stamp a 0.1.0 database as 0001_initial, then upgrade to head; (before, after)."""
    with _migration_lock(engine) as conn:
        before = state(conn)
        conn.commit()
        if before.legacy:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.stamp(cfg, INITIAL)
            conn.commit()
        _upgrade(conn)
        return before.describe(), head()


def ensure(engine: Engine) -> str:
    """At start: create an empty database at head; accept one at head; refuse any other (SchemaError)."""
    with _migration_lock(engine) as conn:
        now = state(conn)
        conn.commit()
        if now.empty:
            _upgrade(conn)
            return head()
        current = INITIAL if now.legacy else now.revision
        if current == head():
            return current
        script = ScriptDirectory.from_config(_config())
        known = {r.revision for r in script.walk_revisions()}
        if current not in known:
            raise SchemaError(
                f"the database is at revision {current}, which this code does not know (its head is {head()}): "
                "it was migrated by a newer release; run that release"
            )
        raise SchemaBehind(f"the database is at revision {now.describe()}, behind this code's {head()}. {UPGRADE_HINT}")


def current(engine: Engine) -> str:
    with engine.connect() as conn:
        return state(conn).describe()
