"""Mesas per election, scans per acta, a version per acta (issue 18).

- `mesas` is keyed by (template, code): a first-round and a runoff mesa with the same code are two
  mesas. Rebuilt from the stored actas (it only serves as a lock, and its `scans` was always 0).
- `scans`: each distinct file stored for an acta; one row per existing acta (its file), no perceptual
  hash for those (computing it would decode every stored scan).
- `actas.version`: checked on write by reviews (1 for existing actas).
- The conflict index leads with the election: (template, mesa_code, status).

Revision ID: 0002_mesa_per_election
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0002_mesa_per_election"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actas") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_index("ix_actas_mesa_status")
        batch.create_index("ix_actas_election_mesa_status", ["template", "mesa_code", "status"])

    op.drop_table("mesas")
    op.create_table(
        "mesas",
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("template", "code"),
    )
    op.create_table(
        "scans",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("acta_id", sa.String(64), nullable=False),
        sa.Column("phash", sa.String(64), nullable=True),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["acta_id"], ["actas.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"]),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_scans_acta_id", "scans", ["acta_id"])
    op.create_index("ix_scans_phash", "scans", ["phash"])
    op.execute(
        "INSERT INTO scans (sha256, acta_id, phash, uploaded_by, created_at) "
        "SELECT blob_sha256, id, NULL, uploaded_by, created_at FROM actas"
    )
    op.execute(
        "INSERT INTO mesas (template, code, scans) "
        "SELECT template, mesa_code, COUNT(*) FROM actas WHERE mesa_code IS NOT NULL GROUP BY template, mesa_code"
    )


def downgrade() -> None:
    op.drop_index("ix_scans_phash", "scans")
    op.drop_index("ix_scans_acta_id", "scans")
    op.drop_table("scans")
    op.drop_table("mesas")
    op.create_table(
        "mesas",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.execute("INSERT INTO mesas (code, scans) SELECT DISTINCT mesa_code, 0 FROM actas WHERE mesa_code IS NOT NULL")
    with op.batch_alter_table("actas") as batch:
        batch.drop_index("ix_actas_election_mesa_status")
        batch.create_index("ix_actas_mesa_status", ["mesa_code", "status"])
        batch.drop_column("version")
