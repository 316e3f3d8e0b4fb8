"""What a backtest says, as users read it: rows in their unit (months, weeks), a workspace whose account is
not declared, whole-share rounding told with numbers, --no-costs, every strategy option in --help, average
weights before trades, negative money, and a text table within 100 columns that never cuts a figure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reconciler.backtest.columns import layout
from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.report import _money
from reconciler.backtest.strategies import parse_strategy
from reconciler.cli.main import main
from reconciler.core.models import CostModel
from tests.backtest.conftest import BT_ALIGNED, equal_weight, write_prices, write_workspace
from tests.backtest.test_anchors import MONTHLY, fridays


def run_cli(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-c", str(config), "--no-color", "backtest", "p", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def drifting(n: int) -> dict[str, list[float]]:
    """A rises 1% a row, B stays: every row drifts."""
    return {"A": [50.0 * 1.01**i for i in range(n)], "B": [50.0] * n}


@pytest.fixture()
def monthly(tmp_path: Path) -> tuple[Path, Path]:
    config = write_workspace(tmp_path / "ws", {"A": "0.5", "B": "0.5"})
    prices = write_prices(tmp_path / "m.csv", [str(d) for d in MONTHLY], drifting(len(MONTHLY)))
    return config, prices


def test_a_portfolio_whose_account_is_not_declared_backtests(
    monthly: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = monthly
    code, _, err = run_cli(capsys, config, "--prices", str(prices), "--strategy", "calendar:quarterly,at=end")
    assert code == 0, err


def test_monthly_rows_are_counted_as_months(
    monthly: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = monthly
    _, out, _ = run_cli(capsys, config, "--prices", str(prices))
    assert "1990-01-31 → 1992-06-30, 30 months (2.4 years)" in out


def test_weekly_rows_are_counted_as_weeks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_workspace(tmp_path / "ws", {"A": "0.5", "B": "0.5"})
    dates = fridays("2020-01-03", "2022-12-30")
    prices = write_prices(tmp_path / "w.csv", [str(d) for d in dates], drifting(len(dates)))
    _, out, _ = run_cli(capsys, config, "--prices", str(prices))
    assert "2020-01-03 → 2022-12-30, 157 weeks (3.0 years)" in out


def test_json_says_what_the_rows_are(monthly: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, prices = monthly
    _, out, _ = run_cli(capsys, config, "--prices", str(prices), "--format", "json")
    assert json.loads(out)["rows_are"] == "months"


@pytest.fixture()
def index_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """One index in the thousands, monthly, $100,000: the cash a rebalance could spend is often under a
    share."""
    rng = np.random.default_rng(3)
    n = 240
    level = list(1500.0 * np.exp(np.cumsum(rng.normal(0.006, 0.04, n))))
    dates = [str(d) for d in (np.arange(np.datetime64("2000-01"), np.datetime64("2000-01") + n) + 1)
             .astype("datetime64[D]") - np.timedelta64(1, "D")]
    prices = write_prices(tmp_path / "idx.csv", dates, {"IDX": level})
    return tmp_path, prices


def test_whole_share_rounding_is_told_with_the_trades_it_skipped(
    index_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, prices = index_run
    config = write_workspace(folder / "ws", {"IDX": "1"})
    _, out, _ = run_cli(
        capsys, config, "--prices", str(prices), "--strategy", "calendar:monthly", "--format", "json"
    )
    m = json.loads(out)["strategies"][0]["metrics"]
    # One holding, always underweight by its idle cash: every monthly look either buys or is skipped as under
    # one share. 239 looks after the funding month.
    assert m["rebalances"] + m["skipped_by_rounding"] == 239


def test_whole_share_rounding_note_gives_numbers_and_suggests_fractional(
    index_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, prices = index_run
    config = write_workspace(folder / "ws", {"IDX": "1"})
    _, out, _ = run_cli(capsys, config, "--prices", str(prices), "--strategy", "calendar:monthly")
    assert re.search(
        r"calendar:monthly: whole shares skipped \d+ trades smaller than one share and left \d+\.\d\d% of the"
        r" account in cash beyond its target on average \(\$[\d,]+\.\d\d at the end\)"
        r" To trade fractions of a share, set `fractional: true` under the portfolio's `trading:`\.",
        " ".join(out.split()),  # notes wrap at 100 columns
    )


def test_a_fractional_portfolio_gets_no_rounding_note(
    index_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, prices = index_run
    config = write_workspace(folder / "ws", {"IDX": "1"}, fractional=True)
    _, out, _ = run_cli(capsys, config, "--prices", str(prices), "--strategy", "calendar:monthly")
    assert "whole shares" not in out


def test_no_costs_runs_without_slippage_or_commission(
    monthly: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = monthly
    _, out, _ = run_cli(capsys, config, "--prices", str(prices), "--no-costs", "--format", "json")
    assert [s["metrics"]["costs"] for s in json.loads(out)["strategies"]] == [0, 0, 0]


def test_no_costs_with_a_cost_flag_is_refused(
    monthly: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, prices = monthly
    code, _, err = run_cli(capsys, config, "--prices", str(prices), "--no-costs", "--slippage-bps", "3")
    assert (code, "--no-costs and --slippage-bps contradict" in err) == (1, True)


def test_help_lists_every_strategy_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert [
        o for o in ("every=", "at=start|end", "abs=", "rel=", "trade=drifted|all", "inner=") if o not in text
    ] == []


def test_average_weights_are_measured_before_each_days_trades() -> None:
    """A rises 10% a month, B stays, both back to 50% every month: before each rebalance A is 0.55 / 1.05."""
    n = len(MONTHLY)
    prices = PriceTable(
        MONTHLY, ("A", "B"), np.column_stack([50.0 * 1.1 ** np.arange(n), np.full(n, 50.0)]), "m"
    )
    portfolio = equal_weight(("A", "B"), BT_ALIGNED)
    run = run_strategy(portfolio, prices, parse_strategy("calendar:monthly", portfolio.trading.bands),
                       Settings(costs=CostModel()))
    assert compute(run).average_weights["A"] == pytest.approx(0.55 / 1.05, rel=1e-12)


@pytest.mark.parametrize(
    ("amount", "text"), [(-2924.99, "-$2,924.99"), (2924.99, "$2,924.99"), (-0.001, "$0.00")]
)
def test_money_puts_the_sign_before_the_dollar(amount: float, text: str) -> None:
    assert _money(amount) == text


NAMES = [f"calendar-threshold:{p},abs=0.0{k},at=end" for k in range(1, 5) for p in ("monthly", "annual")]
ROWS = [("final value", [f"${123456789.5 * (k + 1):,.2f}" for k in range(len(NAMES))]),
        ("max drawdown", [f"-{k + 40}.12%" for k in range(len(NAMES))])]


def test_the_text_table_of_eight_strategies_fits_100_columns() -> None:
    assert max(len(line) for line in layout("", NAMES, ROWS)) <= 100


def test_the_text_table_of_eight_strategies_cuts_no_figure() -> None:
    lines = layout("", NAMES, ROWS)
    shown = [cell for line in lines if line.startswith("final value") for cell in line.split()[2:]]
    assert shown == ROWS[0][1]


def test_the_text_table_numbers_names_that_do_not_fit_and_keeps_them_in_a_legend() -> None:
    assert [line for line in layout("", NAMES, ROWS) if line.startswith("#")] == [
        f"#{k} = {n}" for k, n in enumerate(NAMES, 1)
    ]


def test_the_text_table_keeps_names_as_headers_when_they_fit() -> None:
    assert layout("", ["never", "calendar:annual"], [("CAGR", ["5.00%", "6.00%"])])[0].split() == [
        "never", "calendar:annual"
    ]


def test_a_bundled_dataset_is_read_without_importing_skfolio() -> None:
    """Its files are read from the installed wheel: skfolio's own dependencies (800 MB) need not be
    installed."""
    pytest.importorskip("skfolio")
    code = ("import sys; from reconciler.backtest.data import load_dataset; t = load_dataset('factor-etfs');"
            " print(len(t.dates), 'skfolio' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2264", "False"]
