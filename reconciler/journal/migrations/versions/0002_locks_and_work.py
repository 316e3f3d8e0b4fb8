"""Account locks (holder, heartbeat, expiry) and the work queue that `apply --all --workers N` claims from.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add account locks and the work queue, for concurrent applies and `apply --all`."""
    op.create_table(
        "locks",
        sa.Column("lock_id", sa.String(36), primary_key=True),
        sa.Column("account", sa.String(100), nullable=False, unique=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(100), nullable=False),
        _ts("acquired_at"),
        _ts("heartbeat_at"),
        _ts("expires_at"),
    )
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("message", sa.Text),
        _ts("created_at"),
        _ts("claimed_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.UniqueConstraint("plan_hash", "account", name="uq_work_items_plan_account"),
    )


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    op.drop_table("work_items")
    op.drop_table("locks")
