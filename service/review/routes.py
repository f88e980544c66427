"""The review pages' routes: thin. Sessions and cross-site checks in `sessions`, reads in `queries`,
writes through `service.crud` (the API's own review), HTML in `templates/`."""

from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service import crud
from service.deps import ReaderDep, SessionDep, SettingsDep
from service.errors import ApiError
from service.models import Acta, ActaStatus, Blob, Role
from service.review import queries
from service.review.sessions import (
    COOKIE,
    CSRF_HEADER,
    LIFETIME,
    LOGIN_COOKIE,
    PageSession,
    close_session,
    current,
    open_session,
    same_origin,
    set_cookie,
    tokens_match,
)
from service.schemas import ReviewRequest

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/review", include_in_schema=False)

# The pages load nothing from elsewhere and run no inline script; nobody may frame them (a keyboard-driven
# page under someone else's frame would be a click-jacking target).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/review/login?next={quote(target, safe='')}"


def signed_in(request: Request, session: SessionDep) -> PageSession:
    """A page's session; without one a GET is sent to the sign-in form and anything else refused."""
    page = current(session, request)
    if page is None:
        if request.method in ("GET", "HEAD"):
            raise HTTPException(303, "sign in first", headers={"Location": _login_url(request)})
        raise ApiError(401, "no_session", "sign in to the review page first")
    request.state.key_name = page.who.name  # for the request log
    return page


def _origin_first(request: Request) -> None:
    if not same_origin(request):
        raise ApiError(403, "cross_site", "refused: the request does not come from this site")


def checked(request: Request, session: SessionDep) -> PageSession:
    """A state-changing request: from this site (checked first, so a cross-site post is refused whatever
    else it carries), with a session; the route then checks the session's CSRF token."""
    _origin_first(request)
    return signed_in(request, session)


