"""One JSON log line per request, with the acta id and the reading's timings, and no personal data."""

from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter
from service.models import Role
from tests.service.conftest import Api


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_request_lines(api: Api, sample_bytes: bytes) -> None:
    handler = Lines()
    access = logging.getLogger("actas.access")
    access.addHandler(handler)
    try:
        acta_id = api.upload(sample_bytes, name="Juan_Perez_CI_1234567.jpg").json()["acta_id"]
        api.client.get("/actas", headers=api.headers(Role.reader))
        api.upload(b"not an image")
    finally:
        access.removeHandler(handler)
    upload, listing, refused = (json.loads(line) for line in handler.lines)
    assert upload["event"] == "request" and upload["status"] == 201 and upload["acta_id"] == acta_id
    assert upload["created"] is True and upload["key_name"] == "test-operator"
    assert set(upload["timings_ms"]) >= {"decode", "register", "total"} and upload["ms"] > 0
    assert listing["path"] == "/actas" and listing["status"] == 200
    assert refused["status"] == 415 and refused["error_code"] == "unsupported_media_type"
    text = "\n".join(handler.lines)
    assert "Juan_Perez" not in text and "1234567" not in text and "testclient" not in text  # no names, no client
    assert api.keys[Role.operator] not in text
