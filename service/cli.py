"""`actas serve`, `actas keys` and `actas db`, added to the `actas` command through `register`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from service.models import Role

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.settings import Settings

    # Each worker process builds its own app from the environment: pass the options through it.
    if args.database_url:
        os.environ["ACTAS_DATABASE_URL"] = args.database_url
    settings = Settings()
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    workers = args.workers or settings.workers
    if not settings.resolved_model().is_file():
        print(
            f"actas serve: error: model {settings.resolved_model()} not found (set ACTAS_MODEL_PATH)", file=sys.stderr
        )
        return 2
    print(
        f"actas serve: http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}, "
        f"database {_redacted(settings.database_url)}); API docs at /docs",
        file=sys.stderr,
    )
    from service.schema import SchemaError

    try:
        has_key = _any_key(settings.database_url)
    except SchemaError as exc:
        print(f"actas serve: error: {exc}", file=sys.stderr)
        return 2
    if not has_key:
        print(
            "actas serve: no API keys yet; every call but /health, /ready and /templates needs one. Create the\n"
            "  first (printed once) in another terminal: actas keys create admin --role reviewer\n"
            "  then send it as the X-API-Key header.",
            file=sys.stderr,
        )
    uvicorn.run(
        "service.app:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
    return 0


def _any_key(database_url: str) -> bool:
    """Whether the database has an active key (False too when it cannot be read yet); creates an empty
    database at the schema's head, raises SchemaError for one behind the code."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from service.db import ensure_schema, make_engine
    from service.models import ApiKey

    engine = make_engine(database_url)
    try:
        ensure_schema(engine, attempts=1)
        with engine.connect() as conn:
            return conn.execute(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)).first() is not None
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _engine(args: argparse.Namespace) -> Engine:
    from service.db import make_engine
    from service.settings import Settings

    return make_engine(args.database_url or Settings().database_url)


def _sessions(args: argparse.Namespace) -> sessionmaker[Session]:
    from service.db import ensure_schema, session_factory

    engine = _engine(args)
    ensure_schema(engine, attempts=1)
    return session_factory(engine)


def _database_errors(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A database that cannot be reached, or whose schema is behind the code, is a set-up error: one line on
    stderr, exit 2, no traceback."""

    @wraps(cmd)
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from service.schema import SchemaError

        name = f"actas {args.command}" if getattr(args, "command", None) else "actas"
        try:
            return cmd(args)
        except SchemaError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            return 2
        except SQLAlchemyError as exc:
            print(f"{name}: error: database: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2

    return run


@_database_errors
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from service import schema

    engine = _engine(args)
    try:
        before, after = schema.upgrade(engine)
    finally:
        engine.dispose()
    print(f"actas db: {before} -> {after}" if before != after else f"actas db: already at {after}", file=sys.stderr)
    return 0


@_database_errors
def cmd_db_current(args: argparse.Namespace) -> int:
    from service import schema

    engine = _engine(args)
    try:
        now = schema.current(engine)
    finally:
        engine.dispose()
    print(now)
    print(f"actas db: this code's head is {schema.head()}", file=sys.stderr)
    return 0


@_database_errors
def cmd_keys_create(args: argparse.Namespace) -> int:
    from service.security import create_key

    with _sessions(args)() as session:
        key = create_key(session, args.name, Role(args.role))
        session.commit()
    print(key)
    print(
        f"actas keys: created {args.role} key {args.name!r}; it is shown only this once: keep it safe", file=sys.stderr
    )
    return 0


@_database_errors
def cmd_keys_list(args: argparse.Namespace) -> int:
    from service.security import list_keys

    with _sessions(args)() as session:
        keys = list_keys(session)
    if not keys:
        print("no API keys; create one with: actas keys create NAME --role reviewer", file=sys.stderr)
        return 0
    print(f"{'NAME':24s} {'ROLE':9s} {'PREFIX':11s} {'CREATED':20s} REVOKED")
    for k in keys:
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if k.revoked_at else "-"
        print(f"{k.name:24s} {k.role.value:9s} {k.prefix + '…':11s} {k.created_at:%Y-%m-%d %H:%M:%S}  {revoked}")
    return 0


@_database_errors
def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from service.security import revoke_key

    with _sessions(args)() as session:
        done = revoke_key(session, args.name)
        session.commit()
    if not done:
        print(f"actas keys revoke: no active key named {args.name!r}", file=sys.stderr)
        return 1
    print(f"actas keys: revoked {args.name!r}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database-url", help="SQLAlchemy URL (default: $ACTAS_DATABASE_URL or sqlite:///./actas.db)")

    s = sub.add_parser("serve", parents=[db], help="run the REST service (model: $ACTAS_MODEL_PATH or the shipped one)")
    s.add_argument("--host", help="address to bind (default: $ACTAS_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default: $ACTAS_PORT or 8000)")
    s.add_argument(
        "--workers", type=int, help="processes, each with the model loaded once (default: $ACTAS_WORKERS or 1)"
    )
    s.set_defaults(func=cmd_serve)

    k = sub.add_parser("keys", help="API keys: create (printed once), list, revoke")
    ks = k.add_subparsers(dest="keys_command", required=True)
    c = ks.add_parser("create", parents=[db], help="create a key and print it (only this once)")
    c.add_argument("name", help="who or what holds it, e.g. ana or scanner-3 (recorded on what the key does)")
    c.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="reader: read; operator: also upload; reviewer: also review",
    )
    c.set_defaults(func=cmd_keys_create)
    ls = ks.add_parser("list", parents=[db], help="list keys (never the keys themselves)")
    ls.set_defaults(func=cmd_keys_list)
    r = ks.add_parser("revoke", parents=[db], help="revoke a key by name")
    r.add_argument("name")
    r.set_defaults(func=cmd_keys_revoke)

    d = sub.add_parser("db", help="the database schema: upgrade (migrations), current (its revision)")
    ds = d.add_subparsers(dest="db_command", required=True)
    u = ds.add_parser("upgrade", parents=[db], help="migrate the database to this code's schema (0.1.0 ones too)")
    u.set_defaults(func=cmd_db_upgrade)
    cur = ds.add_parser("current", parents=[db], help="print the database's schema revision")
    cur.set_defaults(func=cmd_db_current)
