"""Settings come from ACTAS_* variables, the same ones the pipeline reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.views import DEFAULT_VIEWS
from service.settings import Settings


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTAS_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ACTAS_MODEL_PATH", "/m/x.onnx")
    monkeypatch.setenv("ACTAS_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("ACTAS_PUBLIC_RESULTS", "true")
    monkeypatch.setenv("ACTAS_CONCURRENCY", "3")
    monkeypatch.setenv("ACTAS_VIEWS", "identity, rotate+8")
    s = Settings(_env_file=None)
    assert s.resolved_views() == ("identity", "rotate+8")
    assert s.database_url == "postgresql+psycopg://u@h/db" and s.resolved_model() == Path("/m/x.onnx")
    assert (s.max_upload_bytes, s.public_results, s.concurrency) == (1234, True, 3)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTAS_DATABASE_URL", "ACTAS_PUBLIC_RESULTS", "ACTAS_MAX_UPLOAD_BYTES", "ACTAS_VIEWS"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert s.database_url.startswith("sqlite:///") and s.public_results is False
    assert s.max_upload_bytes == 20 * 1024 * 1024 and s.concurrency >= 1
    assert s.resolved_views() == DEFAULT_VIEWS


def test_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTAS_MAX_UPLOAD_BYTES", "0")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


def test_unknown_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTAS_VIEWS", "identity,mirror")
    with pytest.raises(ValueError, match="mirror"):
        Settings(_env_file=None)


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    """Scans hold personal data: the database file is created 0600 whatever the umask (issue 18)."""
    import os
    import stat

    from service.db import ensure_schema, make_engine

    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'actas.db'}")
        ensure_schema(engine)
        with engine.connect() as conn:  # WAL: the -wal and -shm files exist while a connection is open
            conn.exec_driver_sql("SELECT 1")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert modes["actas.db"] == 0o600 and all(m == 0o600 for m in modes.values()), modes
