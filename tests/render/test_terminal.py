"""One terminal vocabulary (issue 27, section 2): apply's outcome lines and totals, `history`, `show` and
`status` in the plan's light table, fitted to 100 and 120 columns without cutting a number; apply streams each
outcome while the apply is still running (section 3)."""

from __future__ import annotations

import io
import logging
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy import create_engine, text

from reconciler.cli.main import main
from reconciler.clock import FixedClock
from reconciler.core.models import Action, PolicyResult
from reconciler.execution.leg import OrderOutcome
from reconciler.journal.sentences import order_sentence
from reconciler.render.fmt import id_tail, money, points, signed_money, when
from reconciler.render.outcomes import Fill, OutcomeStream
from reconciler.render.records import render_apply, render_history
from reconciler.render.table import Col, layout
from reconciler.render.text import render_plan
from tests.builders import holding, plan_of, portfolio
from tests.builders import sealed as plan
from tests.conftest import Workspace

D = Decimal
WIDTHS = (100, 120)
CLOCK = FixedClock(datetime(2026, 3, 2, 15, 0, 7, 123456, tzinfo=UTC))
CID = "rc-2a09f3c1-{leg}-0123456789abcdef{leg:04d}"


def console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, no_color=True, highlight=False, soft_wrap=True)


def output(out: Console) -> list[str]:
    return out.file.getvalue().splitlines()  # type: ignore[attr-defined]


def too_wide(lines: list[str], width: int) -> list[str]:
    return [line for line in lines if len(line) > width]


# ---- apply: outcome lines, totals, slippage ----

PLAN = plan_of({
    "alice-ira": {"VTI": ("buy", D("35886.84")), "BND": ("buy", D("27974.40"))},
    "bob-taxable-long-portfolio-name": {"GLD": ("sell", D("2917.20"))},
})


def _stream(width: int) -> tuple[Console, OutcomeStream]:
    rows: dict[str, dict[str, Any]] = {}
    out = console(width)
    stream = OutcomeStream(out, PLAN, CLOCK, rows.get, order_sentence)
    fills = {"VTI": (D(124), D("289.5547"), D("289.41"), "filled"), "BND": (D(200), D("72.8864"), D("72.85"),
                                                                             "canceled"),
             "GLD": (D(12), D("242.9784"), D("243.10"), "filled")}
    for n, (name, a) in enumerate((pp.name, a) for pp in PLAN.portfolios for a in pp.actions):
        cid = CID.format(leg=n)
        filled, price, planned, status = fills[a.symbol]
        rows[cid] = {"status": status, "quantity": D(384) if a.symbol == "BND" else filled,
                     "filled_quantity": filled, "avg_price": price, "message": None}
        stream(OrderOutcome(name, cid, a.symbol, a.side, rows[cid]["quantity"], status, filled, price,
                            planned_price=planned, commission=D("0.62")))
    stream.close()
    stream.finish()
    return out, stream


@pytest.mark.parametrize("width", WIDTHS)
def test_apply_lines_fit_the_terminal_and_keep_every_number_whole(width: int) -> None:
    out, _ = _stream(width)
    lines = output(out)
    assert too_wide(lines, width) == []
    assert any("$35,904.78" in line for line in lines)  # 124 × $289.5547, the notional filled, in full


def test_apply_prints_a_total_line_per_portfolio_and_one_for_the_apply() -> None:
    out, _ = _stream(120)
    totals = [line.strip() for line in output(out) if line.strip().startswith("total:")]
    assert len(totals) == 2


def test_the_apply_total_adds_up_what_filled() -> None:
    _, stream = _stream(120)
    assert stream.overall.bought == D(124) * D("289.5547") + D(200) * D("72.8864")


def test_the_apply_total_line_says_money_bought_sold_and_cost() -> None:
    out, _ = _stream(120)
    (total,) = [line for line in output(out) if line.startswith("Total:")]
    assert total.startswith("Total: 2/3 filled · bought $50,482.06 · sold $2,915.74 · cost $1.86 · slippage ")


def test_an_order_that_did_not_fill_in_full_says_so_under_its_line() -> None:
    out, _ = _stream(120)
    lines = output(out)
    at = next(n for n, line in enumerate(lines) if id_tail(CID.format(leg=0)) in line)
    assert lines[at + 1].strip() == "filled in part, 200 of 384; the remainder cancelled"


def test_slippage_is_a_cost_when_a_buy_pays_more_than_planned() -> None:
    assert Fill("buy", D(10), D("101"), D("100"), D(0)).slippage == D(10)


def test_slippage_is_a_cost_when_a_sell_gets_less_than_planned() -> None:
    assert Fill("sell", D(10), D("99"), D("100"), D(0)).slippage == D(10)


def test_slippage_in_basis_points_of_the_planned_value() -> None:
    assert Fill("buy", D(10), D("100.05"), D("100"), D(0)).slippage_bps == "+5.0 bps"


# ---- the vocabulary ----

def test_a_drift_is_in_signed_percentage_points() -> None:
    assert points(D("0.1022")) == "+10.22 pp"


