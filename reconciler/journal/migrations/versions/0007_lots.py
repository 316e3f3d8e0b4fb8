"""Tax lots per account and symbol: what is left of each lot and its whole cost, fees included (issue 26).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reconciler.journal.tables import DecimalText

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the tax lots table, for tax-aware planning."""
    op.create_table(
        "lots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("acquired", sa.Date, nullable=False),
        sa.Column("quantity", DecimalText, nullable=False),
        sa.Column("cost_basis", DecimalText, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lots_account_symbol", "lots", ["account", "symbol"])


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    op.drop_index("ix_lots_account_symbol", table_name="lots")
    op.drop_table("lots")
