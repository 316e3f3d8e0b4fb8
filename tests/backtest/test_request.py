"""The backtest's options, from text to checked settings, without the command line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reconciler.backtest.request import DEFAULT_STRATEGIES, BacktestRequest, prepare
from reconciler.core.rules import Commission, Trading
from reconciler.errors import BacktestError
from tests.backtest.conftest import equal_weight

DESIRED = equal_weight(("AAA", "BBB"), Trading())
BROKER = {
    "slippage_bps": Decimal(5),
    "commission": Commission(per_share=Decimal("0.005")),
    "limit_band": None,
}


def test_the_defaults_are_the_brokers_costs_and_three_strategies() -> None:
    ready = prepare(BacktestRequest(), DESIRED, **BROKER)  # type: ignore[arg-type]
    assert [s.name for s in ready.strategies] == ["never", "calendar:quarterly", "threshold"]
    assert len(DEFAULT_STRATEGIES) == 3
    costs = ready.settings.costs
    assert costs.slippage_bps == 5
    assert costs.commission.per_share == Decimal("0.005")
    assert costs.limit_band is None
    assert ready.settings.initial_cash == 100000
    assert ready.risk_free == 0.0
    assert (ready.start, ready.end) == (None, None)


def test_options_override_the_broker_exactly() -> None:
    request = BacktestRequest(
        strategies=("never",), start="2020-01-02", end=" 2021-12-31 ", cash="1_000,000.10",
        contribution="-500",
        slippage_bps="2.5", commission_bps="1", tax_short="37%", tax_long="0.2", risk_free="-1%", lots="hifo",
    )
    ready = prepare(
        request, DESIRED, slippage_bps=Decimal(5), commission=Commission(), limit_band=Decimal("0.005")
    )
    s = ready.settings
    assert s.initial_cash == Decimal("1000000.10")
    assert s.contribution == -500
    assert s.costs.slippage_bps == Decimal("2.5")
    assert s.costs.commission.bps == 1
    assert s.costs.limit_band == Decimal("0.005")  # filled like apply's limit orders
    assert (s.tax_short, s.tax_long, s.lot_method) == (Decimal("0.37"), Decimal("0.2"), "hifo")
    assert ready.risk_free == -0.01
    assert (ready.start, ready.end) == (date(2020, 1, 2), date(2021, 12, 31))


@pytest.mark.parametrize(("change", "says"), [
    ({"cash": "lots"}, "--cash 'lots' is not a number"),
    ({"cash": "1e16"}, "--cash 1e16 is out of range"),
    ({"cash": "NaN"}, "--cash NaN is out of range"),
    ({"tax_short": "120%"}, "--tax-short 120% is out of range"),
    ({"tax_long": "-0.1"}, "--tax-long -0.1 is out of range"),
    ({"start": "2020-13-01"}, "--start '2020-13-01' is not a date"),
    ({"strategies": ("never", "never")}, "the same strategy is given twice"),
    ({"cash": "0", "contribution": "0"}, "nothing to invest"),
    ({"commission_per_share": "-1"}, "--commission-per-share -1 is out of range"),
])
def test_each_bad_option_is_named(change: dict[str, object], says: str) -> None:
    with pytest.raises(BacktestError) as caught:
        prepare(BacktestRequest(**change), DESIRED, **BROKER)  # type: ignore[arg-type]
    assert says in caught.value.render()
    assert "fix:" in caught.value.render()
