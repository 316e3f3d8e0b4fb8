"""Fixtures for backtests: the shared price histories (real data, beside the checkout) and the example
workspace."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.backtest.data import PriceTable, load_prices
from reconciler.core.models import Desired
from reconciler.core.rules import Trading
from tests.builders import desired

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
STOCKS_CSV = SHARED / "sp500_20_stocks_daily_1990_2022.csv"
EXAMPLES = REPO / "examples" / "backtest"


@pytest.fixture(scope="session")
def stocks_csv() -> Path:
    if not STOCKS_CSV.is_file():
        pytest.skip(f"shared price data not found at {SHARED} (CI has it beside the checkout)")
    return STOCKS_CSV


@pytest.fixture(scope="session")
def stocks(stocks_csv: Path) -> PriceTable:
    """The 20 S&P 500 stocks, daily 1990-2022, every column (sorted as the planner sorts symbols)."""
    table = load_prices(stocks_csv)
    return table.select(sorted(table.symbols))


def equal_weight(symbols: tuple[str, ...], trading: Trading) -> Desired:
    """1/n of the account in each symbol and no cash: the simplest portfolio a backtest can run."""
    w = Decimal(1) / len(symbols)
    return desired({s: w for s in symbols}, name="eq", account="eq", trading=trading)


# bt's conventions: fractional positions, weights by value at the close, each order's cash flow (commission
# included) closes its gap. The planner matches them with a fine quantity step, net-of-costs sizing, no cash
# target and no cost cap (docs/backtest.md, "Cross-check against bt").
BT_ALIGNED = Trading(
    fractional=True,
    quantity_step=Decimal("1e-12"),
    order_sizing="net_of_costs",
    max_cost_fraction=Decimal(1),
)


def write_workspace(
    folder: Path,
    targets: dict[str, str],
    *,
    account: str = "research",
    fractional: bool = False,
    cash: str = "0",
    tax: str = "",
) -> Path:
    """A workspace of one portfolio `p` on the paper broker ($1 a order, 5 bps), whose account is not declared
    under broker.accounts (a backtest trades no account), with `tax` (a flow mapping) as its tax: block when
    given; returns its reconciler.yaml."""
    (folder / "portfolios").mkdir(parents=True)
    config = folder / "reconciler.yaml"
    config.write_text(
        "apiVersion: reconciler.dev/v1\nkind: Config\nportfolios_dir: portfolios\n"
        "broker:\n  kind: paper\n  slippage_bps: 5\n  commission: {per_order: 1}\n  accounts:\n"
        "    live: {cash: 1000}\n"
    )
    lines = [f"    {s}: {w}" for s, w in targets.items()]
    trading = "  trading:\n    fractional: true\n" if fractional else ""
    (folder / "portfolios" / "p.yaml").write_text(
        "apiVersion: reconciler.dev/v1\nkind: Portfolio\nmetadata:\n  name: p\nspec:\n"
        f"  account: {account}\n  targets:\n" + "\n".join(lines) + f"\n  cash: {cash}\n" + trading
        + (f"  tax: {tax}\n" if tax else "")
    )
    return config


def write_prices(path: Path, dates: list[str], columns: dict[str, list[float]]) -> Path:
    """A price CSV: a date column and one column of closes per symbol."""
    symbols = list(columns)
    rows = ["date," + ",".join(symbols)]
    rows += [",".join([d, *(repr(float(columns[s][i])) for s in symbols)]) for i, d in enumerate(dates)]
    path.write_text("\n".join(rows) + "\n")
    return path
