"""Rebalancing strategies: when to look, which band triggers a trade, and which band the planner applies.

A strategy never computes a trade: on a day it looks and its trigger fires, the planner plans with the
strategy's `Trading` settings, exactly as `reconciler plan` would. Each kind is one `StrategyKind` subclass in
its own module of this package (`never`, `calendar`, `threshold`, `calendar_threshold`, `opportunistic`,
`buy_only`), found here at import; the module's docstring gives its `--strategy` spelling.

Band options: `abs`, `rel` (the tighter applies; give one to use only it; default the portfolio's own bands),
`inner` (0 back to target .. 1 back to the band's edge), `every` (daily, weekly, monthly, quarterly, annual),
`trade=drifted` (default: the planner's own rule, only holdings beyond their band trade, and cash outside its
band moves the others) or `trade=all` (every holding back to target once any is beyond its band, as bt's
RunIfOutOfBounds + Rebalance). `at=start` (default) or `at=end`: calendar strategies look on the first or the
last row of each period. Values may be written as 0.05 or 5%.
"""

from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal, InvalidOperation

from reconciler.backtest.strategies.base import (
    ZERO_BANDS,
    Anchor,
    Every,
    Strategy,
    StrategyKind,
    TradeMode,
)
from reconciler.core.rules import Bands
from reconciler.errors import BacktestError

__all__ = ["KINDS", "ZERO_BANDS", "Anchor", "Every", "Strategy", "StrategyKind", "TradeMode",
           "parse_strategy"]


def _discover() -> dict[str, StrategyKind]:
    """Every module of this package but `base` declares one kind as `KIND`: a new strategy is one new file."""
    found: dict[str, StrategyKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        kind = importlib.import_module(f"{__name__}.{info.name}").KIND
        if not isinstance(kind, StrategyKind) or kind.name in found:
            raise TypeError(f"{__name__}.{info.name}: KIND must be one StrategyKind with a name of its own")
        found[kind.name] = kind
    return found


KINDS: dict[str, StrategyKind] = _discover()
PERIODS: dict[str, Every] = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "quarterly": "quarterly",
    "annual": "annual",
    "annually": "annual",
    "yearly": "annual",
}
OPTIONS = ("every", "abs", "rel", "inner", "trade", "at")
GRAMMAR = (
    "write KIND[:OPTION,...], e.g. never, calendar:quarterly, threshold:abs=0.05,"
    " threshold:rel=0.2,trade=all, calendar-threshold:annual,abs=0.05,at=end,"
    " opportunistic:abs=0.1,inner=0.5, buy-only (see docs/backtest.md)"
)


def _names(pred: str) -> str:
    """The kinds that have a flag, in prose ("a, b and c"), for the message that refuses an option."""
    names = [k.name for k in KINDS.values() if getattr(k, pred)]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def parse_strategy(spec: str, portfolio_bands: Bands) -> Strategy:
    """Parse one `--strategy` value; the portfolio's bands are the default for band-based strategies."""
    where = f"--strategy {spec}"
    text = spec.strip()
    kind_text, _, rest = text.partition(":")
    kind_text = kind_text.strip().lower()
    if kind_text not in KINDS:
        raise BacktestError(f"unknown strategy {kind_text!r}", where=where, fix=GRAMMAR)
    kind = KINDS[kind_text]
    options: dict[str, str] = {}
    for item in (p.strip() for p in rest.split(",") if p.strip()):
        key, eq, value = item.partition("=")
        if not eq:
            key, value = "every", item
        key = key.strip().lower()
        if key not in OPTIONS:
            raise BacktestError(f"unknown option {key!r}", where=where, fix=GRAMMAR)
        if key in options:
            raise BacktestError(f"option {key!r} given twice", where=where, fix=GRAMMAR)
        options[key] = value.strip().lower()

    every = kind.every
    if "every" in options:
        if kind.every == "never":
            raise BacktestError(f"{kind.name} never looks, so it takes no period", where=where, fix=GRAMMAR)
        if options["every"] not in PERIODS:
            raise BacktestError(
                f"unknown period {options['every']!r}",
                where=where,
                fix="use daily, weekly, monthly, quarterly or annual",
            )
        every = PERIODS[options["every"]]
    kind.check_period(every, where)

    at = options.get("at", "start")
    if "at" in options and not kind.anchored:
        raise BacktestError(
            f"{kind.name} takes no at= option", where=where,
            fix=f"at=start|end goes with {_names('anchored')}"
        )
    if at not in ("start", "end"):
        raise BacktestError(f"unknown anchor at={at}", where=where, fix="use at=start or at=end")
    anchor: Anchor = "end" if at == "end" else "start"
    if not kind.banded and any(k in options for k in ("abs", "rel", "inner", "trade")):
        raise BacktestError(
            f"{kind.name} takes no band options",
            where=where,
            fix=f"bands go with {_names('banded')}",
        )
    bands: Bands | None = None
    trade: TradeMode = "all"
    if kind.banded:
        bands, trade = _band(kind, options, portfolio_bands, where)
    return Strategy(
        name=text,
        kind=kind.name,
        every=every,
        bands=bands,
        trade=trade,
        directed_contributions=kind.directed_contributions,
        at=anchor,
    )


def _band(
    kind: StrategyKind, options: dict[str, str], portfolio_bands: Bands, where: str
) -> tuple[Bands, TradeMode]:
    given = _fraction(options, "abs", where), _fraction(options, "rel", where, upper=None)
    absolute, relative, inner = kind.default_band(*given, _fraction(options, "inner", where))
    if absolute is None and relative is None:
        absolute, relative = portfolio_bands.absolute, portfolio_bands.relative
        if "abs" in options or "rel" in options:  # both given as none
            absolute = relative = None
    if absolute is None and relative is None:
        raise BacktestError("a band strategy needs a band", where=where,
                            fix="give abs=FRACTION and/or rel=FRACTION")
    bands = Bands(absolute=absolute, relative=relative, inner=inner or Decimal(0))
    mode = options.get("trade", "drifted")
    if mode not in ("drifted", "all"):
        raise BacktestError(f"unknown trade mode {mode!r}", where=where, fix="use trade=drifted or trade=all")
    trade: TradeMode = "drifted" if mode == "drifted" else "all"
    if trade == "all" and bands.inner:
        raise BacktestError(
            "trade=all rebalances to target, so inner does not apply", where=where,
            fix="drop inner= or trade=all"
        )
    return bands, trade


def _fraction(options: dict[str, str], key: str, where: str,
              upper: Decimal | None = Decimal(1)) -> Decimal | None:
    if key not in options or options[key] in ("none", "null", ""):
        return None
    raw = options[key]
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise BacktestError(f"{key}={raw} is not a number", where=where,
                            fix="write e.g. 0.05 or 5%") from None
    if not value.is_finite() or value < 0 or (upper is not None and value > upper):
        bound = f"between 0 and {upper}" if upper is not None else "not negative"
        raise BacktestError(f"{key}={raw} is out of range", where=where, fix=f"{key} must be {bound}")
    return value
