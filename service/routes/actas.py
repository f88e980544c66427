"""Upload, fetch, list and review actas; the stored scan and its audit overlay."""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, FastAPI, File, Form, Path, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import UnprocessableImage
from pipeline.image_io import decode_image
from pipeline.overlay import draw_overlay, encode_png
from pipeline.reader import ActaReader
from pipeline.schema import ActaReading
from pipeline.templates import Template
from service import crud
from service.deps import Operator, Reader, ReaderDep, Reviewer, SessionDep, SettingsDep
from service.errors import ApiError, responses
from service.models import Acta, ActaStatus, Blob
from service.phash import perceptual_hash
from service.schemas import EXAMPLE_ACTA_ID, SHA256_PATTERN, ActaDocument, ActaPage, ActaSummary, ReviewRequest
from service.singleflight import SingleFlight

router = APIRouter(prefix="/actas", tags=["actas"])
log = logging.getLogger("actas.service")

ActaIdPath = Annotated[
    str, Path(pattern=SHA256_PATTERN, description="sha256 of the scan, lower-case hex", examples=[EXAMPLE_ACTA_ID])
]
TEMPLATE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# OpenAPI links: what a client (and schemathesis' stateful phase) can do with a stored acta's id.
UPLOAD_LINKS = {
    op: {"operationId": op, "parameters": {"acta_id": "$response.body#/acta_id"}}
    for op in ("get_acta", "get_scan", "get_overlay", "review_acta")
}
LIST_LINKS = {
    op: {"operationId": op, "parameters": {"acta_id": "$response.body#/items/0/acta_id"}}
    for op in ("get_acta", "get_scan", "get_overlay", "review_acta")
}
MESA_PATTERN = r"^[0-9]{1,10}-[0-9]$"

