"""Alembic environment: always runs on the connection the journal hands in, never opens its own."""

from __future__ import annotations

from alembic import context

from reconciler.journal.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
