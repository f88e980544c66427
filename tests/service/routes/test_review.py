"""PUT /actas/{id}/review: corrections change /results and leave audit records; mesa conflicts."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.schema import ActaReading
from service.models import Mesa
from service.models import Role as R
from tests.service.conftest import SAMPLE, Api
from tests.service.inputs import reencode_jpeg, with_a_digit_erased

RUNOFF_TOTALS = ("bo2025-runoff", "presidente")


def results(api: Api) -> dict[str, Any]:
    r = api.client.get("/results", headers=api.headers(R.reader))
    assert r.status_code == 200, r.text
    return dict(r.json())


def runoff(res: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in res["templates"] if t["template"] == "bo2025-runoff")


def review(api: Api, acta_id: str, body: dict[str, Any], role: R = R.reviewer) -> Any:
    return api.client.put(f"/actas/{acta_id}/review", json=body, headers=api.headers(role))


def test_review_changes_results_and_leaves_an_audit_record(api: Api, sample_bytes: bytes) -> None:
    doc = api.upload(sample_bytes).json()
    acta_id, machine = doc["acta_id"], doc["counts"]["presidente"]
    before = runoff(results(api))
    pdc, libre = machine["PDC"] or 0, machine["LIBRE"]
    assert before["totals"]["presidente"]["PDC"] == pdc

    r = review(
        api,
        acta_id,
        {
            "fields": [{"field": "presidente.PDC", "value": pdc + 7}, {"field": "presidente.LIBRE", "value": libre}],
            "note": "paper checked",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # The machine reading is never overwritten; the record holds the reviewed values.
    assert body["counts"]["presidente"]["PDC"] == machine["PDC"]
    assert {k: v for k, v in body.items() if k != "record"} == {k: v for k, v in doc.items() if k != "record"}
    assert body["record"]["counts"]["presidente"]["PDC"] == pdc + 7
    trail = body["record"]["reviews"]
    assert [(e["action"], e["field"], e["old_value"], e["new_value"], e["reviewer"]) for e in trail] == [
        ("correct", "presidente.PDC", machine["PDC"], pdc + 7, "test-reviewer"),
        ("confirm", "presidente.LIBRE", libre, libre, "test-reviewer"),
    ]
    assert all(e["note"] == "paper checked" and e["at"] for e in trail)

    after = runoff(results(api))
    assert after["totals"]["presidente"]["PDC"] == pdc + 7
    assert after["fields"]["reviewed"] == 2
    assert after["fields"]["reviewed"] + after["fields"]["waiting_review"] + after["fields"]["machine_read"] == 8
    # The reviewed PDC no longer sums to the valid votes: the total now waits for a person, whatever the
    # machine thought of it, while the two fields a reviewer gave values for do not.
    states = {f["field"]: f for f in body["record"]["fields"]}
    assert not next(c for c in body["record"]["checks"] if "PDC" in " ".join(c["fields"]))["ok"]
    assert states["presidente.VOTOS_VALIDOS"]["waiting_review"]
    assert not states["presidente.PDC"]["waiting_review"] and not states["presidente.LIBRE"]["waiting_review"]
    assert after["fields"]["waiting_review"] == sum(f["waiting_review"] for f in states.values())

    # A second review of the same field records the reviewed value as the old one.
    r = review(api, acta_id, {"fields": [{"field": "presidente.PDC", "value": pdc}]})
    last = r.json()["record"]["reviews"][-1]
    assert (last["action"], last["old_value"], last["new_value"]) == ("confirm", pdc + 7, pdc)
    assert runoff(results(api))["totals"]["presidente"]["PDC"] == pdc


def test_reviewing_every_field_clears_the_flag(api: Api, sample_bytes: bytes) -> None:
    doc = api.upload(sample_bytes).json()
    fields = [{"field": f["field"], "value": f["machine_value"]} for f in doc["record"]["fields"]]
    body = review(api, doc["acta_id"], {"fields": fields}).json()
    assert body["record"]["needs_review"] is False
    res = results(api)
    assert res["flagged"] == 0 and res["fields"]["waiting_review"] == 0 and res["fields"]["reviewed"] == 8
    flagged = api.client.get("/actas", params={"needs_review": True}, headers=api.headers(R.reader)).json()
    assert flagged["total"] == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"fields": [{"field": "presidente.NOPE", "value": 1}]}, 422, "unknown_field"),
        ({"fields": [{"field": "presidente.PDC", "value": 1000}]}, 422, "value_out_of_range"),
        ({"fields": [{"field": "presidente.PDC", "value": -1}]}, 422, "invalid_request"),
        ({"fields": []}, 422, "invalid_request"),
        ({"keep_for_mesa": True}, 409, "not_in_conflict"),
    ],
)
def test_invalid_reviews_change_nothing(
    api: Api, sample_bytes: bytes, body: dict[str, Any], status: int, code: str
) -> None:
    doc = api.upload(sample_bytes).json()
    # A valid change first in the same request must not survive the invalid one after it.
    if body.get("fields"):
        body = {"fields": [{"field": "presidente.LIBRE", "value": 1}, *body["fields"]]}
    r = review(api, doc["acta_id"], body)
    assert r.status_code == status and r.json()["code"] == code, r.text
    after = api.client.get(f"/actas/{doc['acta_id']}", headers=api.headers(R.reader)).json()
    assert after["record"] == doc["record"]


def test_review_unknown_acta(api: Api) -> None:
    r = review(api, "a" * 64, {"fields": [{"field": "presidente.PDC", "value": 1}]})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_a_rescan_read_the_same_is_one_acta_counted_once(api: Api, sample_bytes: bytes) -> None:
    """The same paper scanned again (new bytes: a re-encoding) reads the same on every field: it is one
    more scan of the stored acta, counted once, no conflict; GET by either file's sha256 finds it."""
    first = api.upload(sample_bytes).json()
    rescan_bytes = reencode_jpeg(SAMPLE, quality=80)
    r = api.upload(rescan_bytes, name="rescan.jpg")
    assert r.status_code == 200 and r.headers["x-actas-upload"] == "rescan", r.text
    again = r.json()
    assert again["acta_id"] == first["acta_id"] and again["record"]["status"] == "counted"
    rescan_id = hashlib.sha256(rescan_bytes).hexdigest()
    assert [s["sha256"] for s in again["record"]["scans"]] == [first["acta_id"], rescan_id]
    assert again["record"]["conflicts_with"] == [] and again["record"]["near_duplicates"] == []
    res = results(api)
    assert (res["actas"], res["counted"], res["in_conflict"]) == (1, 1, 0)
    assert runoff(res)["totals"]["presidente"] == {k: v or 0 for k, v in first["counts"]["presidente"].items()}
    h = api.headers(R.reader)
    assert api.client.get(f"/actas/{rescan_id}", headers=h).json()["acta_id"] == first["acta_id"]
    assert api.client.get(f"/actas/{rescan_id}/scan", headers=h).content == rescan_bytes
    assert api.upload(rescan_bytes).headers["x-actas-upload"] == "same_bytes"
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(select(Mesa.template, Mesa.code, Mesa.scans)).all() == [("bo2025-runoff", "100055-1", 2)]