_PNG = {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
_SCAN = {
    "content": {
        m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/jpeg", "image/png", "image/tiff")
    }
}


def _read(reader: ActaReader, data: bytes, template: str | None) -> tuple[ActaReading, str | None]:
    try:
        return reader.read(data, template), perceptual_hash(data)
    except UnprocessableImage as exc:
        log.warning({"event": "unreadable_image", "error": str(exc)})
        raise


def _store(
    sessions: sessionmaker[Session],
    reading: ActaReading,
    data: bytes,
    who: str,
    templates: dict[str, Template],
    phash: str | None,
) -> tuple[ActaDocument, crud.StoreOutcome]:
    with sessions() as session:
        stored = crud.store_reading(session, reading, data, who, templates, phash)
        return crud.to_document(session, stored.acta, templates), stored.outcome


def _document(sessions: sessionmaker[Session], acta_id: str, templates: dict[str, Template]) -> ActaDocument | None:
    with sessions() as session:
        acta = crud.get_acta(session, acta_id)
        return crud.to_document(session, acta, templates) if acta else None


Uploaded = tuple[ActaDocument, crud.StoreOutcome, dict[str, float] | None]


async def _upload(
    app: FastAPI, reader: ActaReader, data: bytes, acta_id: str, template: str | None, who: str
) -> Uploaded:
    """Look the bytes up; read and store them when they are new. The stored document and what it was."""
    sessions = app.state.sessions
    existing = await anyio.to_thread.run_sync(_document, sessions, acta_id, reader.templates)
    if existing is not None:
        return existing, crud.StoreOutcome.same_bytes, None
    # Reading is CPU work: a worker thread, at most `concurrency` at once; the rest wait their turn.
    reading, phash = await anyio.to_thread.run_sync(_read, reader, data, template, limiter=app.state.read_limiter)
    doc, outcome = await anyio.to_thread.run_sync(_store, sessions, reading, data, who, reader.templates, phash)
    return doc, outcome, reading.timings_ms


@router.post(
    "",
    operation_id="upload_acta",
    status_code=201,
    response_model=ActaDocument,
    summary="Upload one scan; read, store and return it",
    responses={
        200: {"model": ActaDocument, "description": "These exact bytes were stored before: the stored acta"},
        201: {"description": "Read and stored", "links": UPLOAD_LINKS},
        **responses(400, 401, 403, 413, 415, 422, 503),
    },
)
async def upload_acta(
    request: Request,
    response: Response,
    who: Operator,
    reader: ReaderDep,
    settings: SettingsDep,
    # format: binary as well as 3.1's contentMediaType: client generators (openapi-python-client) look for it.
    file: Annotated[
        UploadFile, File(description="one JPEG, PNG or TIFF scan of an acta", json_schema_extra={"format": "binary"})
    ],
    template: Annotated[
        str | None, Form(pattern=TEMPLATE_PATTERN, description="read as this form template id (default: identify it)")
    ] = None,
) -> ActaDocument:
    """Idempotent: the same bytes give the same `acta_id` and one record. Another scan of a mesa already
    stored (same form, same mesa code) that reads the same on every field is stored as one more scan of
    that acta (200, `record.scans`); one that reads differently puts both in conflict: neither is counted
    until a reviewer keeps one. The `X-Actas-Upload` header says which: new, same_bytes or rescan.
    The same bytes sent by several clients at once are read once: the others wait and answer that
    record (200, same_bytes). A multi-page TIFF is refused (422 multi_page_tiff): one acta per upload."""
    if len((await request.form()).getlist("file")) > 1:
        raise ApiError(422, "one_file_per_upload", "send one `file` part per upload (one acta per upload)")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, "file_too_large", f"the file is over the {settings.max_upload_bytes:,}-byte limit")
    acta_id = hashlib.sha256(data).hexdigest()
    request.state.acta_id = acta_id
    # The same bytes sent by several clients at once are looked up, read and stored once: the others wait
    # for that run and answer what it stored (200 same_bytes). Keyed by the bytes and the forced template.
    flights: SingleFlight[Uploaded] = request.app.state.upload_flights
    (doc, outcome, timings), led = await flights.run(
        (acta_id, template), partial(_upload, request.app, reader, data, acta_id, template, who.name)
    )
    if not led:
        outcome, timings = crud.StoreOutcome.same_bytes, None
        request.state.joined = True  # for the request log: answered by another request's run
    if timings is not None:
        request.state.timings_ms = timings
    request.state.created = outcome == crud.StoreOutcome.new
    response.status_code = 201 if outcome == crud.StoreOutcome.new else 200
    response.headers["X-Actas-Upload"] = outcome.value
    return doc


@router.get(
    "/{acta_id}",
    operation_id="get_acta",
    response_model=ActaDocument,
    summary="One stored acta",
    responses={
        200: {"description": "The acta", "links": {k: v for k, v in UPLOAD_LINKS.items() if k != "get_acta"}},
        **responses(401, 403, 404, 422, 503),
    },
)
def get_acta(acta_id: ActaIdPath, _: Reader, session: SessionDep, reader: ReaderDep, request: Request) -> ActaDocument:
    request.state.acta_id = acta_id
    acta = crud.get_acta(session, acta_id)
    if acta is None:
        raise ApiError(404, "not_found", f"no acta {acta_id}")
    return crud.to_document(session, acta, reader.templates)


