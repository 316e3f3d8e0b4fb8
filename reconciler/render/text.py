"""Terraform-like terminal output, coloured with rich (plain when not a terminal)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconciler.core.drift import MEASURED
from reconciler.core.models import Plan
from reconciler.render.fmt import money, pct, qty

if TYPE_CHECKING:
    from reconciler.core.drift import PortfolioDrift
    from reconciler.core.envelope import EnvelopeCheck


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan: one block per portfolio with changes, then a summary and the policy results."""
    changed = [p for p in plan.portfolios if p.actions]
    noted = [p for p in plan.portfolios if not p.actions and p.notes]
    # No orders is not the same as in sync: a cash warning or a minimum may be holding orders back.
    held = [p for p in plan.portfolios if not p.actions and p.outside_bands]
    if not changed and not held:
        console.print(Text("No changes. ", style="bold green") + Text("Every portfolio is within its bands."))
    elif not changed:
        console.print(
            Text("No changes, ", style="bold yellow")
            + Text(f"but {len(held)} portfolio(s) are outside their bands; the notes say why nothing trades.")
        )
    else:
        console.print("Reconciler will perform the following actions:\n")
    for pp in plan.portfolios:
        if not pp.actions:
            continue
        console.print(
            Text(f"  # portfolio {pp.name!r}", style="bold")
            + Text(f" (account {pp.account}, equity {money(pp.equity)})")
        )
        weights = {h.symbol: h for h in pp.holdings}
        rows: list[list[Text]] = []
        for a in pp.actions:
            h = weights[a.symbol]
            sign, style = ("+", "green") if a.side == "buy" else ("-", "red")
            rows.append([
                Text(f"  {sign}", style=style), Text(a.side, style=style), Text(qty(a.quantity)), Text(a.symbol),
                Text(money(a.price)), Text(money(a.notional)),
                Text(f"{pct(h.weight_before)} → {pct(h.weight_after)} ({pct(h.weight_target)})"), Text(a.reason),
            ])
        console.print(_columns(ORDER_COLUMNS, rows))
        console.print(
            f"    cash {money(pp.cash_before)} ({pct(pp.cash_weight_before)}) → ≈{money(pp.cash_after)}"
            f" ({pct(pp.cash_weight_after)}), target {pct(pp.cash_weight_target)}"
        )
        for note in pp.notes:
            console.print(Text(f"    note: {note}", style="dim"))
        console.print()
    for pp in noted:
        outside = pp.outside_bands
        state = f"no orders, {', '.join(outside)} outside the bands" if outside else "no orders"
        if pp.blocked:  # its weights come from a doubtful quote: saying what is outside the bands would mislead
            outside, state = ["?"], "not traded: doubtful quote"
        console.print(Text(f"  # portfolio {pp.name!r}", style="bold") + Text(f" (account {pp.account}): {state}"))
        for note in pp.notes:
            console.print(Text(f"    note: {note}", style="yellow" if outside else "dim"))
    if noted:
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


ORDER_COLUMNS = (
    ("", False), ("side", False), ("qty", True), ("symbol", False), ("price", True), ("notional", True),
    ("weight now → after (target)", False), ("why", False),
)


def _columns(columns: tuple[tuple[str, bool], ...], rows: list[list[Text]]) -> Text:
    """Rows in aligned columns (name, right-aligned), a dim header first. Not a rich Table: laying one out costs
    milliseconds, and a plan of a thousand portfolios prints a thousand of them."""
    header = [Text(name, style="dim") for name, _ in columns]
    widths = [max(cell.cell_len for cell in column) for column in zip(header, *rows, strict=True)]
    out = Text()
    for n, row in enumerate([header, *rows]):
        if n:
            out.append("\n")
        for i, (cell, width, (_, right)) in enumerate(zip(row, widths, columns, strict=True)):
            pad = " " * (width - cell.cell_len)
            last = i == len(columns) - 1
            out.append_text(Text(pad) + cell if right else cell + (Text("") if last else Text(pad)))
            if not last:
                out.append("  ")
    return out


