"""The review page (issue 16): the seconds a reviewer took per field, and the page's sign-in sessions.

- `reviews.seconds`: how long the reviewer spent on the field before confirming or correcting it (null
  for reviews sent without it, and for every review made before this revision).
- `review_sessions`: one row per signed-in browser: the sha256 of the cookie's random token (never the
  token), the API key it was opened with (revoking the key ends its sessions), the CSRF token of its
  forms, and when it expires.

Revision ID: 0003_review_page
Revises: 0002_mesa_per_election
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0003_review_page"
down_revision = "0002_mesa_per_election"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
    op.create_table(
        "review_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_review_sessions_expires_at", "review_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_expires_at", "review_sessions")
    op.drop_table("review_sessions")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("seconds")
