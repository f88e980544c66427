"""`actas keys create|list|revoke` and `actas serve`'s options."""

from __future__ import annotations

from pathlib import Path

import pytest

from actas.cli import build_parser, main
from service.models import Role
from tests.service.conftest import MemoReader, start_api


def test_keys_create_list_revoke(
    database_url: str, service_reader: MemoReader, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", database_url]
    assert main(["keys", "create", "ana", "--role", "reviewer", *db]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("actas_") and len(key) > 40 and "shown only this once" in err

    assert main(["keys", "create", "ana", "--role", "reader", *db]) == 2  # names are never reused
    assert "exists" in capsys.readouterr().err
    assert main(["keys", "create", "bad name!", "--role", "reader", *db]) == 2

    assert main(["keys", "list", *db]) == 0
    listing = capsys.readouterr().out
    assert "ana" in listing and "reviewer" in listing and key not in listing

    for api in start_api(database_url, service_reader):
        assert api.client.get("/actas", headers={"X-API-Key": key}).status_code == 200
        assert main(["keys", "revoke", "ana", *db]) == 0
        assert api.client.get("/actas", headers={"X-API-Key": key}).status_code == 401
    assert main(["keys", "revoke", "ana", *db]) == 1  # already revoked
    assert "no active key" in capsys.readouterr().err


def test_keys_with_an_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    assert main(["keys", "list", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actas keys: error: database") and "Traceback" not in err


def test_role_choices_and_serve_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "3"])
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)
    with pytest.raises(SystemExit):
        parser.parse_args(["keys", "create", "x", "--role", "admin"])
    assert {a.value for a in Role} == {"reader", "operator", "reviewer"}


def test_serve_without_a_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTAS_MODEL_PATH", "/nonexistent/model.onnx")
    assert main(["serve", "--port", "0"]) == 2
    assert "not found" in capsys.readouterr().err


def test_serve_tells_how_to_get_a_first_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    started: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    db = ["--database-url", f"sqlite:///{tmp_path / 'a.db'}"]
    assert main(["serve", "--port", "8123", *db]) == 0
    assert started["app"] == "service.app:app" and started["port"] == 8123 and started["workers"] == 1
    assert "actas keys create admin --role reviewer" in capsys.readouterr().err
    assert main(["keys", "create", "admin", "--role", "reviewer", *db]) == 0
    capsys.readouterr()
    assert main(["serve", "--port", "8123", *db]) == 0
    assert "no API keys yet" not in capsys.readouterr().err
