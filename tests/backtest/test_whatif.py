"""backtest.whatif: each side is the engine's own backtest of its targets, over the configured window; a gap
in one portfolio's prices is named and the others still run; the value path is sampled with both ends kept."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from reconciler.backtest.data import load_prices
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.strategies import parse_strategy
from reconciler.backtest.whatif import POINTS, Change, compare, sampled, window
from reconciler.core.models import CostModel
from reconciler.core.tax_rules import TaxRates, TaxSettings
from reconciler.workspace.whatif import WhatIf
from tests.backtest.conftest import REPO
from tests.builders import desired, price_csv

OLD = desired({"AAA": "0.5", "BBB": "0.5"}, name="p")
NEW = desired({"AAA": "0.7", "BBB": "0.3"}, name="p")


@pytest.fixture
def closes(tmp_path: Path) -> Path:
    return price_csv(tmp_path / "closes.csv", ("AAA", "BBB"), days=700)


def test_each_side_is_the_engines_backtest_of_its_targets(closes: Path) -> None:
    table, settings = load_prices(closes), WhatIf(prices="closes.csv", years=2)
    report = compare([Change("p", OLD, NEW)], table, settings, CostModel(slippage_bps=Decimal(5)))
    start, end = window(table, settings)
    rule = parse_strategy("threshold", NEW.trading.bands)
    prices = table.select(["AAA", "BBB"], start, end)
    run = run_strategy(NEW, prices, rule, Settings(costs=CostModel(slippage_bps=Decimal(5))))
    assert report.portfolios[0].sides[1].final_value == compute(run).final_value


RATE = Decimal("0.3")


def _taxed_side(closes: Path) -> tuple[float, float]:
    """The taxes of a new side with a tax: block (30% both terms, no wash-sale guard, budget or hold, so it
    trades as its untaxed twin) under what_if's defaults (no tax), and of the twin with the rates as flags."""
    block = TaxSettings(lots="hifo", rates=TaxRates(short_term=RATE, long_term=RATE), wash_sale=False)
    taxed = NEW.model_copy(update={"tax": block})
    table, settings = load_prices(closes), WhatIf(prices="closes.csv", years=2)
    report = compare([Change("p", OLD, taxed)], table, settings, CostModel())
    start, end = window(table, settings)
    prices = table.select(["AAA", "BBB"], start, end)
    by_flags = Settings(costs=CostModel(), lot_method="hifo", tax_short=RATE, tax_long=RATE)
    run = run_strategy(NEW, prices, parse_strategy("threshold", NEW.trading.bands), by_flags)
    return report.portfolios[0].sides[1].taxes, compute(run).taxes_paid


def test_a_side_with_a_tax_block_is_taxed_by_its_block_not_by_what_if_settings(closes: Path) -> None:
    """what_if.lots, tax_short and tax_long are for a portfolio without `tax:`; one with it runs by it."""
    block_taxes, twin_taxes = _taxed_side(closes)
    assert block_taxes == twin_taxes


def test_the_taxed_side_pays_tax(closes: Path) -> None:
    """So the test above compares taxes that are there."""
    assert _taxed_side(closes)[0] > 0


def test_the_what_if_taxes_line_says_a_tax_block_is_used(closes: Path) -> None:
    taxed = NEW.model_copy(update={"tax": TaxSettings(lots="hifo")})
    report = compare([Change("p", OLD, taxed)], load_prices(closes), WhatIf(prices="closes.csv"), CostModel())
    assert report.taxes.endswith("; a portfolio with a tax: block by its own lots and rates, as plan sells")


def test_the_window_is_the_configured_years_up_to_the_last_day(closes: Path) -> None:
    table = load_prices(closes)
    start, end = window(table, WhatIf(prices="closes.csv", years=2))
    assert (end - start).days == round(365.25 * 2)


def test_a_window_longer_than_the_prices_starts_at_their_first_day(closes: Path) -> None:
    table = load_prices(closes)
    assert window(table, WhatIf(prices="closes.csv", years=40))[0] == table.day(0)


def test_a_gap_in_one_portfolios_prices_is_named_and_the_others_run(tmp_path: Path) -> None:
    path = price_csv(tmp_path / "closes.csv", ("AAA", "BBB", "CCC"), days=300)
    lines = path.read_text().splitlines()
    lines[150] = ",".join([*lines[150].split(",")[:3], ""])  # CCC has no close that day
    path.write_text("\n".join(lines) + "\n")
    gappy = desired({"AAA": "0.5", "CCC": "0.5"}, name="q")
    report = compare([Change("q", gappy, gappy), Change("p", OLD, NEW)], load_prices(path),
                     WhatIf(prices="closes.csv", years=5), CostModel())
    assert [len(r.sides) for r in report.portfolios] == [0, 2]
    assert report.portfolios[0].note.startswith("not backtested: CCC has no price on ")


def test_a_portfolio_the_pull_request_adds_runs_its_new_targets_alone(closes: Path) -> None:
    report = compare([Change("p", None, NEW)], load_prices(closes), WhatIf(prices="closes.csv"), CostModel())
    assert [s.label for s in report.portfolios[0].sides] == ["new targets"]


def test_the_path_keeps_its_first_and_last_values() -> None:
    values = np.linspace(1.0, 5_000.0, 2_517)
    kept = sampled(values)
    assert kept[0] == 1.0
    assert kept[-1] == 5_000.0
    assert len(kept) == POINTS


def test_a_short_path_is_kept_whole() -> None:
    assert sampled(np.array([1.0, 2.0, 3.0])) == (1.0, 2.0, 3.0)


def test_the_readmes_what_if_is_what_the_renderer_gives_on_the_shipped_data() -> None:
    """bench/whatif.py recorded the section the README shows (test_bench_guard: the README block renders it);
    the same case rendered now must give the same text."""
    pytest.importorskip("skfolio")
    sys.path.insert(0, str(REPO / "bench"))
    import whatif as bench_whatif

    recorded = json.loads((REPO / "bench" / "results" / "whatif.json").read_text())["figures"]["excerpt"]
    assert bench_whatif.section()[0] == recorded
