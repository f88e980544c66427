"""Sign-in sessions of the review page, and its defences against cross-site requests.

Server-side sessions, not signed cookies: the cookie carries a random 256-bit token and the database
keeps only its sha256 (`review_sessions`), so
- signing out, or revoking the API key the session was opened with, ends it at once (a signed cookie
  stays valid until it expires);
- replicas behind one load balancer need no shared secret: they share the database already;
- the role is the key's, read on every request, never a copy frozen in the cookie.

Cross-site requests are refused three ways: the cookie is SameSite=Strict (a cross-site page never
sends it), every state-changing request must come from this origin (Origin, or Referer when a browser
sends no Origin), and must carry the session's CSRF token (a form field or the X-CSRF-Token header).
The sign-in form has no session yet: its token is a pre-session cookie matched against the form field
(double submit), with the same origin check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.models import ApiKey, ReviewSession, utcnow
from service.security import Principal, authenticate, hash_key

COOKIE = "actas_review"
LOGIN_COOKIE = "actas_review_login"  # the sign-in form's CSRF token, before there is a session
CSRF_HEADER = "X-CSRF-Token"
LIFETIME = timedelta(hours=12)  # an election night's shift


@dataclass(frozen=True)
class PageSession:
    who: Principal
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(session: Session, api_key: str) -> tuple[str, PageSession] | None:
    """Sign in with an API key: (the cookie's token, the session), or None for an unknown or revoked key."""
    who = authenticate(session, api_key)
    if who is None:
        return None
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(api_key)))
    assert key_id is not None
    now = utcnow()
    session.execute(delete(ReviewSession).where(ReviewSession.expires_at < now))  # housekeeping, cheap
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = ReviewSession(token_hash=_hash(token), api_key_id=key_id, csrf_token=csrf, created_at=now)
    row.expires_at = now + LIFETIME
    session.add(row)
    session.commit()
    return token, PageSession(who, csrf)


def current(session: Session, request: Request) -> PageSession | None:
    """The session of this request's cookie, if it is open, unexpired and its key not revoked."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(ReviewSession, ApiKey)
        .join(ApiKey, ApiKey.id == ReviewSession.api_key_id)
        .where(ReviewSession.token_hash == _hash(token), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None or row[0].expires_at <= utcnow():
        return None
    page_session, key = row
    return PageSession(Principal(key.name, key.role), page_session.csrf_token)


def close_session(session: Session, request: Request) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        session.execute(delete(ReviewSession).where(ReviewSession.token_hash == _hash(token)))
        session.commit()


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/review",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def same_origin(request: Request) -> bool:
    """The request comes from a page of this site: its Origin (or, without one, its Referer) names the
    host it was sent to. A request with neither is refused: every browser sends Origin on a POST."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    host = request.headers.get("host", "")
    return bool(host) and urlsplit(source).netloc == host


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
