"""The persisted apply journal: SQLAlchemy tables, Alembic migrations, and the store that writes them."""
