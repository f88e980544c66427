"""Alembic environment: migrations run on the connection `service.schema` hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from service.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
