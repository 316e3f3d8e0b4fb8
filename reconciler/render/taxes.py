"""A portfolio's taxes in words, one line each, for the terminal and the pull-request comment alike."""

from __future__ import annotations

from reconciler.core.models import PortfolioPlan
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
