"""GET /health and GET /ready (model loaded, database reachable)."""

from __future__ import annotations

import re

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
        assert r.headers["retry-after"] == "2"
        assert api.client.get("/health").status_code == 200  # alive, just not ready
    finally:
        app.state.engine.dispose()  # type: ignore[attr-defined]
        app.state.engine = good  # type: ignore[attr-defined]


def test_a_database_outage_is_503_with_retry_after(api: Api) -> None:
    """Every route's database error is 503 database_unavailable with Retry-After (issue 18)."""
    from sqlalchemy.orm import sessionmaker

    app = api.client.app
    good = app.state.sessions  # type: ignore[attr-defined]
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    app.state.sessions = sessionmaker(down)  # type: ignore[attr-defined]
    try:
        r = api.client.get("/actas", headers={"X-API-Key": "actas_whatever"})
        assert r.status_code == 503 and r.json()["code"] == "database_unavailable", r.text
        assert r.headers["retry-after"] == "2"
    finally:
        down.dispose()
        app.state.sessions = good  # type: ignore[attr-defined]


def test_head_on_get_routes(api: Api) -> None:
    """HEAD answers as GET would, without a body (it was 405)."""
    for path in ("/health", "/ready", "/templates", "/openapi.json", "/docs"):
        got, head = api.client.get(path), api.client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert api.client.head("/actas").status_code == 401  # a key is still needed
    r = api.client.delete("/health")
    assert r.status_code == 405 and "HEAD" in r.headers["allow"]


def test_docs_are_served_from_installed_assets(api: Api) -> None:
    """Swagger UI and ReDoc load nothing from a CDN (blank offline; keys typed there pass no third party)."""
    for page in ("/docs", "/redoc"):
        html = api.client.get(page).text
        assert "cdn" not in html.lower() and "https://" not in html.replace("https://fastapi.tiangolo.com", "")
        assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', html)
        assert assets, html
        for asset in assets:
            r = api.client.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000, asset
