"""The FastAPI application: `create_app(settings)`; `app` for `uvicorn service.app:app`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from pipeline.reader import ActaReader
from service import __doc__ as package_doc
from service import __version__, docs, errors, logs, review
from service.db import ensure_schema, make_engine, session_factory
from service.head import HeadAsGet
from service.limits import BodyLimit
from service.routes import actas, health, results, templates
from service.schema import SchemaError
from service.settings import Settings
from service.singleflight import SingleFlight

log = logging.getLogger("actas.service")

VERSION = __version__
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file, and the `template` field

TAGS = [
    {"name": "actas", "description": "Upload scans and read back what was read from them"},
    {"name": "review", "description": "People confirm or correct what the machine read, and resolve mesa conflicts"},
    {"name": "results", "description": "Totals over the stored actas"},
    {"name": "templates", "description": "The forms the reader knows"},
    {"name": "health", "description": "Liveness and readiness"},
]

DESCRIPTION = """Reads the handwritten counts of scanned Bolivian election tally sheets (actas de escrutinio),
stores them, lets people review what the machine flagged, and adds up the results.

Every endpoint except `/health`, `/ready` and `/templates` needs an API key in the `X-API-Key` header
(`actas keys create NAME --role reader|operator|reviewer`): `reader` reads, `operator` also uploads,
`reviewer` also reviews. Every error has the body `{"detail": ..., "code": ...}`."""


def load_reader(settings: Settings) -> ActaReader:
    return ActaReader.from_config(settings.reader_config())


def _shared_failure(exc: BaseException) -> bool:
    """An upload's failure that the same bytes sent at the same moment share (the image's, the request's);
    the database's is not shared: each waiting upload tries again itself."""
    return isinstance(exc, Exception) and not isinstance(exc, SQLAlchemyError)


def create_app(settings: Settings | None = None, reader: ActaReader | None = None) -> FastAPI:
    """`reader` lets tests share one loaded reader; otherwise it is loaded once, at start-up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(settings.log_level)
        engine = make_engine(settings.database_url)
        try:
            await anyio.to_thread.run_sync(ensure_schema, engine)
        except SchemaError as exc:
            log.error({"event": "schema_refused", "error": str(exc)})
            engine.dispose()
            raise
        started = time.perf_counter()
        app.state.reader = reader or await anyio.to_thread.run_sync(load_reader, settings)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.read_limiter = anyio.CapacityLimiter(settings.concurrency)
        app.state.overlay_limiter = anyio.CapacityLimiter(settings.overlay_concurrency)
        app.state.upload_flights = SingleFlight(share=_shared_failure)
        log.info(
            {
                "event": "started",
                "model": app.state.reader.classifier.card.name,
                "provider": app.state.reader.classifier.provider,
                "database": engine.dialect.name,
                "templates": sorted(app.state.reader.templates),
                "concurrency": settings.concurrency,
                "overlay_concurrency": settings.overlay_concurrency,
                "load_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="actas-ocr",
        version=VERSION,
        summary=(package_doc or "").strip(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served below from installed assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    docs.install(app)
    # Outermost last: the log sees every answer, the 413 for an oversized body included.
    app.add_middleware(BodyLimit, max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(HeadAsGet)
    app.add_middleware(logs.RequestLog)
    routers = [actas.router, results.router, templates.router, health.router]
    for router in routers:
        app.include_router(router)
    app.state.api_routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]  # for Allow
    review.mount(app)  # the review page, /review (not in the API's schema)
    return app


app = create_app()
