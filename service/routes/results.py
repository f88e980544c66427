"""Totals over the stored actas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service import crud
from service.deps import ReaderDep, SessionDep, results_access
from service.errors import responses
from service.routes.actas import TEMPLATE_PATTERN
from service.schemas import Results
from service.security import Principal

router = APIRouter(tags=["results"])


@router.get(
    "/results",
    operation_id="get_results",
    response_model=Results,
    summary="Totals per form, section and key",
    responses=responses(401, 422, 503),
)
def get_results(
    _: Annotated[Principal | None, Depends(results_access)],
    session: SessionDep,
    reader: ReaderDep,
    template: Annotated[str | None, Query(pattern=TEMPLATE_PATTERN, description="only this form")] = None,
) -> Results:
    """Sums over counted actas (not those in a mesa conflict or superseded), using reviewed values where a
    reviewer gave one; blank fields count 0. Flagged fields are counted with the machine's value and
    reported in `fields.waiting_review`. Any key reads this; a setting may open it to everyone."""
    return crud.results(session, reader.templates, template)
