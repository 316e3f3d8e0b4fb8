"""`reconciler backtest` as users run it: several strategies side by side on the shared data, the chart
report, JSON with the same figures, cash flows and taxes, policies, and the README's own example (no shared
data)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import main
from tests.backtest.conftest import EXAMPLES, REPO

sys.path.insert(0, str(REPO / "bench"))
import readme_backtest
import readme_tables

CONFIG = str(EXAMPLES / "reconciler.yaml")
FIVE = ["never", "calendar:quarterly", "threshold", "calendar-threshold:annual", "opportunistic"]


def backtest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-c", CONFIG, "--no-color", "backtest", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_five_strategies_side_by_side_with_html_and_png_reports(
    stocks_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strategies = [a for s in FIVE for a in ("--strategy", s)]
    code, out, err = backtest(
        capsys, "sp500-20", "--prices", str(stocks_csv), *strategies, "--report", str(tmp_path / "r.html")
    )
    assert code == 0, err
    # Five long names do not fit 100 columns as headers: numbered, with a legend above the table.
    assert [f"#{k} = {name}" for k, name in enumerate(FIVE, 1)] == [
        line for line in out.splitlines() if line.startswith("#")
    ]
    for label in (
        "final value",
        "CAGR",
        "volatility",
        "Sharpe",
        "max drawdown",
        "turnover / year",
        "rebalances",
        "total costs",
        "taxes paid",
        "avg deviation",
        "max deviation",
        "avg weight AAPL",
        "avg weight XOM",
    ):
        assert re.search(rf"^{re.escape(label)}\s", out, re.MULTILINE), label
    html = (tmp_path / "r.html").read_text()
    assert '<table class="figures">' in html
    assert html.count("data:image/svg+xml;base64,") == 3
    assert "calendar-threshold:annual" in html

    code, out_json, err = backtest(
        capsys, "sp500-20", "--prices", str(stocks_csv), *strategies, "--format", "json",
        "--report", str(tmp_path / "r.png"),
    )
    assert code == 0, err
    doc = json.loads(out_json)
    assert [s["name"] for s in doc["strategies"]] == FIVE
    finals = [f"${s['metrics']['final_value']:,.2f}" for s in doc["strategies"]]
    # The table may continue in a second block of columns: its final value rows, in order, are the JSON's.
    shown = [cell for line in out.splitlines() if line.startswith("final value") for cell in line.split()[2:]]
    assert shown == finals
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Wrote the report" in err  # JSON on stdout stays clean


def test_contributions_buy_only_and_taxes(stocks_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = backtest(
        capsys, "sp500-20", "--prices", str(stocks_csv), "--start", "2010-01-01", "--end", "2014-12-31",
        "--contribution", "1000", "--every", "monthly", "--strategy", "buy-only", "--strategy",
        "calendar:annual",
        "--tax-short", "0.35", "--tax-long", "0.15", "--lots", "hifo", "--format", "json",
    )
    assert code == 0, err
    buy_only, annual = json.loads(out)["strategies"]
    # months after Jan 2010
    assert buy_only["metrics"]["contributed"] == annual["metrics"]["contributed"] == 1000 * 59
    assert buy_only["metrics"]["rebalances"] == 0
    assert annual["metrics"]["rebalances"] == 4
    assert annual["metrics"]["taxes_paid"] > 0
    assert set(annual["realized_by_year"]) >= {"2011", "2012", "2013", "2014"}
    # buy-only sells only to pay its taxes: much less realized than rebalancing every year
    assert buy_only["metrics"]["realized_long"] + buy_only["metrics"]["realized_short"] < (
        annual["metrics"]["realized_long"] + annual["metrics"]["realized_short"]
    )


def test_withdrawals_are_raised_by_selling(stocks_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = backtest(
        capsys, "sp500-20", "--prices", str(stocks_csv), "--start", "2015-01-01", "--end", "2016-12-31",
        "--cash", "1000000", "--contribution", "-20000", "--every", "quarterly", "--strategy", "never",
        "--format", "json",
    )
    assert code == 0, err
    never = json.loads(out)["strategies"][0]
    assert never["metrics"]["withdrawn"] == 20000 * 7
    assert not never["events"]  # no shortfall: every withdrawal was paid in full


def test_policies_block_plans_like_apply_would(stocks_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """AAPL fell 52% on 2000-09-29: the rebalance that would buy it is blocked by the kill switch."""
    code, out, err = backtest(
        capsys, "sp500-20", "--prices", str(stocks_csv), "--start", "2000-09-01", "--end", "2000-10-31",
        "--strategy", "threshold:rel=0.25,trade=all", "--policies",
    )
    assert code == 0, err
    assert (
        "plans blocked by policy; first on 2000-09-29: [hard-mandatory] kill_switch: AAPL fell 51.8%" in out
    )


def test_the_readme_example_prints_the_readmes_table_without_the_shared_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's command, run on the bundled dataset, gives the table the README shows
    (bench/readme_backtest.py recorded it; bench/readme_tables.py rendered it; test_bench_guard checks the
    README block is that render)."""
    pytest.importorskip("skfolio")
    command = readme_backtest.readme_command()
    assert "--dataset" in command
    monkeypatch.chdir(REPO)
    fresh = readme_backtest.figures_of(readme_backtest.run_json(command, tmp_path))
    recorded = json.loads((REPO / "bench" / "results" / "backtest_example.json").read_text())["figures"]
    assert readme_tables.backtest_table(fresh["strategies"]) == readme_tables.backtest_table(
        recorded["strategies"]
    )


def test_make_backtest_runs_the_readmes_command() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nbacktest: ", 1)[1].split("\n\n", 1)[0].split("\n", 1)[1]
    joined = " ".join(re.sub(r"\\\n\s*", " ", recipe).split())
    assert joined == " ".join(["$(RC)", *readme_backtest.readme_command().split()[1:]])


def test_the_progress_bar_names_the_strategy_it_is_on() -> None:
    """On a terminal the bar says which of the strategies runs (issue 27 §3), and each run's days follow the
    last's."""
    from reconciler.cli.backtest_cmd import _progress

    with _progress(True, 20) as bar:
        advance = bar.strategy("2/2 threshold:abs=0.05", 10)
        advance(4)
        task = bar.bar.tasks[0]
        assert (task.description, task.completed) == ("2/2 threshold:abs=0.05", 14)


def test_off_a_terminal_there_is_no_bar_and_the_callbacks_do_nothing() -> None:
    from reconciler.cli.backtest_cmd import _progress

    with _progress(False, 20) as bar:
        bar.strategy("1/1 never", 0)(5)
        assert not hasattr(bar, "bar")
