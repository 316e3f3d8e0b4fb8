"""Fills record a fee paid in a third asset (Binance's BNB discount: neither the cash nor the coin traded), so
reconcile can explain that asset's balance, and the commission is its value at the fill.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reconciler.journal.tables import DecimalText

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Record the asset a fee was paid in and its amount, for exchanges that charge in a third coin."""
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("fee_asset", sa.String(32), nullable=True))
        batch.add_column(sa.Column("fee_asset_amount", DecimalText, nullable=False, server_default="0"))


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("fee_asset_amount")
        batch.drop_column("fee_asset")
