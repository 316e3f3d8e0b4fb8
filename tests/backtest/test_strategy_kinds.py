"""Each strategy kind is one module of reconciler/backtest/strategies/ declaring one StrategyKind: the package
finds every module, so a new kind is one file, and `--strategy NAME` parses for each kind found."""

from __future__ import annotations

import pkgutil
from decimal import Decimal

import pytest

from reconciler.backtest import strategies
from reconciler.backtest.strategies import KINDS, parse_strategy
from reconciler.core.rules import Bands
from reconciler.errors import BacktestError

BANDS = Bands(absolute=Decimal("0.05"), relative=None)


def test_every_module_of_the_package_is_a_kind() -> None:
    modules = {m.name for m in pkgutil.iter_modules(strategies.__path__)} - {"base"}
    assert {name.replace("-", "_") for name in KINDS} == modules


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_parses_by_its_name(name: str) -> None:
    assert parse_strategy(name, BANDS).kind == name


@pytest.mark.parametrize("name", sorted(n for n, kind in KINDS.items() if kind.every == "never"))
def test_a_kind_that_never_looks_takes_no_period(name: str) -> None:
    with pytest.raises(BacktestError, match="never looks"):
        parse_strategy(f"{name}:monthly", BANDS)
