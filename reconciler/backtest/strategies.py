"""Rebalancing strategies: when to look, which band triggers a trade, and which band the planner applies.

A strategy never computes a trade: on a day it looks and its trigger fires, the planner plans with the
strategy's `Trading` settings, exactly as `reconciler plan` would. Spec strings, as given to `--strategy`:

    never                                   buy at the start, then only invest contributions (buy and hold)
    calendar:monthly|quarterly|annual       every holding back to target on the first row of each period
    threshold[:abs=0.05][,rel=0.25]         look daily; trade when a holding is beyond its band
    calendar-threshold:quarterly[,abs=..]   look once a period; trade only when a holding is beyond its band
    ...,at=end                              calendar strategies: look on the last row of each period instead
    opportunistic[:rel=0.50,inner=0.5]      look daily, wide band, trade back to the band's inner edge
    buy-only                                contributions buy the most underweight holdings; never sell

Band options: `abs`, `rel` (the tighter applies; give one to use only it; default the portfolio's own bands),
`inner` (0 back to target .. 1 back to the band's edge), `every` (daily, weekly, monthly, quarterly, annual),
`trade=drifted` (default: the planner's own rule, only holdings beyond their band trade, and cash outside its
band moves the others) or `trade=all` (every holding back to target once any is beyond its band, as bt's
RunIfOutOfBounds + Rebalance). `at=start` (default) or `at=end`: calendar strategies look on the first or the
last row of each period. Values may be written as 0.05 or 5%.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from reconciler.core.rules import Bands, Trading
from reconciler.errors import BacktestError

Every = Literal["never", "daily", "weekly", "monthly", "quarterly", "annual"]
TradeMode = Literal["drifted", "all"]
Anchor = Literal["start", "end"]
Kind = Literal["never", "calendar", "threshold", "calendar-threshold", "opportunistic", "buy-only"]

KINDS: tuple[Kind, ...] = ("never", "calendar", "threshold", "calendar-threshold", "opportunistic", "buy-only")
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
ZERO_BANDS = Bands(absolute=Decimal(0), relative=None)
GRAMMAR = (
    "write KIND[:OPTION,...], e.g. never, calendar:quarterly, threshold:abs=0.05, threshold:rel=0.2,trade=all, "
    "calendar-threshold:annual,abs=0.05,at=end, opportunistic:abs=0.1,inner=0.5, buy-only (see docs/backtest.md)"
)


@dataclass(frozen=True)
class Strategy:
    """When to look and what triggers a trade; the planner decides the trade itself."""

    name: str
    kind: Kind
    every: Every
    bands: Bands | None  # None: trade on every look (calendar)
    trade: TradeMode = "all"
    directed_contributions: bool = False  # buy-only: contributions buy the most underweight holdings first
    at: Anchor = "start"  # calendar strategies: look on the first or the last row of each period

    def trading(self, base: Trading) -> Trading:
        """The planner settings on a day this strategy trades: the portfolio's, with the strategy's band."""
        if self.bands is None or self.trade == "all":
            return base.model_copy(update={"bands": ZERO_BANDS})
        return base.model_copy(update={"bands": self.bands})


def parse_strategy(spec: str, portfolio_bands: Bands) -> Strategy:
    """Parse one `--strategy` value; the portfolio's bands are the default for band-based strategies."""
    where = f"--strategy {spec}"
    text = spec.strip()
    kind_text, _, rest = text.partition(":")
    kind_text = kind_text.strip().lower()
    if kind_text not in KINDS:
        raise BacktestError(f"unknown strategy {kind_text!r}", where=where, fix=GRAMMAR)
    kind: Kind = kind_text
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

    defaults: dict[Kind, Every] = {
        "never": "never",
        "calendar": "quarterly",
        "threshold": "daily",
        "calendar-threshold": "quarterly",
        "opportunistic": "daily",
        "buy-only": "never",
    }
    every = defaults[kind]
    if "every" in options:
        if kind in ("never", "buy-only"):
            raise BacktestError(f"{kind} never looks, so it takes no period", where=where, fix=GRAMMAR)
        if options["every"] not in PERIODS:
            raise BacktestError(
                f"unknown period {options['every']!r}",
                where=where,
                fix="use daily, weekly, monthly, quarterly or annual",
            )
        every = PERIODS[options["every"]]
    if kind == "calendar-threshold" and every == "daily":
        raise BacktestError("calendar-threshold looks once a period", where=where, fix="use threshold to look daily")

    at = options.get("at", "start")
    if "at" in options and kind not in ("calendar", "calendar-threshold"):
        raise BacktestError(
            f"{kind} takes no at= option", where=where, fix="at=start|end goes with calendar and calendar-threshold"
        )
    if at not in ("start", "end"):
        raise BacktestError(f"unknown anchor at={at}", where=where, fix="use at=start or at=end")
    anchor: Anchor = "end" if at == "end" else "start"
    banded = kind in ("threshold", "calendar-threshold", "opportunistic")
    if not banded and any(k in options for k in ("abs", "rel", "inner", "trade")):
        raise BacktestError(
            f"{kind} takes no band options",
            where=where,
            fix="bands go with threshold, calendar-threshold and opportunistic",
        )
    bands: Bands | None = None
    trade: TradeMode = "all"
    if banded:
        absolute = _fraction(options, "abs", where)
        relative = _fraction(options, "rel", where, upper=None)
        inner = _fraction(options, "inner", where)
        if kind == "opportunistic":
            if absolute is None and relative is None:
                # Wide, and relative only: with no absolute band a zero cash target has a zero band, so what the
                # sales raise buys the underweight holdings at once instead of waiting in cash.
                relative = Decimal("0.50")
            inner = Decimal("0.5") if inner is None else inner
        if absolute is None and relative is None:
            absolute, relative = portfolio_bands.absolute, portfolio_bands.relative
            if "abs" in options or "rel" in options:  # both given as none
                absolute = relative = None
        if absolute is None and relative is None:
            raise BacktestError(
                "a band strategy needs a band", where=where, fix="give abs=FRACTION and/or rel=FRACTION"
            )
        bands = Bands(absolute=absolute, relative=relative, inner=inner or Decimal(0))
        mode = options.get("trade", "drifted")
        if mode not in ("drifted", "all"):
            raise BacktestError(f"unknown trade mode {mode!r}", where=where, fix="use trade=drifted or trade=all")
        trade = "drifted" if mode == "drifted" else "all"
        if trade == "all" and bands.inner:
            raise BacktestError(
                "trade=all rebalances to target, so inner does not apply", where=where, fix="drop inner= or trade=all"
            )
    return Strategy(
        name=text,
        kind=kind,
        every=every,
        bands=bands,
        trade=trade,
        directed_contributions=kind == "buy-only",
        at=anchor,
    )


def _fraction(options: dict[str, str], key: str, where: str, upper: Decimal | None = Decimal(1)) -> Decimal | None:
    if key not in options or options[key] in ("none", "null", ""):
        return None
    raw = options[key]
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise BacktestError(f"{key}={raw} is not a number", where=where, fix="write e.g. 0.05 or 5%") from None
    if not value.is_finite() or value < 0 or (upper is not None and value > upper):
        bound = f"between 0 and {upper}" if upper is not None else "not negative"
        raise BacktestError(f"{key}={raw} is out of range", where=where, fix=f"{key} must be {bound}")
    return value
