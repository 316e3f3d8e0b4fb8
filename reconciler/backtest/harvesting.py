"""The wash-sale guard and harvesting in a backtest: the run's own trades and lots as the household the
planner judges (core.wash_guard, the same pure step `plan` runs), and the tax the harvests save.

A backtest is one account, so its household is that account. Sales are recorded with the gain the run's lots
give them (a sale closing any lot at a loss counts as a loss sale, as the guard counts it live). The tax saved
is each harvest sale's losses at their term's rate: a first-order figure, since the substitute bought at the
lower price carries a lower basis, so part of it is tax deferred rather than forgiven; the run's own taxes
paid, against a run without harvesting, say the rest (docs/backtest.md).
"""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta
from decimal import Decimal

from reconciler.backtest.tax_inputs import book_lots
from reconciler.core.household import Household
from reconciler.core.lots import LotMethod, Rates, TaxBook, close_lots, estimated_tax
from reconciler.core.models import Desired, Observation
from reconciler.core.numbers import ZERO
from reconciler.core.wash_guard import guard
from reconciler.core.wash_sale import WINDOW_DAYS, TradeEvent


class WashBook:
    """One backtest account's recent trades, for the guard, and the tax its harvests saved."""

    def __init__(self, account: str, method: LotMethod, rates: Rates) -> None:
        self.account = account
        self.method = method
        self.rates = rates
        self.trades: deque[TradeEvent] = deque()
        self.harvesting: frozenset[str] = frozenset()
        self.tax_saved = ZERO
        self.harvests = 0

    @classmethod
    def of(
        cls, desired: Desired, method: LotMethod, short_rate: Decimal, long_rate: Decimal
    ) -> WashBook | None:
        """The book of a portfolio with `tax:` settings; None for one without (its run is unchanged)."""
        if desired.tax is None:
            return None
        return cls(desired.account, method, Rates(short_rate, long_rate))

    def observed(self, desired: Desired, obs: Observation, book: TaxBook) -> Observation:
        """The observation with the run's trades of the window and its open lots; notes which holdings the
        plan harvests, so their sales count toward the tax saved."""
        since = obs.taken_at.date() - timedelta(days=WINDOW_DAYS)
        while self.trades and self.trades[0].day < since:
            self.trades.popleft()
        home = Household(name=self.account, accounts=[self.account], trades=list(self.trades))
        # The guard reads the lots from the observation's one field of them (set by backtest.tax_inputs).
        lots = book_lots(book, obs.positions) if obs.lots is None else obs.lots
        seen = obs.model_copy(update={"household": home, "lots": lots})
        self.harvesting = frozenset(guard(desired, seen).harvested)
        return seen

    def filled(
        self, book: TaxBook, symbol: str, side: str, day: date, quantity: Decimal, amount: Decimal
    ) -> None:
        """Record a fill before the book takes it: a buy, or a sale of `quantity` raising `amount` after its
        commission, with the gain the book's lots give it."""
        if side != "sell":
            self.trades.append(TradeEvent(self.account, symbol, day, "buy"))
            return
        closed = close_lots(book.open_lots(symbol), self.method, day, quantity, amount / quantity, self.rates)
        losses = [c for c in closed if c.gain < 0]
        gain = sum((c.gain for c in losses or closed), ZERO)
        self.trades.append(TradeEvent(self.account, symbol, day, "sell", gain))
        if symbol in self.harvesting and losses:
            self.tax_saved -= estimated_tax(losses, self.rates)
            self.harvests += 1