@router.get(
    "",
    operation_id="list_actas",
    response_model=ActaPage,
    summary="Stored actas, newest first",
    responses={200: {"description": "A page of actas", "links": LIST_LINKS}, **responses(401, 403, 422, 503)},
)
def list_actas(
    _: Reader,
    session: SessionDep,
    mesa_code: Annotated[str | None, Query(pattern=MESA_PATTERN, examples=["800412-1"])] = None,
    needs_review: Annotated[bool | None, Query(description="some field still waits for a reviewer")] = None,
    template: Annotated[str | None, Query(pattern=TEMPLATE_PATTERN)] = None,
    status: Annotated[ActaStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ActaPage:
    total, rows = crud.list_actas(session, crud.ActaFilters(mesa_code, needs_review, template, status), limit, offset)
    return ActaPage(total=total, limit=limit, offset=offset, items=[_summary(a) for a in rows])


def _summary(a: Acta) -> ActaSummary:
    return ActaSummary(
        acta_id=a.id,
        mesa_code=a.mesa_code,
        template=a.template,
        variant=a.variant,
        status=a.status,
        needs_review=a.needs_review,
        uploaded_by=a.uploaded_by,
        created_at=a.created_at,
    )


def _overlay(sessions: sessionmaker[Session], acta_id: str, reader: ActaReader) -> bytes | None:
    with sessions() as session:
        acta = crud.get_acta(session, acta_id)
        if acta is None:
            return None
        blob = session.get(Blob, acta.blob_sha256)
        assert blob is not None  # a foreign key: stored with the acta
        data, reading = blob.data, ActaReading.model_validate(acta.reading)
    return encode_png(draw_overlay(decode_image(data, reader.config.max_pixels), reading))


@router.get(
    "/{acta_id}/overlay.png",
    operation_id="get_overlay",
    response_class=Response,
    summary="The audit image: each box outlined on the scan with the value read",
    responses={200: {**_PNG, "description": "PNG; red boxes need review"}, **responses(401, 403, 404, 422, 503)},
)
async def get_overlay(acta_id: ActaIdPath, _: Reader, reader: ReaderDep, request: Request) -> Response:
    request.state.acta_id = acta_id
    # Drawn from a stored scan, never read: the overlay slots, not the read slots (an upload never waits
    # behind overlays; overlays beyond their slots wait for each other).
    png = await anyio.to_thread.run_sync(
        partial(_overlay, request.app.state.sessions, acta_id, reader), limiter=request.app.state.overlay_limiter
    )
    if png is None:
        raise ApiError(404, "not_found", f"no acta {acta_id}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{acta_id}/scan",
    operation_id="get_scan",
    response_class=Response,
    summary="The uploaded file, as stored",
    responses={200: {**_SCAN, "description": "the original bytes"}, **responses(401, 403, 404, 422, 503)},
)
def get_scan(acta_id: ActaIdPath, _: Reader, session: SessionDep, request: Request) -> Response:
    request.state.acta_id = acta_id
    acta = crud.get_acta(session, acta_id)
    # The file asked for: a rescan's own bytes when the id is a rescan's sha256.
    blob = (session.get(Blob, acta_id) or session.get(Blob, acta.blob_sha256)) if acta else None
    if blob is None:
        raise ApiError(404, "not_found", f"no acta {acta_id}")
    return Response(blob.data, media_type=blob.media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.put(
    "/{acta_id}/review",
    operation_id="review_acta",
    response_model=ActaDocument,
    tags=["review"],
    summary="Confirm or correct field values; keep this scan for its mesa",
    responses={
        200: {"description": "The acta after the review", "links": {"get_acta": UPLOAD_LINKS["get_acta"]}},
        **responses(400, 401, 403, 404, 409, 422, 503),
    },
)
def review_acta(
    acta_id: ActaIdPath, body: ReviewRequest, who: Reviewer, session: SessionDep, reader: ReaderDep, request: Request
) -> ActaDocument:
    """Each change is an audit record (who, when, old, new); the machine reading is never overwritten.
    `/results` then uses the reviewed values. `keep_for_mesa` resolves a mesa conflict: this scan is
    counted and every other scan of the mesa superseded. Reviews of one acta are serialised: one that
    finds the acta changed under it is applied again to what is stored, and after a few such tries
    answers 409 stale_review with Retry-After; `version` (the record.version read) makes any change since
    a 409 stale_version."""
    request.state.acta_id = acta_id
    acta = crud.review(session, acta_id, body, who.name, reader.templates)
    return crud.to_document(session, acta, reader.templates)
