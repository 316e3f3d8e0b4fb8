"""Drift and sync status: plain examples, and properties over random accounts run through the planner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.drift import drift_of, exit_code, locked, unknown
from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import Bands, SymbolRule, Trading
from tests.builders import desired, observation

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZERO = Decimal(0)
SYMBOLS = ["VTI", "VXUS", "BND", "BNDX", "VNQ", "GLD"]


def account(
    targets: dict[str, str], positions: dict[str, int], cash: str, *, unsettled: str = "0",
    trading: Trading | None = None, rules: dict[str, SymbolRule] | None = None, cash_target: str = "0",
) -> tuple[Desired, Observation]:
    """One account "a" holding these positions at fixed prices, and its portfolio "p"."""
    prices = {"VTI": "100", "VXUS": "50", "BND": "80", "BNDX": "40", "VNQ": "90", "GLD": "200"}
    return (
        desired(targets, cash_target, name="p", account="a", trading=trading, symbols=rules),
        observation(prices, positions, settled=cash, unsettled=unsettled, account="a", taken_at=NOW),
    )


def status_of(desired: Desired, obs: Observation) -> tuple[str, str]:
    d = drift_of(plan_portfolio(desired, obs, CostModel()), desired.trading)
    return d.status, d.message


def test_on_target_is_synced() -> None:
    assert status_of(*account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 50, "BND": 62}, "40"))[0] == "Synced"


def test_drift_that_trades_is_out_of_sync() -> None:
    desired, obs = account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 80, "BND": 25}, "0")
    d = drift_of(plan_portfolio(desired, obs, CostModel()), desired.trading)
    assert d.status == "OutOfSync"
    assert d.orders > 0
    assert "order(s) would trade" in d.message
    assert {r.symbol for r in d.outside} == {"VTI", "BND"}
    vti = next(r for r in d.rows if r.symbol == "VTI")
    assert vti.drift == vti.weight - vti.target
    assert vti.drift > vti.band


def test_drift_waiting_for_unsettled_cash_is_progressing_not_out_of_sync() -> None:
    # After a rebalance sold BND: VTI is underweight, but the proceeds settle tomorrow, so nothing can be
    # bought yet. Nobody has to act: the next apply after settlement buys. Not an alarm, and not in sync
    # either.
    desired, obs = account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 20, "BND": 62}, "0", unsettled="3000")
    d = drift_of(plan_portfolio(desired, obs, CostModel()), desired.trading)
    assert d.orders == 0
    assert d.status == "Progressing"
    assert "VTI" in d.message
    assert "sale proceeds settling of $3,000.00" in d.message
    assert exit_code([d]) == 0
    # Without the proceeds on their way, the same account trades now (it sells BND to buy VTI): out of sync.
    desired, obs = account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 20, "BND": 62}, "0")
    d = drift_of(plan_portfolio(desired, obs, CostModel()), desired.trading)
    assert d.status == "OutOfSync"
    assert d.orders > 0


def test_drift_the_rules_keep_is_synced() -> None:
    # buy_only: VTI is overweight and cash under its target, and both need a sell, which buy_only forbids.
    buy_only = Trading(buy_only=True)
    desired, obs = account({"VTI": "0.5", "BND": "0.3"}, {"VTI": 60, "BND": 37}, "1040", cash_target="0.2",
                           trading=buy_only)
    status, message = status_of(desired, obs)
    assert status == "Synced"
    assert "VTI: buy_only" in message
    assert "cash: buy_only" in message
    # A held symbol overweight is kept; the underweight BND is fixable (once there is cash), so out of sync.
    held = {"VTI": SymbolRule(hold=True)}
    status, message = status_of(
        *account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 80, "BND": 25}, "0", rules=held)
    )
    assert status == "OutOfSync"
    assert "BND outside the band, but no order can be placed now" in message
    # Drift worth less than the minimum trade is never traded.
    small = Trading(min_trade_notional=Decimal(5000))
    status, message = status_of(
        *account({"VTI": "0.5", "BND": "0.5"}, {"VTI": 57, "BND": 53}, "60", trading=small)
    )
    assert status == "Synced"
    assert "under the minimum trade" in message


def test_exit_codes() -> None:
    synced = drift_of(plan_portfolio(*account({"VTI": "1"}, {"VTI": 10}, "0"), CostModel()), Trading())
    out = drift_of(plan_portfolio(*account({"VTI": "1"}, {}, "1000"), CostModel()), Trading())
    assert (synced.status, out.status) == ("Synced", "OutOfSync")
    assert exit_code([synced]) == 0
    assert exit_code([]) == 0
    assert exit_code([synced, locked("p", "a", "ci")]) == 0
    assert exit_code([synced, out]) == 2
    assert exit_code([out, unknown("p", "a", "broker down")]) == 1


# ---- properties: random accounts through the real planner ----

@st.composite
def accounts(draw: st.DrawFn) -> tuple[Desired, Observation]:
    chosen = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=5, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 10000), min_size=len(chosen), max_size=len(chosen))))
    bps = [b - a for a, b in zip([0, *cuts], cuts, strict=False)]
    cash_target = 10000 - sum(bps)
    targets = {s: str(Decimal(b).scaleb(-4)) for s, b in zip(chosen, bps, strict=True)}
    positions = draw(st.dictionaries(st.sampled_from(SYMBOLS), st.integers(0, 500), max_size=6))
    trading = Trading(
        bands=Bands(
            absolute=Decimal(draw(st.integers(1, 10))) / 100,
            relative=draw(st.sampled_from([None, Decimal("0.25")]))
        ),
        buy_only=draw(st.booleans()),
        min_trade_notional=Decimal(draw(st.sampled_from([0, 100, 1000]))),
    )
    rules = draw(st.dictionaries(st.sampled_from(SYMBOLS), st.sampled_from([SymbolRule(hold=True),
                                                                             SymbolRule(do_not_trade=True)]),
                                 max_size=2))
    return account(
        targets, positions, str(draw(st.integers(0, 50000))), unsettled=str(draw(st.integers(0, 5000))),
        trading=trading, rules=rules, cash_target=str(Decimal(cash_target).scaleb(-4)),
    )


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_status_agrees_with_the_planner(case: tuple[Desired, Observation]) -> None:
    desired, obs = case
    pp = plan_portfolio(desired, obs, CostModel())
    d = drift_of(pp, desired.trading)
    if pp.actions:  # anything apply would do means out of sync
        assert d.status == "OutOfSync"
        assert d.orders == len(pp.actions)
    if d.status == "Synced":  # and in sync means no line outside its band is fixable
        assert not any(r.actionable for r in d.rows)
    if d.status == "Progressing":  # only ever waiting for cash that is on its way
        assert not pp.actions
        assert any(r.actionable for r in d.rows)
        assert obs.cash_unsettled > 0 or obs.cash_reserved > 0
    for r in d.rows:
        assert r.drift == r.weight - r.target
        assert r.outside or not r.blocked
    assert d.max_drift == max(abs(r.drift) for r in d.rows)
    doc = json.loads(json.dumps(d.to_json()))
    assert doc["status"] == d.status
    assert Decimal(doc["max_drift"]) == d.max_drift
    for row, r in zip(doc["rows"], d.rows, strict=True):  # exact, and in plain notation ("0", never "0E-7")
        assert Decimal(row["weight"]) == r.weight
        assert "E" not in row["weight"] + row["drift"]


def test_the_status_report_is_one_model_written_and_read_back() -> None:
    """`status --out` writes a StatusReport; `github drift-issue` reads the same model back (no second
    parser)."""
    import json

    import pytest

    from reconciler.core.drift import StatusReport
    from reconciler.errors import ReconcilerError
    from reconciler.gitops.comment import read_status

    drifts = [unknown("p", "acct", "broker down"), locked("q", "acct2", "ci#7")]
    report = StatusReport.of(
        drifts, generated_at="2030-01-02T15:00:00+00:00", git_commit=None, git_dirty=None
    )
    assert report.exit_code == exit_code(drifts)
    assert report.counts["Unknown"] == 1
    assert report.counts["Locked"] == 1
    doc = json.loads(json.dumps(report.model_dump(mode="json")))
    rows = read_status(doc, "status.json")
    assert [(r["portfolio"], r["status"]) for r in rows] == [("p", "Unknown"), ("q", "Locked")]
    doc["portfolios"][0]["status"] = "Fine"
    with pytest.raises(ReconcilerError) as bad:
        read_status(doc, "status.json")
    assert "not a status file" in bad.value.message
