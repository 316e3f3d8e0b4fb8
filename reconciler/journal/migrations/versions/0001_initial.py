"""Initial journal schema: applies, intents, orders, fills, observations, policy decisions, events, paper
books.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reconciler.journal.tables import DecimalText

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the journal's first tables: applies, intents, orders, fills, observations, decisions, paper
    books."""
    op.create_table(
        "applies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("targets_hash", sa.String(64), nullable=False),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
    )
    op.create_index("ix_applies_plan_hash", "applies", ["plan_hash"])
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("apply_id", sa.String(36), sa.ForeignKey("applies.id"), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("portfolio", sa.String(100), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("leg", sa.Integer, nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False, unique=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", DecimalText, nullable=False),
        sa.Column("est_price", DecimalText, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_quantity", DecimalText),
        sa.Column("avg_price", DecimalText),
        sa.Column("message", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_intents_apply_id", "intents", ["apply_id"])
    op.create_index("ix_intents_account_status", "intents", ["account", "status"])
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(128), primary_key=True),
        sa.Column("broker_order_id", sa.String(100)),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", DecimalText, nullable=False),
        sa.Column("filled_quantity", DecimalText, nullable=False),
        sa.Column("avg_price", DecimalText),
        sa.Column("status", sa.String(20), nullable=False),
        _ts("submitted_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("fill_key", sa.String(160), nullable=False, unique=True),
        sa.Column("quantity", DecimalText, nullable=False),
        sa.Column("price", DecimalText, nullable=False),
        sa.Column("commission", DecimalText, nullable=False),
        _ts("filled_at"),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("apply_id", sa.String(36)),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        _ts("taken_at"),
    )
    op.create_index("ix_observations_account", "observations", ["account"])
    op.create_table(
        "policy_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("apply_id", sa.String(36)),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(10), nullable=False),
        sa.Column("portfolio", sa.String(100), nullable=False),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("overridden", sa.Boolean, nullable=False),
        sa.Column("override_by", sa.String(200)),
        sa.Column("override_reason", sa.Text),
        _ts("created_at"),
    )
    op.create_index("ix_policy_decisions_apply_id", "policy_decisions", ["apply_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("apply_id", sa.String(36)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("account", sa.String(100)),
        sa.Column("client_order_id", sa.String(128)),
        sa.Column("data", sa.Text, nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_events_apply_id", "events", ["apply_id"])
    op.create_table(
        "paper_accounts",
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("cash_settled", DecimalText, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "paper_positions",
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("quantity", DecimalText, nullable=False),
    )
    op.create_table(
        "paper_unsettled",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("amount", DecimalText, nullable=False),
        sa.Column("settles_on", sa.String(10), nullable=False),
    )
    op.create_index("ix_paper_unsettled_account", "paper_unsettled", ["account"])
    op.create_table(
        "paper_orders",
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("broker_order_id", sa.String(36), primary_key=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", DecimalText, nullable=False),
        sa.Column("filled_quantity", DecimalText, nullable=False),
        sa.Column("fill_price", DecimalText),
        sa.Column("commission", DecimalText, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reject_reason", sa.Text),
        _ts("created_at"),
        sa.UniqueConstraint("account", "client_order_id", name="uq_paper_orders_client_id"),
    )


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    for name in (
        "paper_orders", "paper_unsettled", "paper_positions", "paper_accounts", "events",
        "policy_decisions", "observations", "fills", "orders", "intents", "applies",
    ):
        op.drop_table(name)
