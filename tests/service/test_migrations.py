"""Alembic migrations on SQLite and PostgreSQL: an empty database is created at head; a database of release
0.1.0 (made by `create_all`, with actas, fields, reviews and keys in it) upgrades with nothing lost; a
database behind the code is refused at start, with the command to run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from actas.cli import main
from pipeline.schema import ActaReading
from service import schema
from service.app import create_app
from service.db import ensure_schema, make_engine
from service.models import Base
from service.security import hash_key
from tests.service.conftest import SAMPLE, MemoReader, make_settings, reset_postgres

DATA = Path(__file__).parent / "data"
HINT = "Run: actas db upgrade"


def load_0_1_0(engine: Engine) -> None:
    """The 0.1.0 schema exactly as its `create_all` made it (DDL kept in tests/service/data)."""
    lines = (DATA / f"schema-0.1.0-{engine.dialect.name}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    with engine.begin() as conn:
        for stmt in (s.strip() for s in ddl.split(";\n")):
            if stmt:
                conn.exec_driver_sql(stmt)


def described(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them (alembic_version left out)."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for t in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            "pk": insp.get_pk_constraint(t)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], (f.get("options") or {}).get("ondelete"))
                for f in insp.get_foreign_keys(t)
            ),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)),
        }
    return out


def fresh(database_url: str, other_file: str | None = None) -> Engine:
    """An empty database: PostgreSQL's emptied, or an SQLite file (another one beside it if named)."""
    if database_url.startswith("postgresql"):
        reset_postgres(database_url)
    elif other_file:
        database_url = str(
            make_url(database_url).set(database=str(Path(make_url(database_url).database or "").with_name(other_file)))
        )
    return make_engine(database_url)


def test_empty_database_is_created_at_head(database_url: str) -> None:
    engine = fresh(database_url)
    assert ensure_schema(engine) == schema.head() == "0003_review_page"
    with engine.connect() as conn:  # the models and the migrations agree, column by column
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    assert ensure_schema(engine) == schema.head()  # again: nothing to do
    engine.dispose()


def test_0001_initial_is_the_0_1_0_schema(database_url: str) -> None:
    engine = fresh(database_url)
    load_0_1_0(engine)
    released = described(engine)
    engine.dispose()
    engine = fresh(database_url, "migrated.db")
    with engine.connect() as conn:
        schema._upgrade(conn, schema.INITIAL)
    assert described(engine) == released
    engine.dispose()


def insert_0_1_0_data(engine: Engine) -> dict[str, Any]:
    """A stored acta (the real runoff sample's reading), its fields, two reviews and a key, as 0.1.0 wrote them."""
    reading = json.loads((DATA / "reading-mesa_1000551.json").read_text())
    data = SAMPLE.read_bytes()
    now = "2025-10-19 20:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (name, role, key_hash, prefix, created_at) "
                "VALUES ('ana', 'reviewer', :h, 'p', :t)"
            ),
            {"h": hash_key("actas_old_key"), "t": now},
        )
        conn.execute(
            text("INSERT INTO blobs (sha256, media_type, size, data) VALUES (:s, 'image/jpeg', :n, :d)"),
            {"s": reading["acta_id"], "n": len(data), "d": data},
        )
        conn.execute(text("INSERT INTO mesas (code, scans) VALUES (:c, 0)"), {"c": reading["mesa_code"]})
        conn.execute(
            text(
                "INSERT INTO actas (id, mesa_code, template, variant, status, machine_needs_review, needs_review, "
                "reading, blob_sha256, uploaded_by, created_at, updated_at) VALUES (:id, :m, :t, :v, 'counted', "
                ":nr, :nr, :r, :id, 'scanner', :now, :now)"
            ),
            {
                "id": reading["acta_id"],
                "m": reading["mesa_code"],
                "t": reading["template"],
                "v": reading["variant"],
                "nr": reading["needs_review"],
                "r": json.dumps(reading),
                "now": now,
            },
        )
        for i, f in enumerate(reading["fields"]):
            reviewed = i == 0
            conn.execute(
                text(
                    "INSERT INTO acta_fields (acta_id, name, position, section, key, machine_value, "
                    "machine_needs_review, reviewed, reviewed_value, waiting) VALUES (:a, :n, :p, :s, :k, :mv, "
                    ":mnr, :rv, :rval, :w)"
                ),
                {
                    "a": reading["acta_id"],
                    "n": f"{f['section']}.{f['key']}",
                    "p": i,
                    "s": f["section"],
                    "k": f["key"],
                    "mv": f["value"],
                    "mnr": f["needs_review"],
                    "rv": reviewed,
                    "rval": (f["value"] or 0) + 1 if reviewed else None,
                    "w": f["needs_review"] and not reviewed,
                },
            )
        first = reading["fields"][0]
        name, value = f"{first['section']}.{first['key']}", first["value"]
        for old, new in [(value, value), (value, (value or 0) + 1)]:
            conn.execute(
                text(
                    "INSERT INTO reviews (acta_id, reviewer, at, action, field, old_value, new_value, note) "
                    "VALUES (:a, 'ana', :t, :act, :f, :o, :n, 'paper checked')"
                ),
                {
                    "a": reading["acta_id"],
                    "t": now,
                    "act": "confirm" if old == new else "correct",
                    "f": name,
                    "o": old,
                    "n": new,
                },
            )
    return reading


