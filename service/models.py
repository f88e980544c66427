"""Tables. The machine reading is stored whole (JSON) and never changed; what is filtered or summed on
(mesa, template, status, each field's machine and reviewed value) is also kept in columns.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Role(enum.StrEnum):
    """Each role may do what the ones before it may: reader < operator < reviewer."""

    reader = "reader"
    operator = "operator"
    reviewer = "reviewer"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class ActaStatus(enum.StrEnum):
    counted = "counted"  # in the totals
    conflict = "conflict"  # another scan claims the same mesa: out of the totals until a reviewer resolves it
    superseded = "superseded"  # a reviewer kept another scan of this mesa


class ReviewAction(enum.StrEnum):
    confirm = "confirm"  # the reviewer read the same value as the machine
    correct = "correct"  # the reviewer read another value
    keep = "keep"  # this scan was kept for its mesa
    supersede = "supersede"  # another scan of the mesa was kept


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_json = JSON().with_variant(JSONB(), "postgresql")
_utc = UTCDateTime()


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # unique for ever: audit records name it
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key; the key is never stored
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell keys apart in `keys list`
    created_at: Mapped[datetime] = mapped_column(_utc, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(_utc, default=None)


class Blob(Base):
    """The uploaded file, addressed by its sha256, so the overlay can be drawn again later."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Mesa(Base):
    """One row per mesa of one election: the form's template id and the mesa code (a first-round mesa
    and a runoff mesa with the same code are two mesas). Uploads and resolutions lock it first so that
    two scans of one mesa arriving at once cannot both miss each other (a row lock in PostgreSQL, the
    write lock in SQLite). `scans` counts the distinct files stored for it (rescans included)."""

    __tablename__ = "mesas"
    template: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    scans: Mapped[int] = mapped_column(Integer, default=0)


class Scan(Base):
    """Each distinct file stored for an acta: the first upload, and rescans of the same paper that read
    the same on every field. `phash` is a perceptual hash of the image (`service.phash`), to tell a
    near-duplicate of a stored scan; null for scans stored before it existed (release 0.1.0)."""

    __tablename__ = "scans"
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    acta_id: Mapped[str] = mapped_column(ForeignKey("actas.id"), index=True)
    phash: Mapped[str | None] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_utc, default=utcnow)


class Acta(Base):
    __tablename__ = "actas"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the file = the reading's acta_id
    mesa_code: Mapped[str | None] = mapped_column(String(32), index=True)
    template: Mapped[str] = mapped_column(String(64), index=True)
    variant: Mapped[str] = mapped_column(String(32))
    status: Mapped[ActaStatus] = mapped_column(Enum(ActaStatus, native_enum=False, length=16), index=True)
    machine_needs_review: Mapped[bool] = mapped_column(Boolean)  # the pipeline's flag, as read
    needs_review: Mapped[bool] = mapped_column(Boolean, index=True)  # some field still waits for a reviewer
    reading: Mapped[dict[str, Any]] = mapped_column(_json)  # the pipeline's document, exactly as returned
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    uploaded_by: Mapped[str] = mapped_column(String(64))  # API key name
    created_at: Mapped[datetime] = mapped_column(_utc, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(_utc, default=utcnow, onupdate=utcnow)
    # Bumped by every write to the acta (a review, a status change), checked on write: a review writes
    # only `WHERE version = <the version it read>`, so two reviews of one acta cannot interleave.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    # Declared so the unit of work inserts the blob before the acta that points at it.
    blob: Mapped[Blob] = relationship(lazy="raise")
    fields: Mapped[list[ActaField]] = relationship(
        back_populates="acta", order_by="ActaField.position", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[Review]] = relationship(back_populates="acta", order_by="Review.id")
    scans: Mapped[list[Scan]] = relationship(order_by=[Scan.created_at, Scan.sha256], lazy="selectin")


class ActaField(Base):
    """One count of one acta: the machine's value, and the reviewer's where there is one."""

    __tablename__ = "acta_fields"
    acta_id: Mapped[str] = mapped_column(ForeignKey("actas.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(96), primary_key=True)  # section.KEY
    position: Mapped[int] = mapped_column(Integer)  # order on the form
    section: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    machine_value: Mapped[int | None] = mapped_column(Integer)
    machine_needs_review: Mapped[bool] = mapped_column(Boolean)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_value: Mapped[int | None] = mapped_column(Integer, default=None)
    waiting: Mapped[bool] = mapped_column(Boolean)  # flagged and no reviewer has given a value yet

    acta: Mapped[Acta] = relationship(back_populates="fields")

    @property
    def value(self) -> int | None:
        return self.reviewed_value if self.reviewed else self.machine_value


class Review(Base):
    """Audit trail, append-only: who changed what on which acta, when, from what to what."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    acta_id: Mapped[str] = mapped_column(ForeignKey("actas.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))  # API key name
    at: Mapped[datetime] = mapped_column(_utc, default=utcnow)
    action: Mapped[ReviewAction] = mapped_column(Enum(ReviewAction, native_enum=False, length=16))
    field: Mapped[str | None] = mapped_column(String(96))  # section.KEY for confirm/correct
    old_value: Mapped[int | None] = mapped_column(Integer)
    new_value: Mapped[int | None] = mapped_column(Integer)
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)  # time the reviewer spent on the field (lead time)

    acta: Mapped[Acta] = relationship(back_populates="reviews")


class ReviewSession(Base):
    """A browser signed in to the review page (`service.review.sessions`): the cookie holds a random
    token, this row only its sha256; the role is the API key's, read on every request."""

    __tablename__ = "review_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_utc, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(_utc, index=True)


Index("ix_actas_election_mesa_status", Acta.template, Acta.mesa_code, Acta.status)
