"""A portfolio's taxes in words, one line each, for the terminal and the pull-request comment alike."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import Plan, PortfolioPlan
from reconciler.render.fmt import money, qty


def tax_lines(pp: PortfolioPlan) -> list[str]:
    """Each sell's lots, realised gains and estimated tax, the portfolio's totals and the year's budget, and
    the sells without figures; nothing for a portfolio without a `tax:` block."""
    tax = pp.tax
    if tax is None:
        return []
    lines = []
    for s in tax.sells:
        lots = ", ".join(f"{qty(c.quantity)} of {c.acquired.isoformat()} at {money(c.unit_cost)}"
                         f" ({'long' if c.long_term else 'short'})" for c in s.lots)
        lines.append(f"sell {qty(s.quantity)} {s.symbol} closes {lots or 'no lots'}: short-term gain"
                     f" {money(s.short_term_gain)}, long-term gain {money(s.long_term_gain)}, estimated tax"
                     f" {money(s.tax)}")
    for symbol, why in tax.unavailable.items():
        lines.append(f"{symbol}: tax figures unavailable: {why}")
    total = (f"taxes ({tax.method}): realised short-term {money(tax.short_term_gain)}, long-term"
             f" {money(tax.long_term_gain)}, estimated tax {money(tax.tax)}")
    year = tax.year_realized_gain
    if tax.max_realized_gain is not None and year is not None:
        total += f"; this year {money(year)} of the {money(tax.max_realized_gain)} budget"
    lines.append(total)
    return lines


def plan_taxes(plan: Plan) -> str:
    """The plan's estimated tax over the portfolios with a `tax:` block, and what it leaves out."""
    selling = [p for p in plan.portfolios if any(a.side == "sell" for a in p.actions)]
    taxed = [p.tax for p in selling if p.tax is not None]
    if not taxed:
        return "not estimated (no portfolio that sells sets `tax:`)"
    total = sum((t.tax for t in taxed), Decimal(0))
    missing = sum(len(t.unavailable) for t in taxed) + sum(
        1 for p in selling if p.tax is None for a in p.actions if a.side == "sell"
    )
    return money(total) + (f" ({missing} sell(s) without figures)" if missing else "")
