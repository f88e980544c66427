"""The review page (issue 16): server-rendered pages under /review over the same crud as the API.

`mount(app)` adds the routes and the package's static files; nothing is loaded from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    from service.review.routes import router

    app.include_router(router)
    app.mount("/review/static", StaticFiles(directory=STATIC), name="review-static")
