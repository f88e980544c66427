"""GET /results: totals per form over counted actas; a setting opens it to the public."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.models import Role
from tests.service.conftest import GENERAL, SAMPLE, Api, MemoReader, start_api


def test_totals_per_form_match_the_readings(api: Api) -> None:
    docs = [api.upload(p.read_bytes()).json() for p in (*GENERAL, SAMPLE)]
    res = api.client.get("/results", headers=api.headers(Role.reader)).json()
    assert (res["actas"], res["counted"], res["excluded"]) == (2, 2, 0)
    assert [t["template"] for t in res["templates"]] == ["bo2025-general", "bo2025-runoff"]
    for doc, tpl in zip(docs, res["templates"], strict=True):
        assert tpl["totals"] == {s: {k: v or 0 for k, v in keys.items()} for s, keys in doc["counts"].items()}
        assert tpl["counted"] == 1 and tpl["flagged"] == int(doc["record"]["needs_review"])
        waiting = sum(f["waiting_review"] for f in doc["record"]["fields"])
        assert tpl["fields"] == {"machine_read": len(doc["fields"]) - waiting, "reviewed": 0, "waiting_review": waiting}
    only = api.client.get("/results", params={"template": "bo2025-runoff"}, headers=api.headers(Role.reader)).json()
    assert [t["template"] for t in only["templates"]] == ["bo2025-runoff"] and only["actas"] == 1


def test_empty(api: Api) -> None:
    res = api.client.get("/results", headers=api.headers(Role.reader)).json()
    assert res["actas"] == 0 and res["templates"] == []
    assert res["fields"] == {"machine_read": 0, "reviewed": 0, "waiting_review": 0}


@pytest.fixture
def public_api(database_url: str, service_reader: MemoReader) -> Iterator[Api]:
    yield from start_api(database_url, service_reader, public_results=True)


def test_public_results_setting(public_api: Api) -> None:
    assert public_api.client.get("/results").status_code == 200
    assert public_api.client.get("/results", headers={"X-API-Key": "actas_bad"}).status_code == 401
    # Only the totals: actas themselves and the scans still need a key.
    assert public_api.client.get("/actas").status_code == 401
    # Closed by default: see test_security.
