"""The review pages over HTTP (no browser): sessions, cross-site refusals, roles, queue, totals, seconds."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from pipeline.schema import ActaReading
from service.db import session_factory
from service.models import ApiKey, ReviewSession, Role
from service.security import revoke_key
from tests.review.conftest import BROKEN, ORIGIN, OTHERS, csrf_of, sign_in
from tests.service.conftest import SAMPLE, Api
from tests.service.inputs import with_a_digit_erased

ELECTORES = "mesa.ELECTORES_HABILITADOS"


def _upload(api: Api, path: object) -> str:
    r = api.upload(path.read_bytes())  # type: ignore[attr-defined]
    assert r.status_code == 201, r.text
    return str(r.json()["acta_id"])


def _review(api: Api, acta_id: str, csrf: str | None, origin: str | None = ORIGIN, **body: object) -> int:
    headers = {"Content-Type": "application/json"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    if origin:
        headers["Origin"] = origin
    payload = body or {"fields": [{"field": ELECTORES, "value": 264, "seconds": 4.5}]}
    r = api.client.post(f"/review/actas/{acta_id}/review", json=payload, headers=headers)
    return r.status_code


def test_pages_without_a_session_redirect_to_the_login(api: Api) -> None:
    for path in ("/review", "/review/queue", "/review/totals", "/review/actas/" + "0" * 64):
        r = api.client.get(path, follow_redirects=True)
        assert r.url.path == "/review/login", path
        assert 'name="api_key"' in r.text
    r = api.client.get("/review/totals?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login?next=%2Freview%2Ftotals%3Fx%3D1"


def test_sign_in_sets_a_strict_httponly_cookie_holding_only_a_token(api: Api) -> None:
    form = api.client.get("/review/login")
    r = api.client.post(
        "/review/login",
        data={"api_key": api.keys[Role.reviewer], "csrf": csrf_of(form.text), "next": "//evil.example/x"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review/queue"  # never off-site
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("actas_review="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/review" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert api.keys[Role.reviewer] not in cookie
    with session_factory(api.client.app.state.engine)() as session:  # type: ignore[attr-defined]
        stored = session.scalars(select(ReviewSession.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64  # its sha256


def test_a_wrong_key_or_a_forged_login_is_refused(api: Api) -> None:
    form = api.client.get("/review/login")
    r = api.client.post(
        "/review/login", data={"api_key": "actas_nope", "csrf": csrf_of(form.text)}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 401 and "unknown or revoked" in r.text
    r = api.client.post(
        "/review/login", data={"api_key": api.keys[Role.reviewer], "csrf": "forged"}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    r = api.client.post(
        "/review/login",
        data={"api_key": api.keys[Role.reviewer], "csrf": csrf_of(form.text)},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403 and r.json()["code"] == "cross_site"


def test_cross_site_and_tokenless_writes_are_refused_even_with_the_cookie(api: Api) -> None:
    acta_id = _upload(api, BROKEN)
    csrf = sign_in(api.client, api.keys[Role.reviewer])
    assert _review(api, acta_id, csrf, origin="http://evil.example") == 403  # another site
    assert _review(api, acta_id, csrf, origin=None) == 403  # neither Origin nor Referer
    assert _review(api, acta_id, None) == 403  # no CSRF token
    wrong = ("y" if csrf[0] == "x" else "x") + csrf[1:]  # (a token that began with "x" once made this flaky)
    assert _review(api, acta_id, wrong) == 403  # a wrong one
    assert api.client.get(f"/actas/{acta_id}", headers=api.headers(Role.reader)).json()["record"]["reviews"] == []
    r = api.client.post(f"/review/actas/{acta_id}/keep", data={"csrf": csrf}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["code"] == "cross_site"
    assert _review(api, acta_id, csrf) == 200  # the same request from this site, with its token


def test_a_reader_sees_actas_and_totals_but_cannot_correct(api: Api) -> None:
    acta_id = _upload(api, BROKEN)
    csrf = sign_in(api.client, api.keys[Role.reader])
    page = api.client.get(f"/review/actas/{acta_id}")
    assert page.status_code == 200 and 'id="readonly"' in page.text and 'class="value"' not in page.text
    assert api.client.get("/review/totals").status_code == 200
    assert _review(api, acta_id, csrf) == 403
    r = api.client.post(f"/review/actas/{acta_id}/keep", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_sign_out_and_revoking_the_key_end_the_session(api: Api) -> None:
    csrf = sign_in(api.client, api.keys[Role.reviewer])
    r = api.client.post("/review/logout", data={"csrf": csrf}, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert r.status_code == 303
    assert api.client.get("/review/queue", follow_redirects=False).status_code == 303
    sign_in(api.client, api.keys[Role.reviewer])
    with session_factory(api.client.app.state.engine)() as session:  # type: ignore[attr-defined]
        assert revoke_key(session, "test-reviewer")
        session.commit()
        assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.name == "test-reviewer")) is not None
    assert api.client.get("/review/queue", follow_redirects=False).status_code == 303


def test_queue_order_filters_seconds_history_and_totals(api: Api) -> None:
    others = [_upload(api, path) for path in OTHERS]
    broken = _upload(api, BROKEN)
    csrf = sign_in(api.client, api.keys[Role.reviewer])
    h = api.headers(Role.reader)
    waiting = [a for a in others if api.client.get(f"/actas/{a}", headers=h).json()["record"]["needs_review"]]
    assert waiting, "expected another runoff scan waiting"
    page = api.client.get("/review/queue").text
    assert all(page.index(a) > page.index(broken) for a in waiting)  # the broken rule first, though uploaded last
    assert f'id="waiting-actas">{1 + len(waiting)}<' in page
    only = api.client.get("/review/queue", params={"mesa": "10001"}).text
    assert broken in only and not any(a in only for a in waiting)
    assert broken not in api.client.get("/review/queue", params={"form": "bo2025-general"}).text

    before = api.client.get(f"/actas/{broken}", headers=api.headers(Role.reader)).json()
    read = next(f["value"] for f in before["record"]["fields"] if f["field"] == ELECTORES)
    assert read != 264  # misread (267 by the MNIST-only model, 262 by the real-digit one)
    assert _review(api, broken, csrf) == 200
    doc = api.client.get(f"/actas/{broken}", headers=api.headers(Role.reader)).json()
    (entry,) = doc["record"]["reviews"]
    assert entry["field"] == ELECTORES and entry["old_value"] == read and entry["new_value"] == 264
    assert entry["seconds"] == 4.5 and entry["reviewer"] == "test-reviewer"
    screen = api.client.get(f"/review/actas/{broken}").text
    assert f"{read} → 264" in screen and "4.5" in screen
    assert 'id="reviewed-today">1<' in api.client.get("/review/queue").text

    rows = list(csv.DictReader(io.StringIO(api.client.get("/review/totals.csv").text)))
    got = {(r["template"], r["section"], r["key"]): int(r["total"]) for r in rows}
    elsewhere: dict[str, int] = {}  # totals are per form
    for a in others:
        doc = api.client.get(f"/actas/{a}", headers=h).json()
        value = next(f["value"] for f in doc["record"]["fields"] if f["field"] == ELECTORES)
        elsewhere[doc["template"]] = elsewhere.get(doc["template"], 0) + value
    assert got[("bo2025-runoff", "mesa", "ELECTORES_HABILITADOS")] == 264 + elsewhere["bo2025-runoff"]
    assert got[("bo2019-general", "mesa", "ELECTORES_HABILITADOS")] == elsewhere["bo2019-general"]


def test_the_crop_is_the_fields_boxes_at_the_scans_resolution(api: Api) -> None:
    import cv2
    import numpy as np

    acta_id = _upload(api, BROKEN)
    sign_in(api.client, api.keys[Role.reader])
    doc = api.client.get(f"/actas/{acta_id}", headers=api.headers(Role.reader)).json()
    field = next(f for f in doc["fields"] if f"{f['section']}.{f['key']}" == ELECTORES)
    r = api.client.get(f"/review/actas/{acta_id}/crop/{ELECTORES}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    crop = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None
    xs = [d["box"][0] for d in field["digits"]] + [d["box"][0] + d["box"][2] for d in field["digits"]]
    ys = [d["box"][1] for d in field["digits"]] + [d["box"][1] + d["box"][3] for d in field["digits"]]
    assert (
        crop.shape[1] == max(xs) - min(xs) + 16 and crop.shape[0] == max(ys) - min(ys) + 16
    )  # 8 px margin, no resampling
    scan = cv2.imdecode(np.frombuffer(BROKEN.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert scan is not None
    assert np.array_equal(crop, scan[min(ys) - 8 : max(ys) + 8, min(xs) - 8 : max(xs) + 8])


@pytest.mark.parametrize("path", ["/review/static/acta.js", "/review/static/review.css"])
def test_static_files_ship_in_the_package(api: Api, path: str) -> None:
    assert api.client.get(path).status_code == 200


def test_a_mesa_conflict_side_by_side_and_keep_one(api: Api) -> None:
    first = api.upload(SAMPLE.read_bytes()).json()
    reading = ActaReading.model_validate({k: v for k, v in first.items() if k != "record"})
    second = api.upload(with_a_digit_erased(SAMPLE, reading), name="rescan.jpg").json()
    assert second["record"]["status"] == "conflict"
    broken = _upload(api, BROKEN)
    csrf = sign_in(api.client, api.keys[Role.reviewer])
    queue = api.client.get("/review/queue").text
    assert 'id="conflicts">2<' in queue
    assert queue.index(first["acta_id"]) < queue.index(broken)  # conflicts before broken rules
    page = api.client.get(f"/review/actas/{first['acta_id']}/conflict").text
    assert page.count('class="card scan-card conflict"') == 2 and page.count("Conservar este") == 2
    r = api.client.post(
        f"/review/actas/{second['acta_id']}/keep",
        data={"csrf": csrf, "note": "mejor escaneo"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert r.status_code == 303
    h = api.headers(Role.reader)
    assert api.client.get(f"/actas/{second['acta_id']}", headers=h).json()["record"]["status"] == "counted"
    assert api.client.get(f"/actas/{first['acta_id']}", headers=h).json()["record"]["status"] == "superseded"
    assert first["acta_id"] not in api.client.get("/review/queue").text


def test_a_written_note_is_shown_first_with_its_crop(api: Api) -> None:
    import cv2
    import numpy as np

    noted = _upload(api, SAMPLE)  # "el conteo de papeletas ... son 241, teniendo que ser 240 ... corre y vale"
    quiet = _upload(api, OTHERS[0])  # nothing written under OBSERVACIONES
    sign_in(api.client, api.keys[Role.reader])
    assert 'id="note"' in api.client.get(f"/review/actas/{noted}").text
    assert 'id="note"' not in api.client.get(f"/review/actas/{quiet}").text
    doc = api.client.get(f"/actas/{noted}", headers=api.headers(Role.reader)).json()
    assert doc["notes"]["written"] and all("note_written" in f["reason_codes"] for f in doc["fields"])
    r = api.client.get(f"/review/actas/{noted}/notes.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    crop = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = doc["notes"]["box"]
    scan = cv2.imdecode(np.frombuffer(SAMPLE.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and scan is not None
    assert np.array_equal(crop, scan[y - 8 : y + h + 8, x - 8 : x + w + 8])  # the box, 8 px around, not resampled
    assert api.client.get(f"/review/actas/{'0' * 64}/notes.png").status_code == 404
