"""GET /templates."""

from __future__ import annotations

from tests.service.conftest import Api


def test_templates_list_the_forms(api: Api) -> None:
    body = api.client.get("/templates").json()
    by_id = {t["id"]: t for t in body}
    assert set(by_id) == {"bo2019-general", "bo2020-general", "bo2025-general", "bo2025-runoff"}
    runoff = by_id["bo2025-runoff"]
    assert runoff["variants"] == ["A1", "A3"] and len(runoff["rules"]) == 3
    assert runoff["fields"][0] == {
        "field": "presidente.PDC",
        "section": "presidente",
        "key": "PDC",
        "label": "PDC",
        "digits": 3,
    }
