"""The review page in headless Chromium (Debian's): what issue 16 must show, keyboard only.

One live server (SQLite) and one browser for the module. Screenshots of the queue, the acta screen
(the scan blurred: it shows jurors' names) and the totals page go to docs/review/.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx2
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect

from service.models import Role
from tests.review.conftest import BROKEN, OTHERS, LiveServer
from tests.service.conftest import SAMPLE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "review"
MAX_PNG = 300 * 1024
ELECTORES = "mesa.ELECTORES_HABILITADOS"
VIEWPORT: ViewportSize = {"width": 1280, "height": 820}


def _upload(live: LiveServer, path: Path) -> dict:
    r = httpx2.post(
        f"{live.url}/actas",
        files={"file": (path.name, path.read_bytes(), "image/jpeg")},
        headers={"X-API-Key": live.keys[Role.operator]},
        timeout=120,
    )
    assert r.status_code in (200, 201), r.text  # 200: stored by the other test already
    return dict(r.json())


def _api(live: LiveServer, path: str) -> dict:
    r = httpx2.get(f"{live.url}{path}", headers={"X-API-Key": live.keys[Role.reader]}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _sign_in(page: Page, live: LiveServer, role: Role) -> None:
    page.goto(f"{live.url}/review/queue")
    expect(page).to_have_url(f"{live.url}/review/login?next=%2Freview%2Fqueue")  # no session: the login
    page.keyboard.type(live.keys[role])  # the key box has the focus
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live.url}/review/queue")


def _shot(page: Page, name: str) -> None:
    """A small PNG: the page as a 128-colour palette image (these are flat UI colours but for the scan)."""
    raw = page.screenshot(full_page=False)
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=128)
    DOCS.mkdir(parents=True, exist_ok=True)
    out = DOCS / name
    image.save(out, optimize=True)
    assert out.stat().st_size < MAX_PNG, f"{name} is {out.stat().st_size} bytes"


def test_a_reviewer_corrects_one_field_and_confirms_the_rest_with_the_keyboard(
    browser: Browser, live: LiveServer
) -> None:
    broken = _upload(live, BROKEN)
    others = [_upload(live, path) for path in OTHERS]
    waiting = [o for o in others if o["record"]["needs_review"]]
    assert len(waiting) == 1, "expected one more scan waiting, for the next acta"
    (other,) = waiting
    flagged = [f["field"] for f in broken["record"]["fields"] if f["waiting_review"]]
    assert ELECTORES in flagged and len(flagged) >= 2  # a real flagged acta: one to correct, the rest to confirm
    read = next(f["value"] for f in broken["record"]["fields"] if f["field"] == ELECTORES)
    others_value = sum(  # totals are per form: the runoff's
        next(f["value"] for f in o["record"]["fields"] if f["field"] == ELECTORES)
        for o in others
        if o["template"] == "bo2025-runoff"
    )

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _sign_in(page, live, Role.reviewer)
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)  # the broken acta and the other one waiting
    expect(rows.first).to_have_attribute("data-acta", broken["acta_id"])  # a broken rule first
    _shot(page, "queue.png")

    page.keyboard.press("Enter")  # the queue opens the most urgent acta
    expect(page).to_have_url(f"{live.url}/review/actas/{broken['acta_id']}")
    fields = page.locator("#flagged li.field")
    expect(fields).to_have_count(len(flagged))
    for i, name in enumerate(flagged):
        expect(fields.nth(i)).to_have_attribute("data-field", name)
    expect(fields.first).to_have_class("field current")
    expect(fields.first.locator("img.crop")).to_have_js_property("complete", True)
    assert fields.first.locator("img.crop").evaluate("i => i.naturalWidth") > 40  # the crop loaded
    rule = page.locator("#rules li.rule.broken")
    expect(rule).to_have_count(1)
    page.locator("#scan").evaluate("i => { i.style.filter = 'blur(14px)'; }")  # jurors' names on the scan
    # the note may carry a name or a signature too (2019 mesa 52078's is signed)
    page.locator("img.notes").evaluate_all("xs => xs.forEach(i => { i.style.filter = 'blur(6px)'; })")
    page.wait_for_function("document.getElementById('scan').complete")
    _shot(page, "acta.png")

    for i, name in enumerate(flagged):
        expect(fields.nth(i)).to_have_class("field current")
        if name == ELECTORES:
            # What the paper says (the crop reads 2 6 4; the juror's 99 + 164 = 263 stays a broken rule),
            # and the rule's sums follow each digit typed.
            sums = page.locator("#rules li.rule", has_text="electores habilitados")
            page.keyboard.type("26")
            expect(sums.locator(".right")).to_have_text("26")
            page.keyboard.type("4")
            expect(sums.locator(".right")).to_have_text("264")
            expect(sums.locator(".left")).to_have_text("263")
        page.keyboard.press("Enter")  # confirm the reading (one key), or send what was typed
        if i < len(flagged) - 1:
            expect(fields.nth(i)).to_have_class("field done")
    # After the last field: the next acta waiting. Skipping its fields ("s") leaves it waiting, and with
    # nothing else to review the queue comes back.
    expect(page).to_have_url(f"{live.url}/review/actas/{other['acta_id']}")
    expect(fields.first).to_have_class("field current")
    for i in range(fields.count()):
        expect(fields.nth(i)).to_have_class("field current")
        page.keyboard.press("s")
    expect(page).to_have_url(f"{live.url}/review/queue")

    doc = _api(live, f"/actas/{broken['acta_id']}")
    assert not doc["record"]["needs_review"]
    reviews = {r["field"]: r for r in doc["record"]["reviews"]}
    assert set(reviews) == set(flagged)
    assert reviews[ELECTORES]["action"] == "correct" and reviews[ELECTORES]["new_value"] == 264
    assert all(r["action"] == "confirm" for f, r in reviews.items() if f != ELECTORES)
    assert all(r["seconds"] is not None and r["seconds"] >= 0 for r in reviews.values())

    page.goto(f"{live.url}/review/totals")
    total = page.locator(f'section[data-template="bo2025-runoff"] tr[data-key="{ELECTORES}"] .total')
    expect(total).to_have_text(str(264 + others_value))
    expect(page.locator('section[data-template="bo2025-runoff"] svg.chart rect.bar')).to_have_count(2)  # PDC, LIBRE
    _shot(page, "totals.png")
    page.goto(f"{live.url}/review/queue")
    expect(page.locator(f'#queue tr[data-acta="{broken["acta_id"]}"]')).to_have_count(0)  # no longer waiting
    expect(page.locator(f'#queue tr[data-acta="{other["acta_id"]}"]')).to_have_count(1)

    page.goto(f"{live.url}/review/actas/{broken['acta_id']}")
    history = page.locator("#history tbody")
    expect(history).to_contain_text(ELECTORES)
    expect(history).to_contain_text(f"{read} → 264")
    expect(history).to_contain_text("page-reviewer")
    expect(page.locator("#needs-review")).to_have_text("revisada")
    context.close()


def test_a_reader_cannot_correct_and_a_cross_site_post_is_refused(browser: Browser, live: LiveServer) -> None:
    acta = _upload(live, BROKEN)["acta_id"]
    before = len(_api(live, f"/actas/{acta}")["record"]["reviews"])

    reader = browser.new_context(viewport=VIEWPORT)
    page = reader.new_page()
    _sign_in(page, live, Role.reader)
    page.goto(f"{live.url}/review/actas/{acta}")
    expect(page.locator("#readonly")).to_be_visible()
    expect(page.locator("input.value")).to_have_count(0)  # no control to correct with
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    field = page.locator("#values tbody tr").first.get_attribute("data-field")
    r = page.request.post(
        f"{live.url}/review/actas/{acta}/review",
        data={"fields": [{"field": field, "value": 1}]},
        headers={"X-CSRF-Token": csrf or "", "Origin": live.url},
    )
    assert r.status == 403 and r.json()["code"] == "forbidden"  # its own session, token and origin: still no
    reader.close()

    # A reviewer signed in, then visiting another site whose form posts to the review endpoint.
    reviewer = browser.new_context(viewport=VIEWPORT)
    page = reviewer.new_page()
    _sign_in(page, live, Role.reviewer)
    evil = (
        f'<form id="f" method="post" enctype="text/plain" action="{live.url}/review/actas/{acta}/review">'
        '<input name=\'{"fields":[{"field":"presidente.PDC","value":999,"x":"\' value=\'"}]}\'></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.route("http://attacker.test/**", lambda route: route.fulfill(body=evil, content_type="text/html"))
    with page.expect_response(f"{live.url}/review/actas/{acta}/review") as answer:
        page.goto("http://attacker.test/")
    assert answer.value.status == 403
    assert answer.value.json()["code"] == "cross_site"
    assert len(_api(live, f"/actas/{acta}")["record"]["reviews"]) == before  # nothing written
    reviewer.close()

    anonymous = browser.new_context()
    page = anonymous.new_page()
    page.goto(f"{live.url}/review/totals")
    expect(page).to_have_url(f"{live.url}/review/login?next=%2Freview%2Ftotals")
    anonymous.close()


def test_the_notes_reader_confirms_what_the_note_alone_flagged_in_one_click(browser: Browser, live: LiveServer) -> None:
    acta = _upload(live, SAMPLE)  # "... son 241, teniendo que ser 240 ... corre y vale": a note, no count changed
    assert acta["notes"]["written"]
    only = [f["key"] for f in acta["fields"] if {c for c in f["reason_codes"]} == {"note_written"}]
    others = [f"{f['section']}.{f['key']}" for f in acta["fields"] if f["needs_review"] and f["key"] not in only]
    assert only  # most of its fields are flagged for the note alone

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _sign_in(page, live, Role.reviewer)
    page.goto(f"{live.url}/review/actas/{acta['acta_id']}")
    expect(page.locator("#note img.notes")).to_have_js_property("complete", True)
    assert page.locator("#note img.notes").evaluate("i => i.naturalWidth") > 100  # the note's crop loaded
    button = page.locator("#note-confirm")
    expect(button).to_have_attribute("data-count", str(len(only)))
    button.click()
    if others:  # what else was flagged still waits, one field at a time
        expect(page.locator("#flagged li.field")).to_have_count(len(others))
        expect(page.locator("#note-confirm")).to_have_count(0)
    else:
        expect(page.locator("#needs-review")).to_have_text("revisada")
    doc = _api(live, f"/actas/{acta['acta_id']}")
    reviews = [r for r in doc["record"]["reviews"] if r["field"]]
    assert sorted(r["field"].split(".", 1)[1] for r in reviews) == sorted(only)
    assert all(r["action"] == "confirm" and r["note"].startswith("observaciones leídas") for r in reviews)
    waiting = {f["field"] for f in doc["record"]["fields"] if f["waiting_review"]}
    assert waiting == set(others)
    context.close()
