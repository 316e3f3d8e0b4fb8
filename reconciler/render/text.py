"""Terraform-like terminal output, coloured with rich (plain when not a terminal)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconciler.core.models import Plan
from reconciler.render.fmt import money, pct, qty


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan: one block per portfolio with changes, then a summary and the policy results."""
    changed = [p for p in plan.portfolios if p.actions]
    if not changed:
        console.print(Text("No changes. ", style="bold green") + Text("Every portfolio is within its bands."))
    else:
        console.print("Reconciler will perform the following actions:\n")
    for pp in plan.portfolios:
        if not pp.actions:
            continue
        console.print(
            Text(f"  # portfolio {pp.name!r}", style="bold")
            + Text(f" (account {pp.account}, equity {money(pp.equity)})")
        )
        table = Table(box=None, show_header=True, pad_edge=False, header_style="dim")
        for col in ("", "side", "qty", "symbol", "price", "notional", "weight now → after (target)", "why"):
            table.add_column(col, justify="right" if col in ("qty", "price", "notional") else "left")
        weights = {h.symbol: h for h in pp.holdings}
        for a in pp.actions:
            h = weights[a.symbol]
            sign, style = ("+", "green") if a.side == "buy" else ("-", "red")
            table.add_row(
                Text(f"  {sign}", style=style), Text(a.side, style=style), qty(a.quantity), a.symbol,
                money(a.price), money(a.notional),
                f"{pct(h.weight_before)} → {pct(h.weight_after)} ({pct(h.weight_target)})", a.reason,
            )
        console.print(table)
        console.print(
            f"    cash {money(pp.cash_before)} ({pct(pp.cash_weight_before)}) → ≈{money(pp.cash_after)}"
            f" ({pct(pp.cash_weight_after)}), target {pct(pp.cash_weight_target)}"
        )
        for note in pp.notes:
            console.print(Text(f"    note: {note}", style="dim"))
        console.print()
    orders = sum(len(p.actions) for p in plan.portfolios)
    if orders:
        buys = sum(1 for p in plan.portfolios for a in p.actions if a.side == "buy")
        console.print(
            Text("Plan: ", style="bold")
            + Text(f"{orders} orders ({buys} buy, {orders - buys} sell) in {len(changed)} portfolio(s); ")
            + Text(
                f"buy {money(sum((p.buy_notional for p in plan.portfolios), Decimal(0)))},"
                f" sell {money(sum((p.sell_notional for p in plan.portfolios), Decimal(0)))}"
            )
        )
    render_policies(plan, console)
    console.print(Text(f"plan {plan.content_hash[:12]}", style="dim"), Text(_origin(plan), style="dim"))


def _origin(plan: Plan) -> str:
    if plan.git_commit is None:
        return "(not in a git repository)"
    return f"at commit {plan.git_commit[:12]}" + (" (uncommitted changes)" if plan.git_dirty else "")


def render_policies(plan: Plan, console: Console) -> None:
    results = plan.policy_results
    denies = [r for r in results if r.kind == "deny"]
    warns = [r for r in results if r.kind == "warn"]
    if not results:
        console.print(Text("Policies: all passed.", style="green"))
        return
    console.print(Text(f"Policies: {len(denies)} denied, {len(warns)} warning(s)", style="bold"))
    for r in denies:
        style = "red" if r.blocking else "yellow"
        console.print(Text(f"  ✗ [{r.level}] {r.policy} ({r.portfolio}): {r.message}", style=style))
    for r in warns:
        console.print(Text(f"  ! {r.policy} ({r.portfolio}): {r.message}", style="yellow"))
