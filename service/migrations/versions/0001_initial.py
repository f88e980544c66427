"""The schema of release 0.1.0, exactly as `Base.metadata.create_all` made it then.

A 0.1.0 database (these tables, no `alembic_version`) is recognised as this revision and stamped.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.models import UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "mesas",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "actas",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("mesa_code", sa.String(32), nullable=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("machine_needs_review", sa.Boolean(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("reading", _json, nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["blob_sha256"], ["blobs.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_actas_created_at", "actas", ["created_at"])
    op.create_index("ix_actas_mesa_code", "actas", ["mesa_code"])
    op.create_index("ix_actas_mesa_status", "actas", ["mesa_code", "status"])
    op.create_index("ix_actas_needs_review", "actas", ["needs_review"])
    op.create_index("ix_actas_status", "actas", ["status"])
    op.create_index("ix_actas_template", "actas", ["template"])
    op.create_table(
        "acta_fields",
        sa.Column("acta_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(96), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("machine_value", sa.Integer(), nullable=True),
        sa.Column("machine_needs_review", sa.Boolean(), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("reviewed_value", sa.Integer(), nullable=True),
        sa.Column("waiting", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["acta_id"], ["actas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("acta_id", "name"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("acta_id", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("field", sa.String(96), nullable=True),
        sa.Column("old_value", sa.Integer(), nullable=True),
        sa.Column("new_value", sa.Integer(), nullable=True),
        sa.Column("old_status", sa.String(16), nullable=True),
        sa.Column("new_status", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["acta_id"], ["actas.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reviews_acta_id", "reviews", ["acta_id"])


def downgrade() -> None:
    for table in ("reviews", "acta_fields", "actas", "mesas", "blobs", "api_keys"):
        op.drop_table(table)
