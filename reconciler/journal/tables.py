"""Journal schema. Money and quantities are stored as exact decimal text, identical on SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class DecimalText(TypeDecorator[Decimal]):
    """Decimal stored as text: SQLite has no exact numeric type and floats must never touch money."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """A Decimal stored as its exact text."""
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The exact Decimal back from its text."""
        return None if value is None else Decimal(value)


def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


applies = Table(
    "applies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("plan_hash", String(64), nullable=False, index=True),
    Column("targets_hash", String(64), nullable=False),
    Column("git_commit", String(64)),
    Column("actor", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("message", Text),
    _ts("started_at"),
    _ts("finished_at", nullable=True),
)

intents = Table(
    "intents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("apply_id", String(36), ForeignKey("applies.id"), nullable=False, index=True),
    Column("plan_hash", String(64), nullable=False),
    Column("portfolio", String(100), nullable=False),
    Column("account", String(100), nullable=False),
    Column("leg", Integer, nullable=False),
    Column("client_order_id", String(128), nullable=False, unique=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("est_price", DecimalText, nullable=False),
    Column("status", String(20), nullable=False),
    Column("filled_quantity", DecimalText),
    Column("avg_price", DecimalText),
    Column("message", Text),
    _ts("created_at"),
    _ts("updated_at"),
)

orders = Table(
    "orders",
    metadata,
    Column("client_order_id", String(128), primary_key=True),
    Column("broker_order_id", String(100)),
    Column("account", String(100), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("filled_quantity", DecimalText, nullable=False),
    Column("avg_price", DecimalText),
    Column("status", String(20), nullable=False),
    _ts("submitted_at"),
    _ts("updated_at"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_order_id", String(128), nullable=False, index=True),
    Column("fill_key", String(160), nullable=False, unique=True),
    Column("quantity", DecimalText, nullable=False),
    Column("price", DecimalText, nullable=False),
    Column("commission", DecimalText, nullable=False),
    _ts("filled_at"),
    # Units of the traded asset the broker kept as its fee (the position moves by the fill less this).
    Column("fee_in_kind", DecimalText, nullable=False, server_default="0"),
    # A fee paid in a third asset (Binance's BNB discount): which asset and how many units left the account;
    # `commission` holds their value in cash at the fill.
    Column("fee_asset", String(32), nullable=True),
    Column("fee_asset_amount", DecimalText, nullable=False, server_default="0"),
)

observations = Table(
    "observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False, index=True),
    Column("apply_id", String(36)),
    Column("purpose", String(20), nullable=False),
    Column("data", Text, nullable=False),
    _ts("taken_at"),
)

policy_decisions = Table(
    "policy_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("apply_id", String(36), index=True),
    Column("plan_hash", String(64), nullable=False),
    Column("phase", String(10), nullable=False),
    Column("portfolio", String(100), nullable=False),
    Column("policy", String(100), nullable=False),
    Column("kind", String(4), nullable=False),
    Column("level", String(20), nullable=False),
    Column("message", Text, nullable=False),
    Column("overridden", Boolean, nullable=False),
    Column("override_by", String(200)),
    Column("override_reason", Text),
    _ts("created_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("apply_id", String(36), index=True),
    Column("kind", String(40), nullable=False),
    Column("account", String(100)),
    Column("client_order_id", String(128)),
    Column("data", Text, nullable=False),
    _ts("created_at"),
)

# ---- the paper broker's own state (it is a broker: it keeps its books, not the executor's) ----

paper_accounts = Table(
    "paper_accounts",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("cash_settled", DecimalText, nullable=False),
    _ts("created_at"),
)

paper_positions = Table(
    "paper_positions",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("quantity", DecimalText, nullable=False),
)

paper_unsettled = Table(
    "paper_unsettled",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False, index=True),
    Column("amount", DecimalText, nullable=False),
    Column("settles_on", String(10), nullable=False),
)

paper_orders = Table(
    "paper_orders",
    metadata,
    Column("client_order_id", String(128), nullable=False),
    Column("account", String(100), nullable=False),
    Column("broker_order_id", String(36), primary_key=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("filled_quantity", DecimalText, nullable=False),
    Column("fill_price", DecimalText),
    Column("commission", DecimalText, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reject_reason", Text),
    _ts("created_at"),
    UniqueConstraint("account", "client_order_id", name="uq_paper_orders_client_id"),
)

# ---- a broker adapter's own state (Alpaca's activity cursor and settlement window,
# journal/broker_ledgers.py) ----

broker_ledgers = Table(
    "broker_ledgers",
    metadata,
    Column("broker", String(20), primary_key=True),
    Column("account", String(100), primary_key=True),
    Column("state", Text, nullable=False),
    _ts("updated_at"),
)

# ---- tax lots per account and symbol (journal/lots.py): what is left of each lot, its whole cost kept exact
# ----

lots = Table(
    "lots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("acquired", Date, nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("cost_basis", DecimalText, nullable=False),  # of `quantity`, fees included
    Column("source", String(20), nullable=False),  # import (a broker's export) or fill (a fill of an apply)
    _ts("recorded_at"),
    Index("ix_lots_account_symbol", "account", "symbol"),
)

locks = Table(
    "locks",
    metadata,
    Column("lock_id", String(36), primary_key=True),
    Column("account", String(100), nullable=False, unique=True),
    Column("holder", String(200), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("purpose", String(100), nullable=False),
    _ts("acquired_at"),
    _ts("heartbeat_at"),
    _ts("expires_at"),
)

work_items = Table(
    "work_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_hash", String(64), nullable=False),
    Column("account", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("claimed_by", String(200)),
    Column("message", Text),
    _ts("created_at"),
    _ts("claimed_at", nullable=True),
    _ts("finished_at", nullable=True),
    UniqueConstraint("plan_hash", "account", name="uq_work_items_plan_account"),
)

Index("ix_intents_account_status", intents.c.account, intents.c.status)
Index("ix_intents_plan_account", intents.c.plan_hash, intents.c.account)
