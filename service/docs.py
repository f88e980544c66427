"""Swagger UI at /docs and ReDoc at /redoc, their scripts and styles served from the installed
`fastapi-standalone-docs` package: no CDN, so the docs work offline and a key typed into Swagger UI
goes through no third-party script."""

from __future__ import annotations

from pathlib import Path

import fastapi_standalone_docs
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_standalone_docs.__file__).resolve().parent / "static"
PREFIX = "/docs-assets"


def install(app: FastAPI) -> None:
    app.mount(f"{PREFIX}/swagger", StaticFiles(directory=ASSETS / "swagger"), name="swagger-assets")
    app.mount(f"{PREFIX}/redoc", StaticFiles(directory=ASSETS / "redoc"), name="redoc-assets")
    app.mount(f"{PREFIX}/fastapi", StaticFiles(directory=ASSETS / "fastapi"), name="fastapi-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{base}{PREFIX}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{PREFIX}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{base}{PREFIX}/fastapi/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{PREFIX}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{base}{PREFIX}/fastapi/favicon.png",
            with_google_fonts=False,
        )
