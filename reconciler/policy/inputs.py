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
    gains = sell_gains(pp)
    doc: dict[str, Any] = {
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
    if pp.tax is not None:  # without a `tax:` block the document is as it was before taxes
        for a, shown in zip(acts, doc["actions"], strict=True):
            shown["realized_gain"] = gains.get((a.leg, a.symbol))
        doc["tax"] = tax_input(pp)
    return doc


def sell_gains(pp: PortfolioPlan) -> dict[tuple[int, str], dict[str, float] | None]:
    """Per sell (leg, symbol) with tax figures, its realised gains as numbers; none without `tax:`."""
    if pp.tax is None:
        return {}
    return {
        (s.leg, s.symbol): {"short_term": float(s.short_term_gain), "long_term": float(s.long_term_gain),
                            "total": float(s.short_term_gain + s.long_term_gain), "tax": float(s.tax)}
        for s in pp.tax.sells
    }


def tax_input(pp: PortfolioPlan) -> dict[str, Any] | None:
    """The portfolio's realised gains as the policies see them (policies/max_realized_gain.rego caps them);
    null for a portfolio without a `tax:` block."""
    tax = pp.tax
    if tax is None:
        return None
    return {
        "method": tax.method,
        "short_term_gain": float(tax.short_term_gain),
        "long_term_gain": float(tax.long_term_gain),
        "realized_gain": float(tax.realized_gain),
        "estimated_tax": float(tax.tax),
        "realized_before": _num(tax.realized_before),
        "year_realized_gain": _num(tax.year_realized_gain),
        "max_realized_gain": _num(tax.max_realized_gain),
        "unavailable": sorted(tax.unavailable),
    }
