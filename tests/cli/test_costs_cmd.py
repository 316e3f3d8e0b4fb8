"""`reconciler costs` and `backtest --costs-from-journal` on a real journal: the paper broker's applies over
ten simulated trading days (the injected clock moves; prices swing so the portfolios trade every day), on
SQLite and, in CI's second pass, PostgreSQL. The paper broker fills at the quote ± its configured 5 bps and
charges $0.005 a share: the fit must find those figures back from the fills alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.brokers.base import Broker, OrderRequest, OrderState
from reconciler.brokers.paper import PaperBroker
from reconciler.brokers.prices import Price
from reconciler.clock import FixedClock
from reconciler.execution.executor import apply_plan
from reconciler.execution.planning import make_plan
from reconciler.runtime import Runtime
from tests.builders import WithBroker
from tests.conftest import CliResult, Workspace, copy_examples, journal_for, runner

SEND_SECONDS = 2.5  # what each send takes on the simulated link: the fill latency the fit must find
MONDAY = datetime(2031, 6, 2, 15, 0, tzinfo=UTC)  # 11:00 in New York: the paper broker's market is open


class _Link:
    """The paper broker behind a link where a send takes SEND_SECONDS of the injected clock (no sleep)."""

    def __init__(self, inner: Broker, clock: FixedClock) -> None:
        self.inner, self.clock = inner, clock

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        self.clock.advance(SEND_SECONDS)
        return self.inner.submit(account, order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def trade_days(ws: Workspace, days: int) -> int:
    """Plan and apply once a trading day for `days` days, prices swinging ±12% a day; returns the fills."""
    clock = FixedClock(MONDAY)
    rt = Runtime(ws.config, ws.journal_url, clock=clock)
    paper = rt.broker
    assert isinstance(paper, PaperBroker)
    services = WithBroker(rt, _Link(paper, clock))
    start = dict(paper.prices)
    for day in range(days):
        for k, (symbol, p) in enumerate(sorted(start.items())):
            swing = Decimal("1.12") if (day + k) % 2 else Decimal("0.89")
            moved = (p.price * swing).quantize(Decimal("0.01"))
            paper.prices[symbol] = Price(moved, moved)  # a new day's close: not a doubtful jump
        result = apply_plan(make_plan(services), services, actor="test")
        assert result.ok, result
        clock.at = MONDAY + timedelta(days=day + 1 + 2 * ((day + 1) // 5))  # the next weekday
    rt.journal.engine.dispose()
    return int(ws.query("select count(*) from fills")[0][0])


@pytest.fixture(scope="module")
def _ten_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One repository and journal traded for ten days, shared by the module's tests (they only read it)."""
    tmp = tmp_path_factory.mktemp("costs")
    root = copy_examples(tmp)
    ws = Workspace(root, journal_for(root, tmp), run=lambda *a: CliResult(1, "", "not for running"))
    fills = trade_days(ws, 10)
    assert fills >= 30, f"only {fills} fills: the swings no longer make the portfolios trade"
    return root, ws.journal_url


