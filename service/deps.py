"""Dependencies: settings, the reader and the database from app.state; the caller's API key and role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session, sessionmaker

from pipeline.reader import ActaReader
from service.errors import ApiError
from service.models import Role
from service.security import Principal, authenticate
from service.settings import Settings

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="A key from `actas keys create NAME --role reader|operator|reviewer`",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_reader(request: Request) -> ActaReader:
    reader: ActaReader = request.app.state.reader
    return reader


def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


def get_session(sessions: Annotated[sessionmaker[Session], Depends(get_sessions)]) -> Iterator[Session]:
    with sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
ReaderDep = Annotated[ActaReader, Depends(get_reader)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _principal(request: Request, sessions: sessionmaker[Session], key: str | None) -> Principal:
    if not key:
        raise ApiError(401, "missing_key", "this needs an API key in the X-API-Key header")
    with sessions() as session:  # a short session of its own: no transaction held while a scan is read
        who = authenticate(session, key)
    if who is None:
        raise ApiError(401, "invalid_key", "unknown or revoked API key")
    request.state.key_name = who.name  # for the request log
    return who


def require(role: Role) -> Callable[..., Principal]:
    """Dependency: a valid key whose role is at least `role`."""

    def dependency(
        request: Request,
        sessions: Annotated[sessionmaker[Session], Depends(get_sessions)],
        key: Annotated[str | None, Security(api_key_header)] = None,
    ) -> Principal:
        who = _principal(request, sessions, key)
        if not who.may(role):
            raise ApiError(403, "forbidden", f"a {who.role.value} key may not do this; it needs {role.value}")
        return who

    dependency.__name__ = f"require_{role.value}"
    return dependency


def results_access(
    request: Request,
    settings: SettingsDep,
    sessions: Annotated[sessionmaker[Session], Depends(get_sessions)],
    key: Annotated[str | None, Security(api_key_header)] = None,
) -> Principal | None:
    """Totals are public when the setting says so; otherwise any valid key reads them."""
    if settings.public_results and not key:
        return None
    return _principal(request, sessions, key)


Reader = Annotated[Principal, Depends(require(Role.reader))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Reviewer = Annotated[Principal, Depends(require(Role.reviewer))]
