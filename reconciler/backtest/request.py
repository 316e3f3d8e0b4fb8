"""What a backtest is asked to run, from text (the command line) to checked settings, in one place.

Amounts, rates and dates arrive as text: each is parsed exactly (Decimal), bounded, and refused with a message
naming the option and the fix. The costs default to the configured broker's, filled by the same rule apply's
orders follow (limit orders at the close ± the band when so configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from reconciler.backtest.engine import Settings
from reconciler.backtest.strategies import Every, Strategy, parse_strategy
from reconciler.backtest.tax_inputs import terms
from reconciler.core.lots import LotMethod
from reconciler.core.models import CostModel, Desired
from reconciler.core.numbers import ZERO
from reconciler.core.rules import Commission
from reconciler.errors import BacktestError

# beyond this a float series (the metrics, the charts) loses cents, then overflows
MAX_AMOUNT = Decimal(10**15)
DEFAULT_STRATEGIES = ("never", "calendar:quarterly", "threshold")


@dataclass(frozen=True)
class BacktestRequest:
    """The options of `reconciler backtest`, as given (text), before any check."""

    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    start: str | None = None
    end: str | None = None
    cash: str = "100000"
    contribution: str = "0"
    every: Every = "monthly"
    slippage_bps: str | None = None
    commission_per_order: str | None = None
    commission_per_share: str | None = None
    commission_bps: str | None = None
    no_costs: bool = False  # no slippage and no commission, whatever the broker's
    # None: not given (the portfolio's `tax:` block's, else FIFO and no tax)
    lots: LotMethod | None = None
    tax_short: str | None = None
    tax_long: str | None = None
    tax_what_if: bool = False  # the three above replace the block's for this run, said in the output
    risk_free: str = "0"


@dataclass(frozen=True)
class Prepared:
    """A request checked against its portfolio and broker: ready for `engine.run_strategy`."""

    strategies: list[Strategy]
    settings: Settings
    risk_free: float
    start: date | None = None
    end: date | None = None
    notes: list[str] = field(default_factory=list)
    # The portfolio the run plans: the one given, with --tax-what-if's values in its `tax:` block.
    desired: Desired | None = None
    # Where the run's lot method and rates come from, for a portfolio with `tax:` (None without: the flags).
    tax_source: str | None = None


def prepare(
    request: BacktestRequest, desired: Desired, *, slippage_bps: Decimal, commission: Commission,
    limit_band: Decimal | None,
) -> Prepared:
    """Check every option and build the run's settings; the first problem is a BacktestError naming its
    option."""
    start, end = day(request.start, "--start"), day(request.end, "--end")
    strategies = [
        parse_strategy(s, desired.trading.bands) for s in (request.strategies or DEFAULT_STRATEGIES)
    ]
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise BacktestError("the same strategy is given twice", where="--strategy", fix="give each one once")
    given = [
        flag for flag, text in (
            ("--slippage-bps", request.slippage_bps),
            ("--commission-per-order", request.commission_per_order),
            ("--commission-per-share", request.commission_per_share),
            ("--commission-bps", request.commission_bps),
        ) if text is not None
    ]
    if request.no_costs and given:
        raise BacktestError(
            f"--no-costs and {given[0]} contradict each other", where="--no-costs",
            fix=f"drop {given[0]}, or drop --no-costs to set the costs one by one",
        )
    if request.no_costs:
        slippage_bps, commission = ZERO, Commission()
    overrides = {
        key: number(text, f"--commission-{key.replace('_', '-')}")
        for key, text in (
            ("per_order", request.commission_per_order),
            ("per_share", request.commission_per_share),
            ("bps", request.commission_bps),
        )
        if text is not None
    }
    slippage = (
        slippage_bps if request.slippage_bps is None else number(request.slippage_bps, "--slippage-bps")
    )
    costs = CostModel(
        slippage_bps=slippage, commission=commission.model_copy(update=overrides), limit_band=limit_band
    )
    settings = Settings(
        initial_cash=number(request.cash, "--cash"),
        contribution=number(request.contribution, "--contribution", signed=True),
        contribution_every=request.every,
        costs=costs,
        lot_method=request.lots or "fifo",
        tax_short=number(request.tax_short or "0", "--tax-short", fraction=True),
        tax_long=number(request.tax_long or "0", "--tax-long", fraction=True),
    )
    desired, tax_source = taxed(request, desired, settings)
    settings = terms(desired, settings)
    if settings.initial_cash <= 0 and settings.contribution <= 0:
        raise BacktestError("nothing to invest", where="--cash", fix="give --cash or a positive"
                            " --contribution")
    risk_free = float(number(request.risk_free, "--risk-free", signed=True, fraction=True))
    return Prepared(strategies, settings, risk_free, start, end, desired=desired, tax_source=tax_source)


def taxed(request: BacktestRequest, desired: Desired, flags: Settings) -> tuple[Desired, str | None]:
    """The portfolio to run and where its taxes come from: its `tax:` block, as `plan` sells by it."""
    # A tax flag that disagrees with the block is refused, unless --tax-what-if puts the flag's value in the
    # block for this run (planner and book alike), which the output then says. Without a block the flags
    # decide anyway.
    tax = desired.tax
    if tax is None:
        return desired, None
    given = [
        (flag, field_, shown, value)
        for flag, field_, shown, value, text in (
            ("--lots", "lots", tax.lots, flags.lot_method, request.lots),
            ("--tax-short", "rates.short_term", tax.rates.short_term, flags.tax_short, request.tax_short),
            ("--tax-long", "rates.long_term", tax.rates.long_term, flags.tax_long, request.tax_long),
        )
        if text is not None and value != shown
    ]
    where = f"{desired.source}: spec.tax"
    if not given:
        return desired, f"from {where}"
    if not request.tax_what_if:
        said = "; ".join(
            f"{flag} {value} disagrees with the portfolio's tax.{field_} ({shown})"
            for flag, field_, shown, value in given
        )
        drop = ", ".join(flag for flag, _, _, _ in given)
        to = ", ".join(f"tax.{field_} to {value}" for _, field_, _, value in given)
        them = str(given[0][3]) if len(given) == 1 else "them"
        raise BacktestError(
            f"{said}: a portfolio with a tax: block is backtested by its own lot method and rates, as plan"
            " sells by them",
            where=f"{where}.{given[0][1]}",
            fix=f"drop {drop} (or set {to} in {desired.source}); to try {them} without changing the file, add"
            " --tax-what-if",
        )
    # Only the flags given replace the block's values; the others stay the block's.
    short = flags.tax_short if request.tax_short is not None else tax.rates.short_term
    long = flags.tax_long if request.tax_long is not None else tax.rates.long_term
    rates = tax.rates.model_copy(update={"short_term": short, "long_term": long})
    block = tax.model_copy(update={"lots": request.lots or tax.lots, "rates": rates})
    said = ", ".join(f"tax.{field_} {value} instead of {shown}" for _, field_, shown, value in given)
    return desired.model_copy(update={"tax": block}), f"from {where}, with --tax-what-if: {said}"


def number(value: str, flag: str, *, signed: bool = False, fraction: bool = False) -> Decimal:
    """An amount up to 1e15, or a fraction (a rate) in [0, 1] or [-1, 1] written 0.05 or 5%."""
    text = value.strip().replace("_", "").replace(",", "")
    try:
        d = Decimal(text[:-1]) / 100 if fraction and text.endswith("%") else Decimal(text)
    except InvalidOperation:
        example = "0.05 or 5%" if fraction else "a plain number such as 100000"
        raise BacktestError(f"{flag} {value!r} is not a number", where=flag, fix=f"write {example}") from None
    low = (-1 if fraction else -MAX_AMOUNT) if signed else 0
    high = 1 if fraction else MAX_AMOUNT
    if not d.is_finite() or not low <= d <= high:
        raise BacktestError(
            f"{flag} {value} is out of range", where=flag, fix=f"use a number from {low:,} to {high:,}"
        )
    return d


def day(value: str | None, flag: Literal["--start", "--end"]) -> date | None:
    """A `--start`/`--end` date, or a message naming the flag instead of a traceback."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BacktestError(f"{flag} {value!r} is not a date", where=flag, fix="write YYYY-MM-DD") from None