def test_a_largest_drift_is_in_unsigned_percentage_points() -> None:
    assert points(D("-0.1022"), signed=False) == "10.22 pp"


def test_a_loss_puts_its_sign_before_the_currency() -> None:
    assert signed_money(D("-2924.99")) == "-$2,924.99"


def test_a_time_is_to_the_second_with_its_zone() -> None:
    assert when(CLOCK.now()) == "2026-03-02 15:00:07 UTC"


def test_a_naive_journal_time_is_read_as_utc() -> None:
    assert when(datetime(2026, 3, 2, 15, 0, 7, 999)) == "2026-03-02 15:00:07 UTC"


def test_a_wrapping_column_goes_on_over_more_lines_and_cuts_nothing() -> None:
    words = "drift +10.22 pp beyond the band of ±5.00 pp around the target 36.00%"
    table = layout((Col("n", right=True), Col("why", wrap=True)), [[Text("1"), Text(words)]], width=30).plain
    assert " ".join(table.split()[3:]) == words  # after the header (n, why) and the row's 1


def test_a_wrapping_column_keeps_the_table_within_its_width() -> None:
    words = "drift +10.22 pp beyond the band of ±5.00 pp around the target 36.00%"
    table = layout((Col("n", right=True), Col("why", wrap=True)), [[Text("1"), Text(words)]], width=30).plain
    assert too_wide(table.splitlines(), 30) == []


# ---- history and show ----

