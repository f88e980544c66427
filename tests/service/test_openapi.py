"""The OpenAPI document: exported in the repo and current; a generated Python client works end to end."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx2
import pytest

from actas.cli import main as actas
from pipeline.config import SHIPPED_MODEL
from service.openapi import render
from tests.conftest import REPO
from tests.service.conftest import SAMPLE

BIN = Path(sys.executable).parent
OPERATIONS = {
    "upload_acta",
    "get_acta",
    "list_actas",
    "get_overlay",
    "get_scan",
    "review_acta",
    "get_results",
    "list_templates",
    "health",
    "ready",
}


def test_exported_spec_is_current() -> None:
    exported = (REPO / "openapi.json").read_text(encoding="utf-8")
    assert exported == render(), "openapi.json is stale: run `python -m service.openapi > openapi.json`"


def test_spec_names_operations_and_documents_errors() -> None:
    import json

    spec = json.loads(render())
    ops = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert set(ops) == OPERATIONS
    assert all(op.get("tags") for op in ops.values())
    upload = ops["upload_acta"]["responses"]
    for status in ("401", "403", "413", "415", "422"):
        assert upload[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # every 422 is the one error body
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """uvicorn on loopback in a subprocess, SQLite in a temp dir, the shipped model; (url, operator key)."""
    tmp = tmp_path_factory.mktemp("live")
    db = f"sqlite:///{tmp / 'actas.db'}"
    key_file = tmp / "key.txt"
    env = {**os.environ, "ACTAS_DATABASE_URL": db, "ACTAS_MODEL_PATH": str(SHIPPED_MODEL), "ACTAS_PREFER_GPU": "0"}
    created = subprocess.run(
        [str(BIN / "actas"), "keys", "create", "client-test", "--role", "reviewer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key_file.write_text(created.stdout.strip())
    port = free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp / "server.log").read_text()
            try:
                if httpx2.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready in 90 s"
            time.sleep(0.3)
        yield url, key_file.read_text()
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("client") / "actas_client"
    gen = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(REPO / "openapi.json"),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--config",
            str(Path(__file__).with_name("openapi-client.yaml")),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gen.returncode == 0, gen.stdout + gen.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module("actas_client")
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == "actas_client" or m.startswith("actas_client.")]:
            del sys.modules[name]


def test_generated_client_uploads_a_real_acta(live_server: tuple[str, str], client_package: Any) -> None:
    url, key = live_server
    api = importlib.import_module("actas_client.api.actas")
    results_api = importlib.import_module("actas_client.api.results.get_results")
    models = importlib.import_module("actas_client.models")
    types = importlib.import_module("actas_client.types")
    upload = importlib.import_module("actas_client.api.actas.upload_acta")
    get_acta = importlib.import_module("actas_client.api.actas.get_acta")
    get_overlay = importlib.import_module("actas_client.api.actas.get_overlay")
    assert api is not None

    client = client_package.AuthenticatedClient(
        base_url=url, token=key, prefix="", auth_header_name="X-API-Key", timeout=120
    )
    data = SAMPLE.read_bytes()
    body = models.BodyUploadActa(file=types.File(payload=BytesIO(data), file_name=SAMPLE.name, mime_type="image/jpeg"))
    with client as c:
        first = upload.sync_detailed(client=c, body=body)
        assert first.status_code == 201, first.content
        doc = first.parsed
        assert isinstance(doc, models.ActaDocument)
        assert doc.mesa_code == "100055-1" and doc.template == "bo2025-runoff" and len(doc.fields) == 8
        assert doc.record.status == models.ActaStatus.COUNTED and doc.record.uploaded_by == "client-test"

        body = models.BodyUploadActa(file=types.File(payload=BytesIO(data), file_name="again.jpg"))
        again = upload.sync_detailed(client=c, body=body)
        assert again.status_code == 200 and again.parsed.acta_id == doc.acta_id

        fetched = get_acta.sync(doc.acta_id, client=c)
        assert isinstance(fetched, models.ActaDocument) and fetched.to_dict() == doc.to_dict()
        overlay = get_overlay.sync(doc.acta_id, client=c)
        assert isinstance(overlay, types.File) and overlay.payload.read(8) == b"\x89PNG\r\n\x1a\n"
        totals = results_api.sync(client=c)
        assert isinstance(totals, models.Results) and totals.actas == 1 and totals.counted == 1

        bad = upload.sync_detailed(
            client=c, body=models.BodyUploadActa(file=types.File(payload=BytesIO(b"plain text"), file_name="x.txt"))
        )
        assert bad.status_code == 415 and isinstance(bad.parsed, models.ErrorBody)
        assert bad.parsed.code == "unsupported_media_type"

    anonymous = client_package.Client(base_url=url)
    refused = upload.sync_detailed(
        client=anonymous, body=models.BodyUploadActa(file=types.File(payload=BytesIO(data), file_name="x.jpg"))
    )
    assert refused.status_code == 401 and refused.parsed.code == "missing_key"


def test_cli_reads_keys_from_the_same_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`actas keys` and the server agree on where keys live (ACTAS_DATABASE_URL)."""
    db = f"sqlite:///{tmp_path / 'k.db'}"
    assert actas(["keys", "create", "x", "--role", "reader", "--database-url", db]) == 0
    assert actas(["keys", "list", "--database-url", db]) == 0
    assert "x" in capsys.readouterr().out
