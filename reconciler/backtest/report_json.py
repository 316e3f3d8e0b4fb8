"""The backtest report as JSON (`backtest --json`): the table's figures, the settings and costs it ran on,
realized gains per year and the first events of each kind."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from reconciler.backtest.metrics import periods_per_year
from reconciler.backtest.report import MAX_EVENTS, Report


def _num(d: Decimal) -> float:
    """JSON has no decimals: a float, at the edge, as the report's readers take it."""
    return float(d)


def as_json(report: Report) -> str:
    """The same figures as the table, plus realized gains per year and the first events of each kind."""
    s = report.settings
    doc: dict[str, Any] = {
        "portfolio": report.portfolio,
        "prices": report.source,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "days": report.days,
        "rows_are": report.unit,
        "periods_per_year": periods_per_year(report.runs[0].dates),
        "years": report.years,
        "initial_cash": _num(s.initial_cash),
        "contribution": _num(s.contribution),
        "contribution_every": s.contribution_every,
        "costs": {
            "model": report.costs_model,
            "learned": report.learned,
            "slippage_bps": _num(s.costs.slippage_bps),
            "commission_per_order": _num(s.costs.commission.per_order),
            "commission_per_share": _num(s.costs.commission.per_share),
            "commission_bps": _num(s.costs.commission.bps),
        },
        "taxes": {
            "lots": s.lot_method, "short_rate": _num(s.tax_short), "long_rate": _num(s.tax_long),
            # only for a portfolio with `tax:`, so a run without one reads as it always did
            **({} if report.tax_source is None else {"source": report.tax_source}),
        },
        "risk_free": report.risk_free,
        "strategies": [],
    }
    for run, m in zip(report.runs, report.metrics, strict=True):
        doc["strategies"].append(
            {
                "name": run.strategy.name,
                "metrics": m.as_dict(),
                "realized_by_year": {
                    str(y): {"short": _num(t.short), "long": _num(t.long), "tax": _num(t.tax)}
                    for y, t in sorted(run.book.years.items())
                },
                "tax_accrued_at_end": _num(run.tax_accrued),
                "final_positions": {k: _num(v) for k, v in run.positions.items()},
                "final_cash": _num(run.cash),
                "events": [
                    {"day": e.day.isoformat(), "kind": e.kind, "message": e.message}
                    for e in run.events[:MAX_EVENTS]
                ],
            }
        )
    return json.dumps(doc, indent=2)
