"""Terraform-like terminal output, coloured with rich (plain when not a terminal)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from reconciler.core.drift import MEASURED
from reconciler.core.models import Plan, PortfolioPlan
from reconciler.render.fmt import SIDE_STYLE, money, pct, points, qty, side_text, status_text
from reconciler.render.table import Col, layout
from reconciler.render.taxes import tax_lines

if TYPE_CHECKING:
    from reconciler.core.drift import PortfolioDrift
    from reconciler.core.envelope import EnvelopeCheck


def _withdrawal(pp: PortfolioPlan, console: Console) -> None:
    """The cash a pending withdrawal keeps, on its own line (core.raise_cash)."""
    if pp.withdrawal is not None:
        console.print(f"    withdrawal {money(pp.withdrawal)} kept as cash, not reinvested until its date")


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan: one block per portfolio with changes, then a summary and the policy results."""
    changed = [p for p in plan.portfolios if p.actions]
    noted = [p for p in plan.portfolios if not p.actions and p.notes]
    # No orders is not the same as in sync: a cash warning or a minimum may be holding orders back.
    denied = sorted({r.portfolio for r in plan.blocked if not r.overridden(plan.overridden_policies)})
    held = [p for p in plan.portfolios if not p.actions and p.outside_bands and p.name not in denied]
    if denied:  # what stops a portfolio comes before what is merely outside a band
        console.print(
            Text("Blocked: ", style="bold red")
            + Text(f"{len(denied)} portfolio(s) denied by policy ({', '.join(denied[:5])}"
                   f"{', …' if len(denied) > 5 else ''}); the policies below say why.")
        )
    if not changed and not held and denied:
        console.print(Text("Nothing else changes.\n"))
    elif not changed and not held:
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
        moves = aligned([(weights[a.symbol].weight_before, weights[a.symbol].weight_after,
                          weights[a.symbol].weight_target) for a in pp.actions])
        for a, move in zip(pp.actions, moves, strict=True):
            sign = "+" if a.side == "buy" else "-"
            rows.append([
                Text(f"  {sign}", style=SIDE_STYLE[a.side]), side_text(a.side), Text(qty(a.quantity)),
                Text(a.symbol),
                Text(money(a.price)), Text(money(a.notional)), Text(move), Text(a.reason),
            ])
        console.print(layout(ORDER_COLUMNS, rows, console.width))
        console.print(
            f"    cash {money(pp.cash_before)} ({pct(pp.cash_weight_before)}) → ≈{money(pp.cash_after)}"
            f" ({pct(pp.cash_weight_after)}), target {pct(pp.cash_weight_target)}"
        )
        _withdrawal(pp, console)
        for line in tax_lines(pp):
            console.print(f"    {line}")
        for note in pp.notes:
            console.print(Text(f"    note: {note}", style="dim"))
        console.print()
    for pp in noted:
        outside = pp.outside_bands
        state = f"no orders, {', '.join(outside)} outside the bands" if outside else "no orders"
        # its weights come from a doubtful quote: saying what is outside the bands would mislead
        if pp.blocked:
            outside, state = ["?"], "not traded: doubtful quote"
        console.print(Text(f"  # portfolio {pp.name!r}", style="bold") + Text(f" (account {pp.account}):"
            f" {state}"))
        _withdrawal(pp, console)
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
    Col(""), Col("side"), Col("qty", right=True), Col("symbol"), Col("price", right=True, drop=1),
    Col("notional", right=True), Col("weight now → after (target)"), Col("why", wrap=True),
)


def aligned(moves: list[tuple[Decimal, Decimal, Decimal]]) -> list[str]:
    """"now → after (target)" for each row, every part padded to its widest, so the arrows line up."""
    parts = [(pct(now), pct(after), f"({pct(target)})") for now, after, target in moves]
    w = [max((len(p[i]) for p in parts), default=0) for i in range(3)]
    return [f"{a:>{w[0]}} → {b:>{w[1]}} {c:>{w[2]}}" for a, b, c in parts]


def _origin(plan: Plan) -> str:
    quotes = f"; quotes from {', '.join(plan.quote_sources)}" if plan.quote_sources else ""
    if plan.git_commit is None:
        return "(not in a git repository)" + quotes
    return f"at commit {plan.git_commit[:12]}" + (" (uncommitted changes)" if plan.git_dirty else "") + quotes


def render_policies(plan: Plan, console: Console) -> None:
    """The policies' verdicts under the plan, denies first, so a reader sees why a plan blocks."""
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
        sign, style = {"added": ("+", "bold green"), "removed": ("-", "bold red")}.get(
            c.change, ("~", "bold yellow")
        )
        console.print(Text(f"  {sign} portfolio {c.portfolio!r}", style=style) + Text(f" ({c.change},"
            f" {c.account})"))
        for w in c.weights:
            delta = (w.after or Decimal(0)) - (w.before or Decimal(0))
            console.print(
                Text(f"      {w.symbol:<10} {_weight(w.before):>8} → {_weight(w.after):>8}  ")
                + drift_text(delta)
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
        console.print(
            Text(f"Envelope: outside the reviewed plan's envelope (plan {reviewed})", style="bold red")
        )
        for b in check.breaches:
            console.print(Text(f"  ✗ {b.render()}", style="red"))
    for d in check.dropped:
        console.print(
            Text(f"  · {d.portfolio} {d.symbol}: the reviewed {d.side} of {money(d.reviewed)} is no longer"
                 " needed",
                 style="dim")
        )


def render_status(drifts: list[PortfolioDrift], console: Console) -> None:
    """One line per portfolio (Synced / Progressing / OutOfSync / Locked / Unknown), then the holdings outside
    their bands."""
    rows = [
        [Text(d.portfolio), Text(d.account), status_text(d.status),
         Text(points(d.max_drift, signed=False) if d.status in MEASURED else "-"), Text(d.message)]
        for d in drifts
    ]
    console.print(layout(STATUS_COLUMNS, rows, console.width))
    for d in drifts:
        if d.status not in ("OutOfSync", "Progressing"):
            continue
        console.print(Text(f"\n  {d.portfolio}: outside the bands", style="bold"))
        outside = [[Text(r.symbol), Text(pct(r.weight)), Text(pct(r.target)), drift_text(r.drift),
                    Text(f"±{points(r.band, signed=False)}")] for r in d.outside]
        console.print(layout(OUTSIDE_COLUMNS, outside, console.width, indent=4))


STATUS_COLUMNS = (
    Col("portfolio", wrap=True), Col("account", wrap=True, drop=1), Col("status"),
    Col("max drift", right=True), Col("detail", wrap=True, least=20),
)
OUTSIDE_COLUMNS = (
    Col("symbol"), Col("now", right=True), Col("target", right=True), Col("drift", right=True),
    Col("band", right=True),
)


def drift_text(d: Decimal) -> Text:
    """A drift in percentage points, coloured by its direction (over target green, under red)."""
    return Text(points(d), style="green" if d > 0 else "red" if d < 0 else "")