def _origin(plan: Plan) -> str:
    quotes = f"; quotes from {', '.join(plan.quote_sources)}" if plan.quote_sources else ""
    if plan.git_commit is None:
        return "(not in a git repository)" + quotes
    return f"at commit {plan.git_commit[:12]}" + (" (uncommitted changes)" if plan.git_dirty else "") + quotes


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


def _weight(d: Decimal | None) -> str:
    return "—" if d is None else pct(d)


def render_target_changes(plan: Plan, console: Console, note: str = "") -> None:
    """What the YAML change did to the targets since the base ref, per portfolio: weights before → after."""
    if plan.base_commit is None:
        return
    head = f"Target changes since {plan.base_ref} ({plan.base_commit[:12]})"
    if not plan.target_changes:
        console.print(Text(f"{head}: none.", style="bold") + Text(f" {note}" if note else ""))
        console.print()
        return
    console.print(Text(f"{head}:", style="bold") + Text(f" {note}" if note else ""))
    for c in plan.target_changes:
        sign, style = {"added": ("+", "bold green"), "removed": ("-", "bold red")}.get(c.change, ("~", "bold yellow"))
        console.print(Text(f"  {sign} portfolio {c.portfolio!r}", style=style) + Text(f" ({c.change}, {c.account})"))
        for w in c.weights:
            delta = (w.after or Decimal(0)) - (w.before or Decimal(0))
            style = "green" if delta > 0 else "red"
            console.print(
                Text(f"      {w.symbol:<10} {_weight(w.before):>8} → {_weight(w.after):>8}  ")
                + Text(f"{delta * 100:+.2f} pp", style=style)
            )
        if c.cash_before != c.cash_after:
            console.print(f"      {'cash':<10} {_weight(c.cash_before):>8} → {_weight(c.cash_after):>8}")
        for line in c.settings:
            console.print(f"      {line}")
    console.print()


def render_envelope(check: EnvelopeCheck, console: Console, band: Decimal) -> None:
    """The verdict of `apply --envelope`: inside, or every way the new orders leave the reviewed envelope."""
    reviewed = check.reviewed_hash[:12]
    if check.ok:
        console.print(
            Text("Envelope: ", style="bold")
            + Text("within the reviewed plan's envelope", style="green")
            + Text(f" (plan {reviewed}, ±{band:.0%}; largest change in an order {check.max_deviation:.2%})")
        )
    else:
        console.print(Text(f"Envelope: outside the reviewed plan's envelope (plan {reviewed})", style="bold red"))
        for b in check.breaches:
            console.print(Text(f"  ✗ {b.render()}", style="red"))
    for d in check.dropped:
        console.print(
            Text(f"  · {d.portfolio} {d.symbol}: the reviewed {d.side} of {money(d.reviewed)} is no longer needed",
                 style="dim")
        )


def render_status(drifts: list[PortfolioDrift], console: Console) -> None:
    """One line per portfolio (Synced / Progressing / OutOfSync / Locked / Unknown), then the holdings outside
    their bands."""
    styles = {"Synced": "green", "Progressing": "blue", "OutOfSync": "yellow", "Locked": "cyan", "Unknown": "red"}
    table = Table(box=None, show_header=True, pad_edge=False, header_style="dim")
    for col in ("portfolio", "account", "status", "max drift", "detail"):
        table.add_column(col, justify="right" if col == "max drift" else "left")
    for d in drifts:
        shown = d.status in MEASURED
        table.add_row(
            d.portfolio, d.account, Text(d.status, style=styles[d.status]),
            pct(d.max_drift) if shown else "-", d.message,
        )
    console.print(table)
    for d in drifts:
        if d.status not in ("OutOfSync", "Progressing"):
            continue
        console.print(Text(f"\n  {d.portfolio}: outside the bands", style="bold"))
        for r in d.outside:
            console.print(
                f"    {r.symbol:<10} {pct(r.weight):>8} vs target {pct(r.target):>8}"
                f"  drift {r.drift * 100:+.2f} pp  (band ±{pct(r.band)})"
            )