def test_a_0_1_0_database_is_refused_then_upgraded_with_nothing_lost(
    database_url: str, service_reader: MemoReader, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = fresh(database_url)
    load_0_1_0(engine)
    reading = insert_0_1_0_data(engine)
    db = ["--database-url", database_url]

    assert main(["db", "current", *db]) == 0
    assert capsys.readouterr().out.strip() == "0001_initial (release 0.1.0 schema, not stamped yet)"
    # Behind the code: the CLI and the app refuse it, and say what to run.
    assert main(["keys", "list", *db]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(HINT) and "0001_initial" in err
    with (
        pytest.raises(schema.SchemaBehind, match=HINT),
        TestClient(create_app(make_settings(database_url), reader=service_reader)),
    ):
        pass

    assert main(["db", "upgrade", *db]) == 0
    assert "0001_initial" in capsys.readouterr().err
    assert main(["db", "current", *db]) == 0
    assert capsys.readouterr().out.strip() == schema.head()

    with TestClient(create_app(make_settings(database_url), reader=service_reader)) as client:
        h = {"X-API-Key": "actas_old_key"}  # the 0.1.0 key still opens the door
        doc = client.get(f"/actas/{reading['acta_id']}", headers=h)
        assert doc.status_code == 200, doc.text
        record = doc.json()["record"]
        # the 0.1.0 reading, whole, with the keys added since at their defaults (reason codes, rule ops)
        upgraded = ActaReading.model_validate(reading).model_dump(mode="json")
        assert {k: v for k, v in doc.json().items() if k != "record"} == upgraded
        assert record["version"] == 1 and [s["sha256"] for s in record["scans"]] == [reading["acta_id"]]
        trail = [(e["action"], e["old_value"], e["new_value"], e["note"]) for e in record["reviews"]]
        v = reading["fields"][0]["value"]
        assert trail == [("confirm", v, v, "paper checked"), ("correct", v, (v or 0) + 1, "paper checked")]
        assert record["fields"][0]["reviewed_value"] == (v or 0) + 1
        assert client.get(f"/actas/{reading['acta_id']}/scan", headers=h).content == SAMPLE.read_bytes()
        # And the upgraded database works as a new one: a review on top of the old ones.
        first = record["fields"][0]["field"]
        r = client.put(
            f"/actas/{reading['acta_id']}/review", json={"fields": [{"field": first, "value": v}]}, headers=h
        )
        assert r.status_code == 200 and r.json()["record"]["reviews"][-1]["old_value"] == (v or 0) + 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT template, code, scans FROM mesas")).all() == [
            ("bo2025-runoff", reading["mesa_code"], 1)
        ]
    engine.dispose()


def test_a_database_behind_head_is_refused_at_start(
    database_url: str, service_reader: MemoReader, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = fresh(database_url)
    with engine.connect() as conn:
        schema._upgrade(conn, schema.INITIAL)  # stamped at 0001 by a migration run, not a legacy database
    engine.dispose()
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served a database behind the code"))
    assert main(["serve", "--port", "8123", "--database-url", database_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(HINT) and "0001_initial" in err and schema.head() in err
    with (
        pytest.raises(schema.SchemaBehind, match=HINT),
        TestClient(create_app(make_settings(database_url), reader=service_reader)),
    ):
        pass


def test_replicas_starting_at_once_on_an_empty_database(database_url: str) -> None:
    """Four processes' worth of engines create the schema at the same moment: one migrates, all start."""
    fresh(database_url).dispose()
    engines = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    got: list[object] = [None] * len(engines)

    def start(i: int) -> None:
        barrier.wait()
        try:
            got[i] = ensure_schema(engines[i], attempts=1)
        except Exception as exc:  # reported below
            got[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == [schema.head()] * len(engines)
    for e in engines:
        e.dispose()
