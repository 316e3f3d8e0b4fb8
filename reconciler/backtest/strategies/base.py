"""What every strategy shares: the `Strategy` the engine runs, and `StrategyKind`, the small protocol one
strategy's module implements (its name, when it looks, whether it takes a band or an anchor, its defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

from reconciler.core.rules import Bands, Trading
from reconciler.errors import BacktestError

Every = Literal["never", "daily", "weekly", "monthly", "quarterly", "annual"]
TradeMode = Literal["drifted", "all"]
Anchor = Literal["start", "end"]
ZERO_BANDS = Bands(absolute=Decimal(0), relative=None)


@dataclass(frozen=True)
class Strategy:
    """When to look and what triggers a trade; the planner decides the trade itself."""

    name: str
    kind: str  # a StrategyKind's name
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


class StrategyKind:
    """One kind of strategy, as `--strategy KIND:...` names it: a subclass in its own module is the whole of
    it.

    The parser reads only these declarations, so a new kind needs no edit elsewhere (the package finds it)."""

    name: ClassVar[str]
    every: ClassVar[Every]  # the default period; "never" for a kind that never looks (and takes no period)
    anchored: ClassVar[bool] = False  # takes at=start|end
    banded: ClassVar[bool] = False  # takes abs=, rel=, inner=, trade=
    directed_contributions: ClassVar[bool] = False

    def check_period(self, every: Every, where: str) -> None:
        """Refuse a period this kind cannot look at (the parser has already checked it is a period)."""
        del every, where

    def default_band(
        self, absolute: Decimal | None, relative: Decimal | None, inner: Decimal | None
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """The band options as given, with this kind's own defaults filled in (before the portfolio's)."""
        return absolute, relative, inner


def refuse(message: str, where: str, fix: str) -> BacktestError:
    """The error a strategy's own check raises, in the parser's form."""
    return BacktestError(message, where=where, fix=fix)
