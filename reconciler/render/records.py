"""`history` and `show APPLY_ID` on the terminal: what the journal holds, in the plan's vocabulary (the light
table, right-aligned numbers, status and side in their colours, times to the second with their zone)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.text import Text

from reconciler.render.fmt import id_tail, money, qty, side_text, status_style, status_text, when
from reconciler.render.table import Col, fit, header, layout, line

HISTORY_COLUMNS = (
    Col("apply"), Col("started"), Col("status"), Col("orders", right=True), Col("filled", right=True),
    Col("plan", drop=2), Col("commit", drop=1), Col("actor", wrap=True),
)


def render_history(rows: list[dict[str, Any]], console: Console) -> None:
    """The most recent applies, newest first."""
    table = [
        [Text(r["id"][:8]), Text(when(r["started_at"])), status_text(r["status"]), Text(f"{r['orders']:,}"),
         Text(f"{r['filled']:,}"), Text(r["plan_hash"][:12]), Text((r["git_commit"] or "-")[:12]),
         Text(r["actor"])]
        for r in rows
    ]
    console.print(layout(HISTORY_COLUMNS, table, console.width))


ORDER_COLUMNS = (
    Col("leg", right=True, drop=3), Col("status"), Col("side"), Col("qty", right=True), Col("symbol"),
    Col("filled", right=True), Col("avg price", right=True, drop=1), Col("notional", right=True),
    Col("id", drop=2),
)
EVENT_COLUMNS = (
    Col("at"),
    Col("event"),
    Col("account", drop=1, wrap=True),
    Col("order"),
    Col("detail", wrap=True),
)


def _number(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def render_apply(a: dict[str, Any], console: Console) -> None:
    """One apply: what, who and when; its orders; its policy decisions with their portfolio; its events."""
    console.print(Text(f"apply {a['id']}", style="bold") + Text("  ") + status_text(a["status"])
                  + Text(f"  by {a['actor']}"))
    for key, value in (("plan", a["plan_hash"]), ("commit", a["git_commit"] or "-"),
                       ("started", when(a["started_at"])), ("finished", when(a["finished_at"]))):
        console.print(Text(f"  {key:<9}", style="dim") + Text(str(value)))
    if a["message"]:
        console.print(Text("  message  ", style="dim") + Text(str(a["message"])))
    console.print()
    rows: dict[str, list[list[Text]]] = {}
    for i in a["intents"]:
        filled, paid = _number(i["filled_quantity"]), _number(i["avg_price"])
        rows.setdefault(i["portfolio"], []).append([
            Text(str(i["leg"])), status_text(i["status"]), side_text(i["side"]),
            Text(qty(Decimal(str(i["quantity"])))),
            Text(i["symbol"]), Text(qty(filled) if filled is not None else "-"),
            Text(money(paid) if paid is not None else "-"),
            Text(money(filled * paid) if filled and paid is not None else "-"),
            Text(id_tail(i["client_order_id"])),
        ])
    console.print(Text(f"Orders ({len(a['intents'])})", style="bold"))
    # One table for every portfolio, so the columns line up across them; a portfolio's name heads its orders.
    everything = [header(ORDER_COLUMNS), *(row for group in rows.values() for row in group)]
    kept, widths = fit(ORDER_COLUMNS, everything, console.width, 4)
    columns = [ORDER_COLUMNS[k] for k in kept]
    console.print(line(columns, [header(ORDER_COLUMNS)[k] for k in kept], widths, 4))
    for portfolio, group in rows.items():
        console.print(Text(f"  # portfolio {portfolio!r}", style="bold"))
        for row in group:
            console.print(line(columns, [row[k] for k in kept], widths, 4))
    decisions = a["policy_decisions"]
    console.print(Text(f"\nPolicy decisions ({len(decisions)})", style="bold"))
    for d in decisions:
        mark, style = ("✗", "red") if d["kind"] == "deny" else ("!", "yellow")
        if d["overridden"]:
            style = "yellow"
        said = Text(f"  {mark} [{d['phase']}] [{d['level']}] {d['policy']} ({d['portfolio']}):"
                    f" {d['message']}",
                    style=style)
        if d["overridden"]:
            said.append(f" (overridden by {d['override_by']}: {d['override_reason']})", style="dim")
        console.print(said)
    console.print(Text(f"\nFills ({len(a['fills'])})", style="bold") + Text(
        f"  commission {money(sum((Decimal(str(f['commission'])) for f in a['fills']), Decimal(0)))}"
        if a["fills"] else ""
    ))
    events = [
        [
            Text(when(e["created_at"])),
            Text(e["kind"], style=_event_style(e["kind"])),
            Text(e["account"] or "-"),
            Text(id_tail(e["client_order_id"]) if e["client_order_id"] else "-"),
            Text(_detail(e["data"])),
        ]
        for e in a["events"]
    ]
    console.print(Text(f"\nEvents ({len(events)})", style="bold"))
    if events:
        console.print(layout(EVENT_COLUMNS, events, console.width, indent=2))


def _event_style(kind: str) -> str:
    words = kind.replace("_", ".").split(".")
    bad = {"failed", "discrepancy", "unconfirmed", "given", "never", "not", "lost"}
    return "red" if bad & set(words) else status_style("done") if "acquired" in words else ""


def _detail(data: str) -> str:
    """An event's data as `key=value` pairs (the journal keeps it as JSON)."""
    try:
        fields = json.loads(data)
    except ValueError:
        return data
    if not isinstance(fields, dict):
        return str(fields)
    return " ".join(
        f"{k}={v}" for k, v in fields.items() if v is not None and k not in ("account", "client_order_id")
    )
