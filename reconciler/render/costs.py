"""`reconciler costs` as text: per broker and symbol class, each learned figure with its 95% interval."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.core.learned_costs import Estimate, Fit

METHOD = (
    "95% intervals: Student-t of the mean per fill (slippage, latency) and of a least-squares line of each"
    " order's commission on its quantity (per order = intercept, per share = slope)."
)


def _row(label: str, e: Estimate | None, shown: Callable[[float], str]) -> str:
    if e is None:
        return f"  {label:<18} n/a"
    return f"  {label:<18} {shown(e.value):>12}   95% {shown(e.low)} … {shown(e.high)}   n={e.n:,}"


def costs_lines(fits: Sequence[Fit], source: str) -> list[str]:
    """The lines `reconciler costs` prints: a header, a block per group, how the intervals are made."""
    lines = [f"Costs learned from the journal's fills ({source}): {len(fits)} broker/symbol class(es)"]
    for f in fits:
        span = f", {f.first:%Y-%m-%d} → {f.last:%Y-%m-%d}" if f.first and f.last else ""
        lines += ["", f"{f.broker} · {f.symbol_class}: {f.fills:,} fills of {f.orders:,} orders{span}"]
        if f.refused:
            lines.append(f"  not fitted: {f.refused}")
            continue
        lines += [
            _row("slippage", f.slippage_bps, lambda x: f"{x:.2f} bps"),
            _row("commission/order", f.commission_per_order, lambda x: f"${x:,.4f}"),
            _row("commission/share", f.commission_per_share, lambda x: f"${x:,.6f}"),
            _row("fill latency", f.latency_seconds, lambda x: f"{x:,.2f} s"),
            *(f"  note: {n}" for n in f.notes),
        ]
    return [*lines, "", METHOD]
