"""`backtest --sweep`: a spec expands to its grid exactly, any concurrent.futures executor runs it with the
same figures as one run at a time, and the command prints the grid ranked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.strategies import parse_strategy
from reconciler.backtest.sweep import expand, run_grid
from reconciler.cli.main import main
from reconciler.core.models import CostModel
from reconciler.core.rules import Trading
from reconciler.errors import BacktestError
from tests.backtest.conftest import equal_weight, write_prices, write_workspace
from tests.backtest.test_anchors import weekdays


def test_a_spec_expands_to_every_point_of_its_grid_in_order() -> None:
    assert expand("calendar-threshold:{monthly|annual},abs=0.01..0.03/0.01").specs == [
        "calendar-threshold:monthly,abs=0.01", "calendar-threshold:monthly,abs=0.02",
        "calendar-threshold:monthly,abs=0.03", "calendar-threshold:annual,abs=0.01",
        "calendar-threshold:annual,abs=0.02", "calendar-threshold:annual,abs=0.03",
    ]


def test_the_axes_are_named_by_their_option() -> None:
    assert expand("calendar-threshold:{monthly|annual},abs=1%..2%/1%,at={start|end}").axes == [
        "every",
        "abs",
        "at",
    ]


def test_a_range_is_exact_to_its_last_value() -> None:
    values = [p[0] for p in expand("threshold:abs=0.01..0.20/0.01").points]
    assert (len(values), values[-1]) == (20, "0.20")


@pytest.mark.parametrize("spec", ["threshold:abs=0.05", "threshold:abs=0.2..0.1/0.01", "calendar:{|}"])
def test_a_spec_with_no_grid_is_refused(spec: str) -> None:
    with pytest.raises(BacktestError):
        expand(spec)


class InlineExecutor(Executor):
    """An executor of its own, as a Dask or Ray client is: runs each call at once and counts them."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_any_executor_runs_the_grid_with_the_figures_of_single_runs() -> None:
    dates = weekdays("2020-01-01", "2021-12-31")
    rng = np.random.default_rng(5)
    closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(dates), 3)), axis=0))
    prices = PriceTable(dates, ("A", "B", "C"), closes, "generated")
    portfolio = equal_weight(("A", "B", "C"), Trading())
    strategies = [
        parse_strategy(s, portfolio.trading.bands) for s in expand("threshold:abs=0.02..0.06/0.02").specs
    ]
    settings = Settings(costs=CostModel())
    executor = InlineExecutor()
    grid = run_grid(portfolio, prices, strategies, settings, 0.0, executor)
    single = [compute(run_strategy(portfolio, prices, s, settings)) for s in strategies]
    assert (executor.calls, grid) == (3, single)


def test_the_command_ranks_the_grid_by_the_chosen_figure_using_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_workspace(tmp_path / "ws", {"A": "0.5", "B": "0.5"})
    dates = weekdays("2019-01-01", "2021-12-31")
    rng = np.random.default_rng(11)
    closes = 80 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(dates), 2)), axis=0))
    prices = write_prices(tmp_path / "p.csv", [str(d) for d in dates], {"A": list(closes[:, 0]),
                                                                          "B": list(closes[:, 1])})
    capsys.readouterr()
    code = main(
        [
            "-c",
            str(config),
            "backtest",
            "p",
            "--prices",
            str(prices),
            "--jobs",
            "2",
            "--rank-by",
            "cagr",
            "--sweep",
            "calendar-threshold:{monthly|quarterly},abs=0.01..0.03/0.01",
        ]
    )
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:4].strip().isdigit()]
    cagr = [float(r[4].rstrip("%")) for r in rows]
    assert (code, len(rows), cagr) == (0, 6, sorted(cagr, reverse=True))


def test_sweep_and_strategy_together_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_workspace(tmp_path / "ws", {"A": "1"})
    prices = write_prices(tmp_path / "p.csv", ["2020-01-02", "2020-01-03"], {"A": [1.0, 2.0]})
    code = main(["-c", str(config), "backtest", "p", "--prices", str(prices), "--strategy", "never",
                 "--sweep", "threshold:abs=0.01..0.02/0.01"])
    assert (code, "--sweep does not take --strategy" in capsys.readouterr().err) == (1, True)


def test_a_sweep_draws_its_heatmap_as_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_workspace(tmp_path / "ws", {"A": "0.5", "B": "0.5"})
    dates = weekdays("2020-01-01", "2020-12-31")
    rng = np.random.default_rng(2)
    closes = 80 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(dates), 2)), axis=0))
    prices = write_prices(tmp_path / "p.csv", [str(d) for d in dates], {"A": list(closes[:, 0]),
                                                                          "B": list(closes[:, 1])})
    main(["-c", str(config), "backtest", "p", "--prices", str(prices), "--jobs", "1", "--report",
          str(tmp_path / "grid.png"), "--sweep",
          "calendar-threshold:{monthly|quarterly},abs=0.01..0.03/0.01"])
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