@pytest.fixture
def traded(_ten_days: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> Workspace:
    root, url = _ten_days
    return Workspace(root, url, run=runner(root, capsys))


def _group(ws: Workspace) -> dict[str, Any]:
    r = ws.run("costs", "--format", "json")
    assert r.code == 0, r.err
    groups = json.loads(r.out)["groups"]
    assert [(g["broker"], g["symbol_class"]) for g in groups] == [("paper", "equity")]
    return dict(groups[0])


def test_the_fit_counts_every_fill_and_order_of_the_journal(traded: Workspace) -> None:
    g = _group(traded)
    assert g["fills"] == traded.query("select count(*) from fills")[0][0]
    assert g["orders"] == traded.query("select count(distinct client_order_id) from fills")[0][0]


def test_the_slippage_found_is_the_paper_brokers_five_bps(traded: Workspace) -> None:
    s = _group(traded)["slippage_bps"]
    # The paper broker rounds each fill to $0.0001: a few hundredths of a bp either way, no more (a rounding
    # the interval does not cover: it is the same way on most fills, so it is a bias, not noise).
    assert abs(s["value"] - 5) < 0.05


def test_the_commission_found_is_the_paper_brokers_half_cent_a_share(traded: Workspace) -> None:
    g = _group(traded)
    assert g["commission_per_share"]["low"] <= 0.005 <= g["commission_per_share"]["high"]
    # Commissions are rounded to the cent: the per-order intercept is that rounding, under a cent.
    assert abs(g["commission_per_order"]["value"]) < 0.01


def test_the_latency_found_is_the_links_send_time_on_the_injected_clock(traded: Workspace) -> None:
    assert _group(traded)["latency_seconds"]["value"] == pytest.approx(SEND_SECONDS)


def test_the_text_names_each_figure_with_its_interval(traded: Workspace) -> None:
    r = traded.run("costs")
    assert r.code == 0, r.err
    for label in ("slippage", "commission/order", "commission/share", "fill latency"):
        assert any(line.strip().startswith(label) and "95%" in line for line in r.out.splitlines()), label
    assert "Student-t" in r.out


def test_too_few_fills_are_refused_with_a_message_and_exit_1(traded: Workspace) -> None:
    fills = int(traded.query("select count(*) from fills")[0][0])
    r = traded.run("costs", "--min-fills", str(fills + 1))
    assert r.code == 1
    assert f"at least {fills + 1} fills" in r.err
    assert "not fitted" in r.out


def test_an_empty_journal_fits_nothing_and_exits_1(workspace: Workspace) -> None:
    r = workspace.run("costs")
    assert r.code == 1
    assert "the journal holds no fills" in r.err


def _prices(ws: Workspace, tmp_path: Path) -> Path:
    """A year of made-up daily closes for every symbol the example portfolios hold or target."""
    symbols = ["AAPL", "BND", "BNDX", "GLD", "VNQ", "VTI", "VXUS"]
    day0 = datetime(2020, 1, 1, tzinfo=UTC).date()
    rows = ["Date," + ",".join(symbols)]
    for d in range(300):
        rows.append(
            f"{day0 + timedelta(days=d)},"
            + ",".join(f"{50 + k * 10 + (d % 17) * (1 + k % 3):.2f}" for k in range(len(symbols)))
        )
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_backtest_on_learned_costs_says_so_in_text_and_json(traded: Workspace, tmp_path: Path) -> None:
    prices = str(_prices(traded, tmp_path))
    learned = _group(traded)
    r = traded.run("backtest", "alice-ira", "--prices", prices, "--costs-from-journal", "--format", "json")
    assert r.code == 0, r.err
    costs = json.loads(r.out)["costs"]
    assert costs["model"] == "journal"
    assert costs["learned"]["fills"] == learned["fills"]
    assert costs["slippage_bps"] == pytest.approx(round(learned["slippage_bps"]["value"], 2))
    r = traded.run("backtest", "alice-ira", "--prices", prices, "--costs-from-journal", "--no-progress")
    assert r.code == 0, r.err
    assert f"Costs: learned from the journal (paper equity: {learned['fills']} fills" in r.out


def test_the_html_page_says_its_costs_were_learned(traded: Workspace, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    r = traded.run(
        "backtest",
        "alice-ira",
        "--prices",
        str(_prices(traded, tmp_path)),
        "--costs-from-journal",
        "--no-progress",
        "--report",
        str(page),
    )
    assert r.code == 0, r.err
    assert "Costs: learned from the journal (paper equity:" in page.read_text()


def test_a_backtest_on_configured_costs_says_configured(workspace: Workspace, tmp_path: Path) -> None:
    r = workspace.run(
        "backtest", "alice-ira", "--prices", str(_prices(workspace, tmp_path)), "--format", "json"
    )
    assert r.code == 0, r.err
    assert json.loads(r.out)["costs"]["model"] == "configured"


def test_learned_costs_with_too_few_fills_refuse_the_backtest(workspace: Workspace, tmp_path: Path) -> None:
    trade_days(workspace, 1)
    r = workspace.run(
        "backtest", "alice-ira", "--prices", str(_prices(workspace, tmp_path)), "--costs-from-journal"
    )
    assert r.code == 1
    assert "--costs-from-journal: no costs learned for paper equity: too few fills" in r.err


def test_learned_costs_contradict_a_cost_flag(workspace: Workspace, tmp_path: Path) -> None:
    r = workspace.run(
        "backtest",
        "alice-ira",
        "--prices",
        str(_prices(workspace, tmp_path)),
        "--costs-from-journal",
        "--slippage-bps",
        "3",
    )
    assert r.code == 1
    assert "--costs-from-journal and --slippage-bps contradict each other" in r.err


def test_a_sweep_on_learned_costs_says_so(traded: Workspace, tmp_path: Path) -> None:
    prices = str(_prices(traded, tmp_path))
    sweep = ("--sweep", "threshold:abs=0.02..0.03/0.01", "--jobs", "1")
    r = traded.run("backtest", "alice-ira", "--prices", prices, "--costs-from-journal", *sweep)
    assert r.code == 0, r.err
    assert "Costs: learned from the journal (paper equity:" in r.out
    r = traded.run(
        "backtest", "alice-ira", "--prices", prices, "--costs-from-journal", *sweep, "--format", "json"
    )
    assert json.loads(r.out)["costs"].startswith("learned from the journal (paper equity:")