def _csrf_ok(request: Request, page: PageSession, form_token: str | None) -> None:
    if not tokens_match(page.csrf, form_token or request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf", "refused: the form's token is missing or wrong; reload the page")


def _reviewer(page: PageSession) -> None:
    if not page.who.may(Role.reviewer):
        raise ApiError(403, "forbidden", f"a {page.who.role.value} key may not review; it needs reviewer")


Page = Annotated[PageSession, Depends(signed_in)]
Write = Annotated[PageSession, Depends(checked)]


def _acta(session: Session, acta_id: str) -> Acta:
    acta = crud.get_acta(session, acta_id) if len(acta_id) == 64 else None
    if acta is None:
        raise ApiError(404, "not_found", f"no acta {acta_id}")
    return acta


def _safe_next(target: str | None) -> str:
    """Only a path of these pages: never another site (`//evil`, `https://...`)."""
    if target and target.startswith("/review") and not target.startswith("//") and "\\" not in target:
        return target
    return "/review/queue"


# --- sign in and out ---------------------------------------------------------------------------------


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/review/queue", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None, error: str | None = None) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = _page(request, "login.html", {"csrf": nonce, "next": _safe_next(next), "error": error})
    set_cookie(response, request, LOGIN_COOKIE, nonce, max_age=3600)
    return response


@router.post("/login", dependencies=[Depends(_origin_first)])
def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=128)],
    csrf: Annotated[str, Form(max_length=128)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), csrf):
        raise ApiError(403, "csrf", "refused: the form's token is missing or wrong; reload the sign-in page")
    opened = open_session(session, api_key.strip())
    if opened is None:
        context = {"csrf": csrf, "next": _safe_next(next), "error": "unknown or revoked API key"}
        return _page(request, "login.html", context, status_code=401)
    token, _ = opened
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(response, request, COOKIE, token, max_age=int(LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/review")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, page: Write, csrf: Annotated[str, Form(max_length=128)]) -> Response:
    _csrf_ok(request, page, csrf)
    close_session(session, request)
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(COOKIE, path="/review")
    return response


# --- the queue ---------------------------------------------------------------------------------------


@router.get("/queue")
def queue_page(
    request: Request,
    page: Page,
    session: SessionDep,
    reader: ReaderDep,
    form: Annotated[str | None, Query(max_length=64)] = None,
    mesa: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    q = queries.queue(session, reader.templates, form or None, (mesa or "").strip() or None)
    context = {"page": page, "q": q, "forms": sorted(reader.templates), "form": form or "", "mesa": mesa or ""}
    return _page(request, "queue.html", context)


@router.get("/next")
def next_page(
    page: Page, session: SessionDep, reader: ReaderDep, after: Annotated[str | None, Query(max_length=64)] = None
) -> RedirectResponse:
    acta_id = queries.next_acta(session, reader.templates, after)
    return RedirectResponse(f"/review/actas/{acta_id}" if acta_id else "/review/queue", status_code=303)


# --- one acta ----------------------------------------------------------------------------------------


@router.get("/actas/{acta_id}")
def acta_page(request: Request, acta_id: str, page: Page, session: SessionDep, reader: ReaderDep) -> HTMLResponse:
    acta = _acta(session, acta_id)
    view = queries.acta_view(session, acta, reader.templates)
    data = {
        "acta": acta.id,
        "version": acta.version,
        "canReview": page.who.may(Role.reviewer) and acta.status != ActaStatus.superseded,
        "fields": [f.js() for f in view.fields],
        "rules": view.rules,
    }
    return _page(request, "acta.html", {"page": page, "acta": acta, "view": view, "data": data})


@router.get("/actas/{acta_id}/scan")
def scan(acta_id: str, page: Page, session: SessionDep) -> Response:
    acta = _acta(session, acta_id)
    blob = session.get_one(Blob, acta.blob_sha256)
    return Response(blob.data, media_type=blob.media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/actas/{acta_id}/notes.png")
def notes(acta_id: str, page: Page, session: SessionDep, settings: SettingsDep) -> Response:
    acta = _acta(session, acta_id)
    png = queries.notes_crop(session, acta, settings.max_pixels)
    if png is None:
        raise ApiError(404, "not_found", "this reading has no notes box")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/actas/{acta_id}/crop/{field}.png")
def crop(acta_id: str, field: str, page: Page, session: SessionDep, settings: SettingsDep) -> Response:
    acta = _acta(session, acta_id)
    png = queries.field_crop(session, acta, field, settings.max_pixels)
    if png is None:
        raise ApiError(404, "not_found", f"no boxes for {field}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


async def review_body(request: Request) -> ReviewRequest:
    """The body parsed after the origin, session and CSRF checks (a dependency declared after them), so
    a cross-site post is refused for what it is, not for its shape."""
    try:
        return ReviewRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


@router.post("/actas/{acta_id}/review")
def review(
    request: Request,
    acta_id: str,
    page: Write,
    body: Annotated[ReviewRequest, Depends(review_body)],
    session: SessionDep,
    reader: ReaderDep,
) -> JSONResponse:
    """The acta screen's writes: the API's review body (with `seconds` per field), the API's crud."""
    _csrf_ok(request, page, None)
    _reviewer(page)
    acta = crud.review(session, _acta(session, acta_id).id, body, page.who.name, reader.templates)
    doc = crud.to_document(session, acta, reader.templates)
    return JSONResponse(
        {
            "version": doc.record.version,
            "fields": [s.model_dump() for s in doc.record.fields],
            "needs_review": doc.record.needs_review,
        }
    )


@router.get("/actas/{acta_id}/conflict")
def conflict_page(request: Request, acta_id: str, page: Page, session: SessionDep, reader: ReaderDep) -> HTMLResponse:
    acta = _acta(session, acta_id)
    views = [queries.acta_view(session, a, reader.templates) for a in queries.conflict_actas(session, acta)]
    context = {"page": page, "acta": acta, "views": views, "can_review": page.who.may(Role.reviewer)}
    return _page(request, "conflict.html", context)


@router.post("/actas/{acta_id}/keep")
def keep(
    request: Request,
    acta_id: str,
    page: Write,
    session: SessionDep,
    reader: ReaderDep,
    csrf: Annotated[str, Form(max_length=128)],
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> RedirectResponse:
    _csrf_ok(request, page, csrf)
    _reviewer(page)
    acta = _acta(session, acta_id)
    body = ReviewRequest(keep_for_mesa=True, note=note or None, version=None)
    crud.review(session, acta.id, body, page.who.name, reader.templates)
    return RedirectResponse(f"/review/actas/{acta.id}/conflict", status_code=303)


# --- totals ------------------------------------------------------------------------------------------


@router.get("/totals")
def totals_page(request: Request, page: Page, session: SessionDep, reader: ReaderDep) -> HTMLResponse:
    results = crud.results(session, reader.templates)
    waiting = queries.waiting_per_form(session)
    forms = []
    for t in results.templates:
        template = reader.templates.get(t.template)
        labels = {name: spec.label for name, (_, spec) in template.fields.items()} if template else {}
        sections = []
        for section, values in t.totals.items():
            keys = queries.candidate_keys(template, section, list(values))
            bars = queries.chart({k: values[k] for k in keys}, {k: labels.get(f"{section}.{k}", k) for k in keys})
            rows = [(k, labels.get(f"{section}.{k}", k), v) for k, v in values.items()]
            sections.append({"name": section, "rows": rows, "bars": bars})
        forms.append({"t": t, "waiting": waiting.get(t.template, 0), "sections": sections})
    return _page(request, "totals.html", {"page": page, "results": results, "forms": forms})


@router.get("/totals.csv")
def totals_csv(page: Page, session: SessionDep, reader: ReaderDep) -> Response:
    results = crud.results(session, reader.templates)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["template", "section", "key", "label", "total", "counted_actas", "flagged", "excluded"])
    for t in results.templates:
        template = reader.templates.get(t.template)
        for section, values in t.totals.items():
            for key, total in values.items():
                name = f"{section}.{key}"
                label = template.fields[name][1].label if template and name in template.fields else key
                writer.writerow([t.template, section, key, label, total, t.counted, t.flagged, t.excluded])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="totals.csv"', "Cache-Control": "no-store"},
    )
