"""Intents are looked up by plan and account: one worker's share of `apply --all`, and the queue's progress.
Without the index each lookup reads every intent of the journal, so a run slows as the journal grows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index intents by plan and account: apply looks them up on every order."""
    op.create_index("ix_intents_plan_account", "intents", ["plan_hash", "account"])


def downgrade() -> None:
    """Undo `upgrade`, for `alembic downgrade`."""
    op.drop_index("ix_intents_plan_account", table_name="intents")
