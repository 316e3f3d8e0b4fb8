"""The policy input document: a portfolio's plan as JSON numbers, plus parameters and quote ages. Pure."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from reconciler.core.models import Action, PortfolioPlan, Quote
from reconciler.workspace.models import PolicyParams


def _num(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _numbers(value: Any) -> Any:
    """Decimals become JSON numbers: Rego compares a number with a string by type order, never by value."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def action_input(action: Action, quote: Quote | None, now: datetime) -> dict[str, Any]:
    """One action as the policies see it: numbers as JSON numbers, its quote and age beside it."""
    q = None
    if quote is not None:
        q = {
            "price": _num(quote.price),
            "previous_close": _num(quote.previous_close),
            "as_of": quote.as_of.isoformat(),
            "age_seconds": max(0.0, (now - quote.as_of).total_seconds()),
        }
    return {
        "leg": action.leg,
        "symbol": action.symbol,
        "side": action.side,
        "quantity": _num(action.quantity),
        "price": _num(action.price),
        "notional": _num(action.notional),
        "quote": q,
    }


def policy_input(
    pp: PortfolioPlan,
    params: PolicyParams,
    *,
    phase: str,
    now: datetime,
    actions: list[Action] | None = None,
    quotes: dict[str, Quote] | None = None,
) -> dict[str, Any]:
    """Build `input` for the Rego rules; at apply time `actions` is the one order about to be sent."""
    quotes = quotes if quotes is not None else pp.observation.quotes
    acts = pp.actions if actions is None else actions
    return {
        "phase": phase,
        "now": now.isoformat(),
        "portfolio": pp.name,
        "account": pp.account,
        "equity": _num(pp.equity),
        "turnover": _num(pp.turnover),
        "buy_notional": _num(pp.buy_notional),
        "sell_notional": _num(pp.sell_notional),
        "cash_before": _num(pp.cash_before),
        "cash_after": _num(pp.cash_after),
        "actions": [action_input(a, quotes.get(a.symbol), now) for a in acts],
        "params": _numbers(params.model_dump()),
    }
