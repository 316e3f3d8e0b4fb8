"""Client order ids: deterministic, unique per leg and account, and within the tightest broker limit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.models import Action
from reconciler.core.plan import CLIENT_ORDER_ID_LENGTH, client_order_id


def action(leg: int) -> Action:
    return Action(leg, "VTI", "buy", Decimal(1), Decimal(1), Decimal(1), Decimal(0), "underweight")


@given(plan_hash=st.text("0123456789abcdef", min_size=64, max_size=64), leg=st.integers(1, 99_999))
def test_ids_are_36_safe_characters_and_deterministic(plan_hash: str, leg: int) -> None:
    cid = client_order_id(plan_hash, "acct", action(leg))
    assert len(cid) == CLIENT_ORDER_ID_LENGTH == 36
    assert cid.startswith(f"rc-{plan_hash[:8]}-{leg}-")
    assert cid.replace("-", "").isalnum()
    assert cid == client_order_id(plan_hash, "acct", action(leg))


def test_ids_differ_by_leg_and_account() -> None:
    plan_hash = "ab" * 32
    ids = {
        client_order_id(plan_hash, account, action(leg)) for account in ("a", "b") for leg in range(1, 5001)
    }
    assert len(ids) == 10_000
