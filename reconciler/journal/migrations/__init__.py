"""The journal's schema migrations (Alembic), run when a journal is created or opened for writing."""
