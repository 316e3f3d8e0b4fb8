"""Off a terminal, apply writes each outcome line as its plain text, straight to the console's file: the same
bytes rich writes for it, line for line, for every kind of line the stream prints (portfolio heading, header,
order row, the sentence under it with broker text holding a tab and control characters, totals)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from rich.console import Console

from reconciler.execution.leg import OrderOutcome
from reconciler.journal.sentences import order_sentence
from reconciler.render.outcomes import OutcomeStream
from tests.render.test_terminal import CID, CLOCK, PLAN

D = Decimal


def _printed(direct: bool) -> tuple[str, OutcomeStream]:
    out = Console(file=io.StringIO(), width=120, no_color=True, highlight=False, soft_wrap=True)
    rows: dict[str, dict[str, Any]] = {}
    stream = OutcomeStream(out, PLAN, CLOCK, rows.get, order_sentence)
    if not direct:
        stream.plain = None  # every line through rich's print, as before the direct path
    messages = [None, "limit not reached:\tbroker said \x1b[31mno\x1b[0m ünïcödé", "partly\r\nfilled"]
    for n, (name, a) in enumerate((pp.name, a) for pp in PLAN.portfolios for a in pp.actions):
        cid = CID.format(leg=n)
        status = "filled" if n == 0 else "canceled"
        rows[cid] = {"status": status, "quantity": a.quantity, "filled_quantity": D(3) * n,
                     "avg_price": D("10.5"), "message": messages[n]}
        stream(OrderOutcome(name, cid, a.symbol, a.side, a.quantity, status, D(3) * n, D("10.5"),
                            planned_price=a.price, commission=D("0.62")))
    stream.close()
    stream.finish()
    return out.file.getvalue(), stream  # type: ignore[attr-defined]


def test_off_a_terminal_the_stream_writes_lines_without_rich() -> None:
    _, stream = _printed(direct=True)
    assert stream.plain is not None


def test_the_direct_lines_are_the_bytes_rich_writes() -> None:
    assert _printed(direct=True)[0] == _printed(direct=False)[0]


def test_on_a_terminal_every_line_goes_through_rich() -> None:
    out = Console(file=io.StringIO(), width=120, force_terminal=True, no_color=True)
    stream = OutcomeStream(out, PLAN, CLOCK, {}.get, order_sentence)
    stream.close()
    assert stream.plain is None


def test_with_colour_forced_off_a_terminal_every_line_goes_through_rich() -> None:
    out = Console(file=io.StringIO(), width=120, color_system="standard", force_terminal=False)
    stream = OutcomeStream(out, PLAN, CLOCK, {}.get, order_sentence)
    assert stream.plain is None
