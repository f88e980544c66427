"""Review page fixtures: the service's app and reader (tests/service/conftest.py), signed-in clients,
and for the browser tests a live server on loopback and Debian's Chromium."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import session_factory
from service.models import Role
from service.security import create_key
from tests.conftest import ACTAS
from tests.service.conftest import (  # noqa: F401  (fixtures used by name)
    Api,
    MemoReader,
    api,
    database_url,
    make_settings,
    pg_database,
    service_reader,
)

RUNOFF = ACTAS / "bo2025-runoff"
# A real flagged acta: 100014 breaks a rule (99 + 164 = 263 ballots; 264 electors written, misread), with
# the rule's fields and PDC (a box border not found) waiting. OTHERS: a runoff scan the real-digit model
# reads clean, and a 2019 scan that waits with every rule holding (a VOTOS_NULOS box border not found),
# for "the next acta" (the runoff scans that used to wait for low confidence no longer do).
BROKEN = RUNOFF / "mesa_100014.jpg"
OTHERS = (RUNOFF / "mesa_5018381.jpg", ACTAS / "bo2019-general" / "mesa_21088.jpg")
CHROMIUM = Path("/usr/bin/chromium")
ORIGIN = "http://testserver"  # TestClient's host


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    form = client.get("/review/login")
    r = client.post(
        "/review/login",
        data={"api_key": key, "csrf": csrf_of(form.text), "next": "/review/queue"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/review/queue").text)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, never a downloaded one (`scripts/ensure_chromium.sh` installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh", pytrace=False)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


class LiveServer:
    def __init__(self, url: str, keys: dict[Role, str], app: Any) -> None:
        self.url, self.keys, self.app = url, keys, app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(service_reader: MemoReader, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:  # noqa: F811
    """The app on a real socket (a browser needs one), SQLite, one key per role."""
    db = tmp_path_factory.mktemp("review") / "actas.db"
    app = create_app(make_settings(f"sqlite:///{db}", log_level="WARNING"), reader=service_reader)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start", pytrace=False)
        time.sleep(0.05)
    with session_factory(app.state.engine)() as session:
        keys = {role: create_key(session, f"page-{role.value}", role) for role in Role}
        session.commit()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", keys, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
