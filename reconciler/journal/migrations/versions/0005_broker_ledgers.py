"""A broker adapter's ledger state per account (Alpaca's activity cursor and settlement window): the next
process reads the account's activities on from where the last one stopped, never its whole history.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Keep each broker account's cash ledger between runs, so settlement is not read again from scratch."""
    op.create_table(
        "broker_ledgers",
        sa.Column("broker", sa.String(20), primary_key=True),
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    op.drop_table("broker_ledgers")