def _apply_record() -> dict[str, Any]:
    start = datetime(2026, 3, 2, 15, 0, 7, 123456)
    intents = [
        {
            "leg": n,
            "portfolio": "bob-taxable-long-portfolio-name",
            "status": s,
            "side": side,
            "quantity": D(q),
            "symbol": sym,
            "filled_quantity": D(f) if f else None,
            "avg_price": D(p) if p else None,
            "client_order_id": CID.format(leg=n),
        }
        for n, (s, side, q, sym, f, p) in enumerate(
            [
                ("filled", "buy", "124", "VTI", "124", "289.5547"),
                ("partially_filled", "sell", "1234567.25", "BNDX", "1000000.5", "1234.5678"),
                ("denied", "buy", "10", "VNQ", None, None),
            ],
            start=1,
        )
    ]
    return {
        "id": "f4c591d2-36a3-4c90-9420-61a23dbaced2",
        "status": "partial",
        "actor": "ci@runner",
        "plan_hash": "6f" * 32,
        "git_commit": "ab" * 20,
        "started_at": start,
        "finished_at": start,
        "message": "bob not traded: …",
        "intents": intents,
        "policy_decisions": [
            {
                "phase": "plan",
                "kind": "deny",
                "level": "hard-mandatory",
                "policy": "max_turnover",
                "portfolio": "bob-taxable-long-portfolio-name",
                "message": "turnover 97.8% > 50%",
                "overridden": False,
                "override_by": None,
                "override_reason": None,
            }
        ],
        "fills": [{"commission": D("0.62")}],
        "events": [
            {
                "created_at": start,
                "kind": "order.remainder_canceled",
                "account": "acct-bob-taxable",
                "client_order_id": CID.format(leg=2),
                "data": '{"filled": "1000000.5", "ordered": "1234567.25"}',
            },
            {
                "created_at": start,
                "kind": "lock.acquired",
                "account": "acct-bob-taxable",
                "client_order_id": None,
                "data": '{"holder": "ci@runner", "lock_id": "0f1e2d3c"}',
            },
        ],
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_show_fits_the_terminal_and_keeps_every_number_whole(width: int) -> None:
    out = console(width)
    render_apply(_apply_record(), out)
    lines = output(out)
    assert too_wide([line for line in lines if "turnover" not in line], width) == []  # a policy line is prose
    assert any(money(D("1000000.5") * D("1234.5678")) in line for line in lines)  # the notional, whole


def test_show_lists_each_policy_decision_with_its_portfolio() -> None:
    out = console(120)
    render_apply(_apply_record(), out)
    assert (
        "  ✗ [plan] [hard-mandatory] max_turnover (bob-taxable-long-portfolio-name): turnover 97.8% > 50%"
        in output(out)
    )


def test_show_lists_its_events() -> None:
    out = console(120)
    render_apply(_apply_record(), out)
    events = [line.split()[3] for line in output(out) if line.startswith("  2026-03-02 15:00:07 UTC")]
    assert events == ["order.remainder_canceled", "lock.acquired"]


def test_show_says_times_to_the_second_with_their_zone() -> None:
    out = console(120)
    render_apply(_apply_record(), out)
    assert "  started  2026-03-02 15:00:07 UTC" in output(out)


@pytest.mark.parametrize("width", WIDTHS)
def test_history_fits_the_terminal(width: int) -> None:
    a = _apply_record()
    rows = [{**a, "orders": 3063, "filled": 3001, "actor": "github-actions[bot] via workflow apply.yml"}] * 3
    out = console(width)
    render_history(rows, out)
    assert too_wide(output(out), width) == []


def test_history_right_aligns_its_counts() -> None:
    a = _apply_record()
    out = console(120)
    render_history([{**a, "orders": 3063, "filled": 3001}, {**a, "orders": 7, "filled": 7}], out)
    _, big, small = output(out)
    assert big.index("3,063") + len("3,063") == small.index("      7") + len("      7")


WHY = "drift +10.22 pp beyond its band of ±5.00 pp; the minimum trade of $1,000.00 is met"
WIDE = plan(portfolio(
    "growth-with-a-long-name", actions=[
        Action(1, "VTI", "sell", D("1234.5678"), D("289.41"), D("357301.56"), D(0), WHY),
        Action(2, "BNDX", "buy", D(20), D("72.85"), D("1457.00"), D(0), WHY),
    ], holdings=[holding("VTI", "0.6", "0.4553", "0.45"), holding("BNDX", "0.05", "0.5448", "0.55")],
))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_plan_table_fits_the_terminal(width: int) -> None:
    out = console(width)
    render_plan(WIDE, out)
    assert too_wide(output(out), width) == []


def test_the_plan_table_wraps_its_reasons_rather_than_cut_them() -> None:
    out = console(100)
    render_plan(WIDE, out)
    assert " ".join(output(out)).count("$1,000.00") == 2


def test_the_weights_column_lines_up_its_arrows() -> None:
    out = console(120)
    render_plan(WIDE, out)
    rows = [line for line in output(out) if "→" in line and "%" in line and "cash" not in line]
    assert len({line.index("→") for line in rows}) == 1


# ---- streaming: each outcome is printed while the apply still runs ----

class Watching(io.StringIO):
    """stdout that notes, for every outcome line written, whether the journal's apply had finished by then."""

    def __init__(self, journal_url: str) -> None:
        super().__init__()
        self.engine = create_engine(journal_url)
        self.seen: list[tuple[str, bool]] = []

    def write(self, s: str) -> int:
        if "…" in s or s.startswith("Total:"):
            with self.engine.connect() as c:
                finished = c.execute(text("select finished_at from applies")).scalars().all()
            self.seen.append((s, bool(finished) and all(f is not None for f in finished)))
        return super().write(s)

    def isatty(self) -> bool:
        return False


def test_apply_prints_each_outcome_before_the_apply_ends(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert workspace.run("history").code == 0  # creates the journal, so the watcher can read it
    watching = Watching(workspace.journal_url)
    monkeypatch.setattr(sys, "stdout", watching)
    code = main(
        ["--config", str(workspace.root / "reconciler.yaml"), "--no-color", "apply", "--auto-approve"]
    )
    watching.engine.dispose()
    assert code == 0, watching.getvalue()
    rows = [finished for s, finished in watching.seen if "…" in s]
    assert rows and not any(rows), watching.seen
    assert [finished for s, finished in watching.seen if s.startswith("Total:")] == [True]


def test_a_plan_blocked_by_a_denial_leads_with_it() -> None:
    held = portfolio("college", holdings=[holding("VNQQ", "0", "0", "0.3")], notes=["not traded: VNQQ: no"
        " quote"],
                     blocked=["VNQQ: no quote"])
    denial = PolicyResult(policy="valuation", kind="deny", level="hard-mandatory", portfolio="college",
                          message="VNQQ: no quote")
    out = console(120)
    render_plan(plan(held, results=[denial]), out)
    assert output(out)[0] == "Blocked: 1 portfolio(s) denied by policy (college); the policies below say why."


def test_off_a_terminal_apply_logs_its_progress_every_interval_of_the_injected_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    many = plan_of({"p": {f"S{n:02d}": ("buy", D(100)) for n in range(10)}})
    stream = OutcomeStream(console(120), many, clock, lambda _: None, order_sentence, log_every=15.0)
    with caplog.at_level(logging.INFO, logger="reconciler.progress"):
        for a in many.portfolios[0].actions:
            clock.advance(5.0)
            stream(OrderOutcome("p", CID.format(leg=a.leg), a.symbol, a.side, a.quantity, "unknown"))
    stream.close()
    done = [r.orders_done for r in caplog.records if r.getMessage().startswith("apply progress")]  # type: ignore[attr-defined]
    assert done == [3, 6, 9]  # every 15 s of 50


@pytest.mark.parametrize("width", WIDTHS)
def test_status_fits_the_terminal(width: int) -> None:
    from reconciler.render.text import render_status
    from tests.render.test_text import STATUSES

    out = console(width)
    render_status(STATUSES, out)
    assert too_wide(output(out), width) == []


def test_on_a_terminal_apply_keeps_a_progress_line_of_orders_done() -> None:
    out = Console(file=io.StringIO(), width=120, force_terminal=True, no_color=True)
    rows: dict[str, dict[str, Any]] = {}
    stream = OutcomeStream(out, PLAN, CLOCK, rows.get, order_sentence)
    a = PLAN.portfolios[0].actions[0]
    stream(OrderOutcome("alice-ira", CID.format(leg=1), a.symbol, a.side, a.quantity, "unknown"))
    stream.close()
    assert "applying: 1/3 orders · 1 portfolio(s) · at alice-ira" in out.file.getvalue()  # type: ignore[attr-defined]
