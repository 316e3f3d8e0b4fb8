"""What a change to the YAML did to the resolved targets (weights before → after, per portfolio), and the
settings and policy files a pull request changes. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.core.models import Desired, TargetChange, WeightChange


def diff_targets(before: Iterable[Desired], after: Iterable[Desired]) -> list[TargetChange]:
    """Per portfolio (matched by name), the weights and settings that differ; unchanged portfolios are left
    out."""
    old = {d.name: d for d in before}
    new = {d.name: d for d in after}
    changes: list[TargetChange] = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None and b is not None:
            changes.append(
                TargetChange(
                    portfolio=name, account=b.account, change="added", weights=_weights({}, b.targets),
                    cash_before=None, cash_after=b.cash,
                )
            )
        elif b is None and a is not None:
            changes.append(
                TargetChange(
                    portfolio=name, account=a.account, change="removed", weights=_weights(a.targets, {}),
                    cash_before=a.cash, cash_after=None,
                )
            )
        elif a is not None and b is not None:
            weights = _weights(a.targets, b.targets)
            settings = _settings(a, b)
            if weights or settings or a.cash != b.cash:
                changes.append(
                    TargetChange(
                        portfolio=name, account=b.account, change="changed", weights=weights,
                        cash_before=a.cash, cash_after=b.cash, settings=settings,
                    )
                )
    return changes


def _weights(before: dict[str, Decimal], after: dict[str, Decimal]) -> list[WeightChange]:
    out = []
    for symbol in sorted(before.keys() | after.keys()):
        w0, w1 = before.get(symbol), after.get(symbol)
        # 0.50 and 0.5 are the same weight: compare values, not spellings.
        if w0 is None or w1 is None or w0 != w1:
            out.append(WeightChange(symbol=symbol, before=w0, after=w1))
    return out


def _settings(a: Desired, b: Desired) -> list[str]:
    lines = []
    if a.account != b.account:
        lines.append(f"account: {a.account} → {b.account}")
    lines += _dict_diff("trading", a.trading.model_dump(), b.trading.model_dump())
    rules_a = {s: r.model_dump() for s, r in a.symbols.items()}
    rules_b = {s: r.model_dump() for s, r in b.symbols.items()}
    lines += _dict_diff("symbols", rules_a, rules_b)
    return lines


def _dict_diff(prefix: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """One line per leaf that differs, named by its dotted path."""
    lines: list[str] = []
    for key in sorted(a.keys() | b.keys()):
        path = f"{prefix}.{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            lines += _dict_diff(path, va, vb)
        elif va != vb:
            lines.append(f"{path}: {_show(va)} → {_show(vb)}")
    return lines


def _show(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


@dataclass(frozen=True)
class SettingChange:
    """One setting of reconciler.yaml a pull request changes, by its dotted path ("—": not set)."""

    path: str
    before: str
    after: str


@dataclass(frozen=True)
class PolicyFileChange:
    """One policy file a pull request adds, removes or changes, with the lines added and removed."""

    path: str
    status: str  # added | removed | changed
    added: int = 0
    removed: int = 0


# ---- what the new targets would have done (the plan comment's what-if section, backtest.whatif) ----

@dataclass(frozen=True)
class WhatIfSide:
    """One set of targets backtested: the figures the comment shows (floats: a report, never a trade)."""

    label: str  # "old targets" | "new targets"
    final_value: float
    after_tax_value: float
    cagr: float
    volatility: float
    max_drawdown: float
    turnover: float  # per year
    rebalances: int
    costs: float
    taxes: float
    path: tuple[float, ...]  # the account's value on evenly spaced days of the window, both ends included


@dataclass(frozen=True)
class WhatIfResult:
    """One portfolio whose targets a pull request changes: both sides, or why it was not backtested."""

    portfolio: str
    sides: tuple[WhatIfSide, ...] = ()  # old then new; the new side alone for a portfolio a pull request adds
    missing: tuple[str, ...] = ()  # its symbols the price source has no column for
    note: str = ""  # why it was not backtested (missing symbols, a gap in the prices)


@dataclass(frozen=True)
class WhatIfReport:
    """The what-if section of a plan comment: where the prices came from, window and rule, each portfolio."""

    source: str = ""
    rule: str = ""
    start: str = ""  # YYYY-MM-DD
    end: str = ""
    rows: int = 0
    unit: str = "trading days"
    cash: float = 0.0
    costs: str = ""
    taxes: str = ""
    portfolios: tuple[WhatIfResult, ...] = ()
    left_out: tuple[str, ...] = ()  # changed portfolios beyond what_if.max_portfolios
    note: str = ""  # one line when nothing could run (no numpy, the price file unreadable)
