"""One error body for every failure, documented per status in OpenAPI. The one place where the storage
layer's domain errors (`service.domain_errors`) and the pipeline's image errors become HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import (
    CorruptImage,
    EmptyImage,
    ImageTooLarge,
    ImageTooSmall,
    MultiPageImage,
    NotAForm,
    ReadError,
    UnprocessableImage,
    UnsupportedImage,
)
from service.domain_errors import Conflict, DomainError, Invalid, NotFound, StaleReview
from service.schemas import ErrorBody

log = logging.getLogger("actas.service")


RETRY_AFTER_S = 2  # database unreachable or busy: when to try again


class ApiError(Exception):
    """An HTTP answer raised by the HTTP layer itself (routes, dependencies)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def domain_error(exc: DomainError) -> ApiError:
    """The storage layer's errors as HTTP answers: the one mapping."""
    if isinstance(exc, StaleReview):
        return ApiError(409, exc.code, exc.detail, {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, NotFound):
        return ApiError(404, exc.code, exc.detail)
    if isinstance(exc, Conflict):
        return ApiError(409, exc.code, exc.detail)
    if isinstance(exc, Invalid):
        return ApiError(422, exc.code, exc.detail)
    return ApiError(422, exc.code, exc.detail)


_DESCRIPTIONS = {
    400: "The body could not be parsed (malformed JSON or multipart)",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "No such acta",
    409: "The acta's state does not allow this (e.g. resolving a mesa that is not in conflict), or it changed "
    "under a review (stale_review, with Retry-After; stale_version): read it again and retry",
    413: "The file is larger than the upload limit, or the image has more pixels than the limit",
    415: "Not a JPEG, PNG or TIFF image",
    422: "Invalid request, a truncated or corrupt image, or an image that is no known form",
    503: "The database cannot be reached (Retry-After says when to try again)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the error body."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


def _body(request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    request.state.error_code = code  # for the request log
    return JSONResponse(ErrorBody(detail=detail, code=code).model_dump(), status_code=status, headers=headers)


def image_error(exc: ReadError) -> ApiError:
    if isinstance(exc, NotAForm):
        return ApiError(422, "not_a_form", str(exc))
    if isinstance(exc, UnprocessableImage):
        # OpenCV refusing a decodable but degenerate image (e.g. 1x1 pixels) is bad input, not a server fault.
        return ApiError(422, "unreadable_image", "the image could not be processed as a form (too small or degenerate)")
    if isinstance(exc, ImageTooLarge):
        return ApiError(413, "image_too_large", str(exc))
    if isinstance(exc, UnsupportedImage):
        return ApiError(415, "unsupported_media_type", str(exc))
    if isinstance(exc, MultiPageImage):
        return ApiError(422, "multi_page_tiff", str(exc))
    if isinstance(exc, EmptyImage):
        return ApiError(422, "empty_file", str(exc))
    if isinstance(exc, ImageTooSmall):
        return ApiError(422, "image_too_small", str(exc))
    if isinstance(exc, CorruptImage):
        return ApiError(422, "corrupt_image", str(exc))
    return ApiError(422, "bad_image", str(exc))


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in getattr(request.app.state, "api_routes", []):
        if route.path_regex.match(request.url.path):
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")  # service.head answers HEAD on every GET route
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _body(request, exc.status, exc.code, exc.detail, exc.headers)

    async def storage_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return await api_error(request, domain_error(exc))

    async def pipeline_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReadError)
        return await api_error(request, image_error(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:  # Allow: every method of the path, not only those of the first route matched
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _body(request, exc.status_code, code, str(exc.detail), headers or None)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if any(err.get("type") == "json_invalid" for err in exc.errors()):  # not JSON at all: unparsable
            return _body(request, 400, "bad_request", f"the body is not valid JSON ({_validation_detail(exc)})")
        return _body(request, 422, "invalid_request", _validation_detail(exc))

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error: %s", type(exc).__name__)
        return _body(
            request,
            503,
            "database_unavailable",
            "the database cannot be reached; try again",
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: answer in the documented shape and keep the trace in the log.
        log.error("unhandled error", exc_info=exc)
        return _body(request, 500, "internal_error", "internal error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DomainError, storage_error)
    app.add_exception_handler(ReadError, pipeline_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(Exception, unexpected)
