"""Drift's thresholds at their edges, and which rule blocks which direction of a line outside its band.

Prices of $1 so a share is a dollar; equity $10,000 unless a test says otherwise; default 5/25 bands.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.core.drift import (
    PortfolioDrift,
    StatusReport,
    SymbolDrift,
    drift_of,
    exit_code,
    locked,
    unknown,
)
from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import SymbolRule, Trading
from tests.builders import desired, observation

D = Decimal


def ones(positions: dict[str, int], cash: int = 0, *, unsettled: int = 0, reserved: int = 0) -> Observation:
    return observation(
        dict.fromkeys(positions, "1"),
        {s: str(q) for s, q in positions.items()},
        settled=str(cash),
        unsettled=str(unsettled),
        reserved=str(reserved),
    )


def drift(target: Desired, obs: Observation) -> PortfolioDrift:
    return drift_of(plan_portfolio(target, obs, CostModel()), target.trading)


def row(d: PortfolioDrift, symbol: str) -> SymbolDrift:
    return next(r for r in d.rows if r.symbol == symbol)


@pytest.mark.parametrize(("cash", "outside"), [(499, False), (500, False), (501, True)])
def test_cash_at_the_edge_of_its_band(cash: int, outside: bool) -> None:
    # Cash target 0, band 5% of $10,000 = $500; A and B (45% each, targets 50%, band 5%) are inside theirs
    # (A at 4,751 with $499 of cash, and so on: the holdings make up the rest of the $10,000).
    a = 10_000 - 4_750 - cash
    d = drift(desired({"A": "0.5", "B": "0.5"}), ones({"A": a, "B": 4_750}, cash))
    assert row(d, "cash").outside == outside


def test_too_much_cash_is_not_blocked_by_buy_only() -> None:
    # Cash 20% against 0: buying fixes it, which buy_only allows (the plan buys A and B).
    d = drift(
        desired({"A": "0.5", "B": "0.5"}, trading=Trading(buy_only=True)),
        ones({"A": 4_000, "B": 4_000}, 2_000),
    )
    assert row(d, "cash").outside
    assert row(d, "cash").blocked == ""


def test_too_little_cash_is_blocked_by_buy_only() -> None:
    # Cash 0 against 20%: only selling fixes it, which buy_only forbids.
    d = drift(desired({"A": "0.4", "B": "0.4"}, cash="0.2", trading=Trading(buy_only=True)),
              ones({"A": 5_000, "B": 5_000}))
    assert row(d, "cash").blocked == "buy_only"


def test_an_underweight_hold_symbol_is_not_blocked_by_its_hold() -> None:
    # A (hold) is 25% against 50%; B is do_not_trade; no cash: nothing can be bought now, but hold forbids
    # only selling, so A is outside and fixable: out of sync, not synced.
    target = desired(
        {"A": "0.5", "B": "0.5"}, symbols={"A": SymbolRule(hold=True), "B": SymbolRule(do_not_trade=True)}
    )
    d = drift(target, ones({"A": 2_500, "B": 7_500}))
    assert row(d, "A").blocked == ""
    assert row(d, "B").blocked == "do_not_trade"
    assert d.status == "OutOfSync"
    assert d.message == "A outside the band, but no order can be placed now (nothing left to spend)"


def test_an_overweight_hold_symbol_is_blocked_by_its_hold() -> None:
    target = desired(
        {"A": "0.5", "B": "0.5"}, symbols={"A": SymbolRule(hold=True), "B": SymbolRule(do_not_trade=True)}
    )
    d = drift(target, ones({"A": 7_500, "B": 2_500}))
    assert row(d, "A").blocked == "hold"
    assert d.status == "Synced"


@pytest.mark.parametrize(
    ("minimum", "blocked"), [("999.99", ""), ("1000", ""), ("1000.01", "under the minimum trade")]
)
def test_the_minimum_trade_at_its_edge(minimum: str, blocked: str) -> None:
    # A is 60% against 50%: $1,000 over. A minimum trade of exactly $1,000 still lets it trade.
    target = desired({"A": "0.5", "B": "0.5"}, trading=Trading(min_trade_notional=D(minimum), buy_only=True))
    d = drift(target, ones({"A": 6_000, "B": 4_000}))
    assert row(d, "B").blocked == blocked


def test_progressing_while_cash_reserved_by_open_orders_lands() -> None:
    # A is 30% against 50% and cash 20% against 0, but all the cash is held for an open order: nothing to
    # spend until it fills.
    d = drift(desired({"A": "0.5", "B": "0.5"}), ones({"A": 3_000, "B": 5_000}, 2_000, reserved=2_000))
    assert d.status == "Progressing"
    assert d.message == (
        "A, cash outside the band; no order can be placed until the cash reserved by open orders of $2,000.00"
        " land; the next apply after that trades the rest"
    )


def test_progressing_names_both_kinds_of_cash_on_its_way() -> None:
    d = drift(desired({"A": "0.5", "B": "0.5"}), ones({"A": 3_000, "B": 5_000}, 1_000, unsettled=1_000,
                                                      reserved=1_000))
    assert d.status == "Progressing"
    assert (
        "sale proceeds settling of $1,000.00 and cash reserved by open orders of $1,000.00 land" in d.message
    )


def test_synced_says_which_rule_keeps_a_line_outside() -> None:
    target = desired(
        {"A": "0.5", "B": "0.5"}, symbols={"A": SymbolRule(hold=True), "B": SymbolRule(do_not_trade=True)}
    )
    d = drift(target, ones({"A": 7_500, "B": 2_500}))
    assert d.message == ("outside the band only where the portfolio's rules forbid a trade (A: hold, B:"
                         " do_not_trade)")


def test_a_portfolio_in_sync_has_no_message_and_no_drift_beyond_its_rows() -> None:
    d = drift(desired({"A": "0.5", "B": "0.5"}), ones({"A": 5_000, "B": 5_000}))
    assert (d.status, d.message, d.orders) == ("Synced", "", 0)
    assert d.max_drift == 0
    assert d.outside == []


def test_max_drift_is_the_largest_either_way() -> None:
    d = drift(desired({"A": "0.5", "B": "0.5"}), ones({"A": 5_200, "B": 4_700}, 100))
    assert d.max_drift == D("0.03")


def test_exit_codes_for_every_status() -> None:
    assert exit_code([PortfolioDrift("p", "a", "OutOfSync")]) == 2
    assert exit_code([PortfolioDrift("p", "a", "Progressing")]) == 0
    assert exit_code([PortfolioDrift("p", "a", "OutOfSync"), unknown("q", "b", "down")]) == 1
    assert exit_code([unknown("q", "b", "down"), PortfolioDrift("p", "a", "OutOfSync")]) == 1


def test_locked_and_unknown_carry_their_reason() -> None:
    assert locked("p", "a", "ci#7").message == "an apply holds the account's lock (ci#7)"
    assert unknown("p", "a", "broker down").message == "broker down"


def test_a_status_report_counts_every_status() -> None:
    drifts = [
        PortfolioDrift("p", "a", "OutOfSync"),
        PortfolioDrift("q", "b", "OutOfSync"),
        locked("r", "c", "x"),
    ]
    report = StatusReport.of(drifts, generated_at="t", git_commit=None, git_dirty=None)
    assert report.counts == {"Synced": 0, "Progressing": 0, "OutOfSync": 2, "Locked": 1, "Unknown": 0}
    assert report.exit_code == 2


def test_decimals_in_json_are_plain_and_zero_is_0() -> None:
    d = PortfolioDrift("p", "a", "Synced", [SymbolDrift("A", D("0E-7"), D("0.5"), D("0.05"), False)])
    doc = d.to_json()
    assert doc["rows"][0]["weight"] == "0"
    assert doc["rows"][0]["target"] == "0.5"
    assert doc["rows"][0]["drift"] == "-0.5000000"
    assert doc["max_drift"] == "0.5000000"


@pytest.mark.parametrize(("settled", "unsettled", "reserved", "coming"), [
    ("0", "0.50", "0", "sale proceeds settling of $0.50"),
    ("0.50", "0", "0.50", "cash reserved by open orders of $0.50"),
])
def test_half_a_dollar_on_its_way_is_progressing(
    settled: str, unsettled: str, reserved: str, coming: str
) -> None:
    # A is 37.5% against 50% and B (do_not_trade) cannot be sold to pay for it: only the half dollar on its
    # way can, once it lands.
    target = desired({"A": "0.5", "B": "0.5"}, symbols={"B": SymbolRule(do_not_trade=True)})
    obs = observation({"A": "1", "B": "1"}, {"A": "3000", "B": "5000"}, settled=settled, unsettled=unsettled,
                      reserved=reserved)
    d = drift(target, obs)
    assert d.status == "Progressing"
    assert d.message == (
        f"A outside the band; no order can be placed until the {coming} land; the next apply after that"
        " trades"
        " the rest"
    )


def test_buy_only_keeps_an_unwanted_holding() -> None:
    # B is not a target: it weighs 50% against 0, and only a sale could fix that.
    d = drift(desired({"A": "1"}, trading=Trading(buy_only=True)), ones({"A": 5_000, "B": 5_000}))
    assert row(d, "B").blocked == "buy_only"


def test_locked_and_unknown_have_no_rows_and_no_orders() -> None:
    for d in (locked("p", "a", "ci#7"), unknown("p", "a", "broker down")):
        assert (d.rows, d.orders, d.max_drift) == ([], 0, 0)
