"""Who may do what: 401 without a valid key, 403 for the wrong role; keys hashed at rest."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from sqlalchemy import select

from service.models import ApiKey, Role
from service.security import Principal, hash_key, revoke_key
from tests.service.conftest import Api

A = "0" * 64
REVIEW = {"fields": [{"field": "presidente.PDC", "value": 1}]}

# (name, request, least role allowed); an allowed call on an unknown acta answers 404, a refused one 401/403.
CALLS: list[tuple[str, Callable[[Api, dict[str, str]], httpx2.Response], Role]] = [
    (
        "upload",
        lambda api, h: api.client.post("/actas", files={"file": ("x.txt", b"not an image")}, headers=h),
        Role.operator,
    ),
    ("review", lambda api, h: api.client.put(f"/actas/{A}/review", json=REVIEW, headers=h), Role.reviewer),
    ("get", lambda api, h: api.client.get(f"/actas/{A}", headers=h), Role.reader),
    ("list", lambda api, h: api.client.get("/actas", headers=h), Role.reader),
    ("overlay", lambda api, h: api.client.get(f"/actas/{A}/overlay.png", headers=h), Role.reader),
    ("scan", lambda api, h: api.client.get(f"/actas/{A}/scan", headers=h), Role.reader),
    ("results", lambda api, h: api.client.get("/results", headers=h), Role.reader),
]


def test_each_role_is_refused_what_it_may_not_do(api: Api) -> None:
    for name, call, least in CALLS:
        r = call(api, {})
        assert r.status_code == 401 and r.json()["code"] == "missing_key", name
        r = call(api, {"X-API-Key": "actas_" + "x" * 43})
        assert r.status_code == 401 and r.json()["code"] == "invalid_key", name
        for role in Role:
            r = call(api, api.headers(role))
            if role.rank < least.rank:
                assert r.status_code == 403 and r.json()["code"] == "forbidden", (name, role)
            else:
                assert r.status_code not in (401, 403), (name, role, r.text)


def test_revoked_key_is_refused(api: Api) -> None:
    sessions = api.client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        assert revoke_key(session, "test-reader")
        session.commit()
    r = api.client.get("/actas", headers=api.headers(Role.reader))
    assert r.status_code == 401 and r.json()["code"] == "invalid_key"


def test_keys_are_stored_hashed(api: Api) -> None:
    sessions = api.client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        rows = session.scalars(select(ApiKey)).all()
    stored = {r.key_hash for r in rows}
    for key in api.keys.values():
        assert key not in stored and hash_key(key) in stored
        assert not any(key in str(getattr(r, c)) for r in rows for c in ("name", "prefix", "key_hash"))


@pytest.mark.parametrize(
    ("role", "needed", "ok"),
    [
        (Role.reader, Role.reader, True),
        (Role.reader, Role.operator, False),
        (Role.operator, Role.operator, True),
        (Role.operator, Role.reviewer, False),
        (Role.reviewer, Role.operator, True),
        (Role.reviewer, Role.reviewer, True),
    ],
)
def test_role_order(role: Role, needed: Role, ok: bool) -> None:
    assert Principal("k", role).may(needed) is ok