def test_two_scans_of_one_mesa_are_a_conflict_until_resolved(api: Api, sample_bytes: bytes) -> None:
    first = api.upload(sample_bytes).json()
    assert runoff(results(api))["counted"] == 1
    # The same mesa's paper with one digit gone: it reads differently, so the two are in conflict.
    changed = with_a_digit_erased(SAMPLE, ActaReading.model_validate({k: v for k, v in first.items() if k != "record"}))
    second = api.upload(changed, name="rescan.jpg").json()
    assert second["acta_id"] != first["acta_id"] and second["mesa_code"] == first["mesa_code"] == "100055-1"
    assert second["counts"] != first["counts"]
    assert second["record"]["near_duplicates"] == [first["acta_id"]]  # the perceptual hash sees the same paper
    assert second["record"]["status"] == "conflict"
    assert second["record"]["conflicts_with"] == [first["acta_id"]]
    h = api.headers(R.reader)
    first_now = api.client.get(f"/actas/{first['acta_id']}", headers=h).json()["record"]
    assert first_now["status"] == "conflict" and first_now["conflicts_with"] == [second["acta_id"]]

    res = results(api)
    assert (res["actas"], res["counted"], res["in_conflict"], res["excluded"]) == (2, 0, 2, 2)
    assert runoff(res)["totals"] == {}  # left out of the totals until resolved
    listed = api.client.get("/actas", params={"status": "conflict"}, headers=h).json()
    assert listed["total"] == 2

    # An operator may not resolve it; a reviewer keeps the second scan.
    assert review(api, second["acta_id"], {"keep_for_mesa": True}, role=R.operator).status_code == 403
    r = review(api, second["acta_id"], {"keep_for_mesa": True, "note": "better scan"})
    assert r.status_code == 200, r.text
    kept = r.json()["record"]
    assert kept["status"] == "counted" and kept["conflicts_with"] == []
    assert [(e["action"], e["old_status"], e["new_status"]) for e in kept["reviews"]] == [
        ("keep", "conflict", "counted")
    ]
    gone = api.client.get(f"/actas/{first['acta_id']}", headers=h).json()["record"]
    assert gone["status"] == "superseded"
    assert [(e["action"], e["old_status"], e["new_status"], e["reviewer"]) for e in gone["reviews"]] == [
        ("supersede", "conflict", "superseded", "test-reviewer")
    ]

    res = results(api)
    assert (res["actas"], res["counted"], res["superseded"], res["excluded"]) == (2, 1, 1, 1)
    assert runoff(res)["totals"]["presidente"] == {k: v or 0 for k, v in second["counts"]["presidente"].items()}

    # The superseded scan takes no field reviews; the same bytes again do not reopen the conflict.
    r = review(api, first["acta_id"], {"fields": [{"field": "presidente.PDC", "value": 1}]})
    assert r.status_code == 409 and r.json()["code"] == "superseded"
    assert api.upload(sample_bytes).json()["record"]["status"] == "superseded"
    assert results(api)["counted"] == 1

    # A reviewer may change their mind: keeping the first supersedes the second.
    r = review(api, first["acta_id"], {"keep_for_mesa": True})
    assert r.status_code == 200 and r.json()["record"]["status"] == "counted"
    assert api.client.get(f"/actas/{second['acta_id']}", headers=h).json()["record"]["status"] == "superseded"
    assert results(api)["counted"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"fields": [{"field": "presidente.PDC", "value": "41"}]},
        {"fields": [{"field": "presidente.PDC", "value": 41.0}]},
        {"fields": [{"field": "presidente.PDC", "value": True}]},
        {"keep_for_mesa": 0},
        {"fields": [{"field": "presidente.PDC", "value": 1}], "extra": 1},
        {"fields": [{"field": "presidente.PDC", "value": 1}, {"field": "presidente.PDC", "value": 2}]},
    ],
)
def test_review_bodies_are_strict(api: Api, body: dict[str, Any]) -> None:
    r = review(api, "a" * 64, body)  # refused before the acta is even looked up
    assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text


