"""Fixtures for backtests: the shared price histories (real data, beside the checkout) and the example workspace."""

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
