"""GET /health and GET /ready (model loaded, database reachable)."""

from __future__ import annotations

from service.db import make_engine
from tests.service.conftest import Api


def test_health_and_ready(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok"}
    ready = api.client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["provider"] == "CPUExecutionProvider"
    assert body["database"] in ("sqlite", "postgresql")


def test_not_ready_without_a_database(api: Api) -> None:
    app = api.client.app
    good = app.state.engine  # type: ignore[attr-defined]
    app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")  # type: ignore[attr-defined]
    try:
        r = api.client.get("/ready")
        assert r.status_code == 503 and r.json()["code"] == "not_ready"
        assert api.client.get("/health").status_code == 200  # alive, just not ready
    finally:
        app.state.engine.dispose()  # type: ignore[attr-defined]
        app.state.engine = good  # type: ignore[attr-defined]