def test_a_review_that_keeps_losing_the_race_is_409_with_retry_after(
    api: Api, sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When other reviews keep changing the acta under it, a review gives up after a few tries: 409
    stale_review, Retry-After, nothing written. (Other writers are simulated: every version check fails.)"""
    from service import crud

    doc = api.upload(sample_bytes).json()
    tries: list[int] = []

    def always_stale(*args: object) -> None:
        tries.append(1)
        raise crud._Stale

    monkeypatch.setattr(crud, "_bump", always_stale)
    monkeypatch.setattr(crud.time, "sleep", lambda s: None)
    r = review(api, doc["acta_id"], {"fields": [{"field": "presidente.PDC", "value": 5}]})
    assert r.status_code == 409 and r.json()["code"] == "stale_review" and r.headers["retry-after"] == "1"
    assert len(tries) == crud.REVIEW_ATTEMPTS
    monkeypatch.undo()
    after = api.client.get(f"/actas/{doc['acta_id']}", headers=api.headers(R.reader)).json()
    assert after["record"] == doc["record"]


def test_a_review_of_a_version_no_longer_current_is_409(api: Api, sample_bytes: bytes) -> None:
    doc = api.upload(sample_bytes).json()
    assert doc["record"]["version"] == 1
    body = {"fields": [{"field": "presidente.PDC", "value": 5}], "version": 1}
    first = review(api, doc["acta_id"], body)
    assert first.status_code == 200 and first.json()["record"]["version"] == 2
    r = review(api, doc["acta_id"], {**body, "fields": [{"field": "presidente.PDC", "value": 6}]})
    assert r.status_code == 409 and r.json()["code"] == "stale_version", r.text
