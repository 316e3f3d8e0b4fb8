"""Fills record the part of the traded asset a broker kept as its fee (a crypto exchange charging a buy's fee
in the coin bought), so reconcile can explain the position that is left.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reconciler.journal.tables import DecimalText

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Keep a fee paid in the traded asset apart from cash fees."""
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("fee_in_kind", DecimalText, nullable=False, server_default="0"))


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("fee_in_kind")
