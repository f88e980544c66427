"""Liveness and readiness, for orchestrators and load balancers (no key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.db import ping
from service.errors import RETRY_AFTER_S
from service.schemas import ErrorBody, Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health", response_model=Health, summary="The process is up")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    operation_id="ready",
    response_model=Readiness,
    summary="Model loaded and database reachable",
    responses={503: {"model": ErrorBody, "description": "Not ready: no model, or no database"}},
)
def ready(request: Request) -> Readiness | JSONResponse:
    reader = getattr(request.app.state, "reader", None)
    if reader is None:
        return JSONResponse(
            {"detail": "the model is not loaded", "code": "not_ready"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        ping(request.app.state.engine)
    except Exception as exc:  # any failure to reach the database means not ready, whatever the driver raised
        return JSONResponse(
            {"detail": f"database unreachable ({type(exc).__name__})", "code": "not_ready"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return Readiness(
        status="ready",
        model=reader.classifier.card.name or "model",
        provider=reader.classifier.provider,
        database=request.app.state.engine.dialect.name,
    )
