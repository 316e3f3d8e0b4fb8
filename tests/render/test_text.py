"""The terminal renderings users read: the plan, the target changes since a base ref, and status. Rendered
into a plain 140-column console (what the CLI uses when its output is not a terminal) and read back as
text."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from reconciler.core.drift import PortfolioDrift, SymbolDrift, locked, unknown
from reconciler.core.models import (
    Action,
    Plan,
    PolicyResult,
    TargetChange,
    WeightChange,
)
from reconciler.core.plan import reseal
from reconciler.render.text import render_plan, render_status, render_target_changes
from tests.builders import holding, portfolio
from tests.builders import sealed as plan

D = Decimal


def rendered(render: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    out = io.StringIO()
    render(*args, Console(file=out, width=140, no_color=True), **kwargs)
    return out.getvalue()


def lines(text: str) -> list[str]:
    return text.splitlines()


def row(text: str, first: str) -> list[str]:
    """The words of the one line whose first word is `first` (table columns are padded to width)."""
    (found,) = [line.split() for line in lines(text) if line.split()[:1] == [first]]
    return found


SELL = Action(1, "VTI", "sell", D(5), D("289.41"), D("1447.05"), D(0), "above its band")
BUY = Action(2, "BND", "buy", D(20), D("72.85"), D("1457.00"), D(0), "below its band")
GROWTH = portfolio(
    "growth", actions=[SELL, BUY],
    holdings=[holding("VTI", "0.6", "0.4553", "0.45"), holding("BND", "0.39", "0.5448", "0.55")],
    notes=["BND rounded down to whole shares"],
)


# ---- render_plan ----

def test_a_plan_with_orders_shows_each_order_with_its_weights_and_why() -> None:
    p = plan(GROWTH)
    text = rendered(render_plan, p)
    assert lines(text)[0] == "Reconciler will perform the following actions:"
    assert "  # portfolio 'growth' (account acct-growth, equity $10,000.00)" in lines(text)
    assert row(text, "-") == [
        "-",
        "sell",
        "5",
        "VTI",
        "$289.41",
        "$1,447.05",
        "60.00%",
        "→",
        "45.53%",
        "(45.00%)",
        "above",
        "its",
        "band",
    ]
    assert row(text, "+") == [
        "+",
        "buy",
        "20",
        "BND",
        "$72.85",
        "$1,457.00",
        "39.00%",
        "→",
        "54.48%",
        "(55.00%)",
        "below",
        "its",
        "band",
    ]
    assert "    cash $100.00 (1.00%) → ≈$90.05 (0.90%), target 0.00%" in lines(text)
    assert "    note: BND rounded down to whole shares" in lines(text)


def test_a_plan_ends_with_a_summary_its_policies_and_its_hash() -> None:
    p = plan(GROWTH, portfolio("calm", holdings=[holding("VTI", "0.5", "0.5", "0.5")]))
    text = rendered(render_plan, p)
    assert "Plan: 2 orders (1 buy, 1 sell) in 1 portfolio(s); buy $1,457.00, sell $1,447.05" in lines(text)
    assert "Policies: all passed." in lines(text)
    assert lines(text)[-1] == f"plan {p.content_hash[:12]} (not in a git repository)"
    assert "'calm'" not in text  # a portfolio with nothing to do and nothing to say is not listed


def test_a_plan_without_orders_says_every_portfolio_is_within_its_bands() -> None:
    text = rendered(render_plan, plan(portfolio("calm", holdings=[holding("VTI", "0.51", "0.51", "0.5")])))
    assert lines(text)[0] == "No changes. Every portfolio is within its bands."
    assert "Plan:" not in text


def test_no_orders_while_outside_the_bands_is_not_called_in_sync() -> None:
    held = portfolio("held", holdings=[holding("VTI", "0.7", "0.7", "0.5")],
                     notes=["no order can be placed: the cash is reserved by open orders"])
    text = rendered(render_plan, plan(held))
    assert lines(text)[0] == (
        "No changes, but 1 portfolio(s) are outside their bands; the notes say why nothing trades."
    )
    assert "  # portfolio 'held' (account acct-held): no orders, VTI outside the bands" in lines(text)
    assert "    note: no order can be placed: the cash is reserved by open orders" in lines(text)


def test_a_portfolio_blocked_by_a_doubtful_quote_does_not_claim_what_is_outside_its_bands() -> None:
    doubt = portfolio("doubt", holdings=[holding("VTI", "0.7", "0.7", "0.5")], blocked=["VTI: quote is 0"],
                      notes=["not traded: VTI: quote is 0"])
    text = rendered(render_plan, plan(doubt))
    assert "  # portfolio 'doubt' (account acct-doubt): not traded: doubtful quote" in lines(text)
    assert "VTI outside the bands" not in text


def test_policy_results_list_denials_with_their_level_then_warnings() -> None:
    results = [
        PolicyResult(policy="max_turnover", kind="warn", level="soft-mandatory", portfolio="growth",
                     message="turnover 29.0% is above half the maximum"),
        PolicyResult(policy="max_order_size", kind="deny", level="hard-mandatory", portfolio="growth",
                     message="buy BND of 1457.00 is above 10% of equity (10000.00)"),
        PolicyResult(policy="deny_list", kind="deny", level="advisory", portfolio="growth",
                     message="VTI is on the deny list"),
    ]
    text = rendered(render_plan, plan(GROWTH, results=results))
    start = lines(text).index("Policies: 2 denied, 1 warning(s)")
    assert lines(text)[start + 1:start + 4] == [
        "  ✗ [hard-mandatory] max_order_size (growth): buy BND of 1457.00 is above 10% of equity (10000.00)",
        "  ✗ [advisory] deny_list (growth): VTI is on the deny list",
        "  ! max_turnover (growth): turnover 29.0% is above half the maximum",
    ]


@pytest.mark.parametrize(
    ("git", "origin"),
    [({"git_commit": "0123456789abcdef" * 2 + "01234567", "git_dirty": False}, "at commit 0123456789ab"),
     ({"git_commit": "0123456789abcdef" * 2 + "01234567", "git_dirty": True},
      "at commit 0123456789ab (uncommitted changes)"),
     ({}, "(not in a git repository)")],
    ids=["clean", "dirty", "no-git"],
)
def test_the_last_line_says_where_the_plan_comes_from(git: dict[str, Any], origin: str) -> None:
    p = plan(GROWTH, **git)
    assert lines(rendered(render_plan, p))[-1] == f"plan {p.content_hash[:12]} {origin}"


def test_the_quote_sources_are_named_once_each() -> None:
    p = plan(
        portfolio("a", quote_source="sip"),
        portfolio("b", quote_source="iex"),
        portfolio("c", quote_source="iex"),
    )
    assert lines(rendered(render_plan, p))[-1].endswith("(not in a git repository); quotes from iex, sip")


# ---- render_target_changes ----

def based(p: Plan, changes: Sequence[TargetChange]) -> Plan:
    return reseal(p, base_ref="origin/main", base_commit="abcdef0123456789" * 2 + "abcdef01",
                  target_changes=list(changes))


def test_without_a_base_ref_nothing_is_printed() -> None:
    assert rendered(render_target_changes, plan(GROWTH)) == ""


def test_no_target_changes_says_none_with_the_note() -> None:
    text = rendered(render_target_changes, based(plan(GROWTH), []), note="(the plan below is against HEAD)")
    assert lines(text) == ["Target changes since origin/main (abcdef012345): none. (the plan below is against"
                           " HEAD)",
                           ""]


def test_target_changes_show_weights_before_and_after_per_portfolio() -> None:
    changes = [
        TargetChange(portfolio="growth", account="acct-growth", change="changed",
                     weights=[WeightChange(symbol="VTI", before=D("0.6"), after=D("0.55")),
                              WeightChange(symbol="VNQ", before=None, after=D("0.05"))],
                     cash_before=D(0), cash_after=D(0), settings=["trading.buy_only: false → true"]),
        TargetChange(portfolio="new", account="acct-new", change="added",
                     weights=[WeightChange(symbol="GLD", before=None, after=D("0.6"))], cash_after=D("0.4")),
        TargetChange(portfolio="old", account="acct-old", change="removed",
                     weights=[WeightChange(symbol="BND", before=D(1), after=None)], cash_before=D(0)),
    ]
    text = rendered(render_target_changes, based(plan(GROWTH), changes))
    assert [line.split() for line in lines(text)] == [
        ["Target", "changes", "since", "origin/main", "(abcdef012345):"],
        ["~", "portfolio", "'growth'", "(changed,", "acct-growth)"],
        ["VTI", "60.00%", "→", "55.00%", "-5.00", "pp"],
        ["VNQ", "—", "→", "5.00%", "+5.00", "pp"],
        ["trading.buy_only:", "false", "→", "true"],
        ["+", "portfolio", "'new'", "(added,", "acct-new)"],
        ["GLD", "—", "→", "60.00%", "+60.00", "pp"],
        ["cash", "—", "→", "40.00%"],
        ["-", "portfolio", "'old'", "(removed,", "acct-old)"],
        ["BND", "100.00%", "→", "—", "-100.00", "pp"],
        ["cash", "0.00%", "→", "—"],
        [],
    ]


# ---- render_status ----

def drift(name: str, status: str, *rows: SymbolDrift, message: str = "") -> PortfolioDrift:
    return PortfolioDrift(name, f"acct-{name}", status, list(rows), message=message)  # type: ignore[arg-type]


def line_of(symbol: str, weight: str, target: str, band: str = "0.05", blocked: str = "") -> SymbolDrift:
    w, t, b = D(weight), D(target), D(band)
    return SymbolDrift(symbol, w, t, b, abs(w - t) > b, blocked=blocked)


STATUSES = [
    drift("calm", "Synced", line_of("VTI", "0.51", "0.5"), line_of("cash", "0", "0")),
    drift("growth", "OutOfSync", line_of("VTI", "0.7", "0.6"), line_of("BND", "0.3", "0.4"),
          line_of("cash", "0", "0"), message="2 order(s) would trade"),
    drift("settling", "Progressing", line_of("VTI", "0.2", "0.5"), line_of("cash", "0", "0"),
          message="VTI outside the band; waiting for settlement"),
    locked("busy", "acct-busy", "apply 42 by ci"),
    unknown("dark", "acct-dark", "the broker did not answer"),
]


def test_status_has_one_row_per_portfolio_with_its_largest_drift() -> None:
    text = rendered(render_status, STATUSES)
    assert lines(text)[0].split() == ["portfolio", "account", "status", "max", "drift", "detail"]
    assert row(text, "calm") == ["calm", "acct-calm", "Synced", "1.00", "pp"]
    assert row(text, "growth") == [
        "growth",
        "acct-growth",
        "OutOfSync",
        "10.00",
        "pp",
        "2",
        "order(s)",
        "would",
        "trade",
    ]
    assert row(text, "settling")[:5] == ["settling", "acct-settling", "Progressing", "30.00", "pp"]


def test_status_shows_no_drift_where_none_was_measured() -> None:
    text = rendered(render_status, STATUSES)
    assert row(text, "busy") == [
        "busy",
        "acct-busy",
        "Locked",
        "-",
        "an",
        "apply",
        "holds",
        "the",
        "account's",
        "lock",
        "(apply",
        "42",
        "by",
        "ci)",
    ]
    assert row(text, "dark") == ["dark", "acct-dark", "Unknown", "-", "the", "broker", "did", "not", "answer"]


def test_status_lists_the_lines_outside_their_bands_of_portfolios_that_will_trade() -> None:
    text = rendered(render_status, STATUSES)
    body = lines(text)
    start = body.index("  growth: outside the bands")
    assert [line.split() for line in body[start + 1:start + 4]] == [
        ["symbol", "now", "target", "drift", "band"],
        ["VTI", "70.00%", "60.00%", "+10.00", "pp", "±5.00", "pp"],
        ["BND", "30.00%", "40.00%", "-10.00", "pp", "±5.00", "pp"],
    ]
    assert "  settling: outside the bands" in body
    assert "  calm: outside the bands" not in body


def test_a_synced_portfolio_held_by_its_own_rules_lists_nothing() -> None:
    held = drift("held", "Synced", line_of("VTI", "0.7", "0.5", blocked="hold"), line_of("cash", "0", "0"),
                 message="outside the band only where the portfolio's rules forbid a trade (VTI: hold)")
    text = rendered(render_status, [held])
    assert row(text, "held")[:5] == ["held", "acct-held", "Synced", "20.00", "pp"]
    assert "outside the bands" not in text
