"""API keys: random tokens shown once, stored only as their sha256; each has a role."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import ApiKey, Role, utcnow

KEY_PREFIX = "actas_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (recorded on what it does) and its role."""

    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank


def hash_key(key: str) -> str:
    # The key has 256 random bits, so a plain sha256 is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str, role: Role) -> str:
    """Store a new key and return it; it cannot be recovered later."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"invalid key name {name!r}: letters, digits and _ . @ - only, up to 64 characters")
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(f"a key named {name!r} exists (names are never reused: audit records refer to them)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, role=role, key_hash=hash_key(key), prefix=key[: len(KEY_PREFIX) + 4]))
    try:
        session.flush()
    except IntegrityError as exc:  # another process created the same name just now
        raise ValueError(f"a key named {name!r} exists") from exc
    return key


def revoke_key(session: Session, name: str) -> bool:
    """Revoke by name; False if there is no such active key."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def authenticate(session: Session, key: str) -> Principal | None:
    """The active key's principal, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))
    return Principal(row.name, row.role) if row else None
