"""The backtest loop: the account's books in Decimal, the real planner on every day a trade may happen, the
paper broker's fill model, tax lots; the float kernels value the quiet days in between.

Each day, at the close: last year's tax is paid on the first trading day of a year, then the contribution or
withdrawal of the day, then the strategy looks (if it is a look day) and, when its trigger fires, the planner
plans with the strategy's settings and the plan is filled. Cash that a withdrawal or a tax bill needs beyond
the cash held is raised by a planner sell of every holding in proportion to its weight, as `plan` raises a
withdrawal's (core.raise_cash).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import numpy as np

from reconciler.backtest import kernels
from reconciler.backtest.costs import FillModel
from reconciler.backtest.data import PriceTable
from reconciler.backtest.harvesting import WashBook
from reconciler.backtest.orders import send_orders
from reconciler.backtest.quotes import close_time, day_quotes, decimals
from reconciler.backtest.run import Event, Settings, StrategyRun
from reconciler.backtest.schedule import look_days, period_starts
from reconciler.backtest.strategies import ZERO_BANDS, Strategy
from reconciler.backtest.tax_inputs import terms, with_tax_inputs
from reconciler.core.lots import TaxBook
from reconciler.core.models import Desired, Observation, PortfolioPlan, Quote
from reconciler.core.numbers import ONE, ZERO
from reconciler.core.planner import UNDER_STEP, band_for, plan_orders, plan_portfolio, plan_unit_costs
from reconciler.core.rules import Withdrawal
from reconciler.errors import BacktestError

__all__ = ["Event", "PolicyCheck", "Progress", "Settings", "StrategyRun", "run_strategy", "trigger_for"]

# A plan with actions → the messages of the policies that block it (empty: it may be filled).
PolicyCheck = Callable[[PortfolioPlan, datetime], list[str]]
Progress = Callable[[int], None]


class _Account:
    """One strategy's account: Decimal books and their float mirror for the kernels."""

    def __init__(
        self,
        desired: Desired,
        prices: PriceTable,
        strategy: Strategy,
        settings: Settings,
        policy: PolicyCheck | None,
    ) -> None:
        self.desired = desired
        self.prices = prices
        self.strategy = strategy
        self.settings = settings
        self.policy = policy
        self.symbols = prices.symbols
        self.index = {s: j for j, s in enumerate(self.symbols)}
        n, days = len(self.symbols), len(prices.dates)
        self.held = [ZERO] * n
        self.cash = settings.initial_cash
        self.q = np.zeros(n)
        self.cash_f = float(self.cash)
        self.fills = FillModel(settings.costs)
        self.unit = plan_unit_costs(settings.costs)  # the planner's, worked out once for the run
        self._quotes_day = -1
        self._today = prices.day(0)
        self._when = close_time(self._today)
        self._quotes: dict[str, Quote] = {}
        self._dec_prices: list[Decimal] = []
        self.bought = ZERO
        self.sold = ZERO
        # The holdings from each trade day on, valued in one pass at the end (kernels.value_segments), and
        # the trade days' min(bought, sold) for their turnover.
        self.starts: list[int] = []
        self.qs: list[kernels.FloatArray] = []
        self.cashes: list[float] = []
        self.traded: list[tuple[int, Decimal]] = []
        self.run = StrategyRun(
            strategy=strategy,
            symbols=self.symbols,
            dates=prices.dates,
            targets=np.array([float(desired.targets[s]) for s in self.symbols]),
            cash_target=float(desired.cash),
            equity=np.zeros(days),
            flows=np.zeros(days),
            weights=np.zeros((days, n)),
            turnover=np.zeros(days),
            book=TaxBook(settings.lot_method, settings.tax_short, settings.tax_long),
        )
        self.wash = self.run.wash = WashBook.of(desired, settings.lot_method, settings.tax_short,
                                                settings.tax_long)
        zero = desired.trading.model_copy(update={"bands": ZERO_BANDS})
        self.funding = desired.model_copy(update={"trading": zero.model_copy(update={"buy_only": True})})
        self.looking = desired.model_copy(update={"trading": strategy.trading(desired.trading)})
        self.raising = zero.model_copy(
            update={"min_trade_notional": ZERO, "order_sizing": "net_of_costs", "max_cost_fraction": ONE}
        )

    # ---- observation and fills ----
    def _prices_on(self, day: int) -> tuple[list[Decimal], dict[str, Quote]]:
        if day != self._quotes_day:
            self._today = today = self.prices.day(day)
            self._when = when = close_time(today)
            self._dec_prices = prices = decimals(self.prices.closes[day].tolist())
            if self.policy is not None and day > 0:  # the kill switch compares with the previous close
                prev = decimals(self.prices.closes[day - 1].tolist())
                self._quotes = day_quotes(self.symbols, prices, prev, when)
            else:
                self._quotes = day_quotes(self.symbols, prices, [None] * len(prices), when)
            self._quotes_day = day
        return self._dec_prices, self._quotes

    def equity_on(self, day: int) -> Decimal:
        prices, _ = self._prices_on(day)
        return sum((q * p for q, p in zip(self.held, prices, strict=True) if q), ZERO) + self.cash

    def plan_and_fill(self, desired: Desired, day: int) -> bool:
        """Plan with the real planner, check policies, fill like the paper broker; True when something
        traded."""
        _, quotes = self._prices_on(day)
        when = self._when  # the day's close, as its quotes carry
        obs = Observation(
            account=desired.account,
            taken_at=when,
            positions={s: q for s, q in zip(self.symbols, self.held, strict=True) if q},
            cash_settled=self.cash,
            quotes=quotes,
        )
        obs = with_tax_inputs(desired, obs, self.run.book)  # lots and the year's gains (core.tax_orders)
        obs = obs if self.wash is None else self.wash.observed(desired, obs, self.run.book)  # wash_guard
        # Policies judge the whole plan; without them the orders and notes are all a day needs (no table
        # rows).
        if self.policy is None:
            actions, notes = plan_orders(desired, obs, self.settings.costs, self.unit)
        else:
            plan = plan_portfolio(desired, obs, self.settings.costs)
            actions, notes = plan.actions, plan.notes
        if notes:
            self.run.under_step += sum(1 for note in notes if UNDER_STEP in note)
        if not actions:
            return False
        if self.policy is not None:
            denied = self.policy(plan, when)
            if denied:
                self.run.events.append(Event(self.prices.day(day), "blocked", "; ".join(denied)))
                return False
        run, book, held, index, q, wash = self.run, self.run.book, self.held, self.index, self.q, self.wash
        today = self._today
        sent = send_orders(actions, quotes, self.cash, desired.trading, self.fills)
        if sent.events:
            run.events += [Event(today, kind, message) for kind, message in sent.events]
        bought, sold, commissions, slippage = self.bought, self.sold, ZERO, ZERO
        for f in sent.filled:
            a, qty, commission = f.action, f.quantity, f.commission
            symbol = a.symbol
            j = index[symbol]
            gross, at_quote = f.notional, a.notional if qty == a.quantity else a.price * qty
            if wash is not None:  # before the book closes the lots the sale's gain comes from
                wash.filled(book, symbol, a.side, today, qty, gross - commission)
            if a.side == "sell":
                held[j] -= qty
                book.sell(symbol, today, qty, gross - commission)
                sold += at_quote
            else:
                held[j] += qty
                book.buy(symbol, today, qty, gross + commission)
                bought += at_quote
            q[j] = float(held[j])
            commissions += commission
            slippage += abs(gross - at_quote)
        cash, orders = sent.cash, len(sent.filled)
        self.cash, self.bought, self.sold = cash, bought, sold
        self.cash_f = float(cash)
        run.commissions += commissions
        run.slippage += slippage
        run.orders += orders
        return orders > 0

    # ---- money in and out ----
    def contribute(self, amount: Decimal, day: int) -> None:
        self.cash += amount
        self.cash_f = float(self.cash)
        self.run.contributed += amount
        self.run.flows[day] += float(amount)
        if self.strategy.directed_contributions:
            self.plan_and_fill(self.funding, day)  # buy-only: the most underweight holdings first
            return
        # Everyone else invests new money in proportion to the targets: no rebalancing by the back door.
        prices, _ = self._prices_on(day)
        equity = self.equity_on(day)
        targets = {
            s: (self.held[j] * prices[j] + self.desired.targets[s] * amount) / equity
            for j, s in enumerate(self.symbols)
        }
        cash_weight = ONE - sum(targets.values(), ZERO)
        self.plan_and_fill(self.funding.model_copy(update={"targets": targets, "cash": cash_weight}), day)

    def pay(self, amount: Decimal, day: int) -> Decimal:
        """Take `amount` out of the account (a withdrawal or a tax bill), selling pro rata if cash is
        short."""
        if self.cash < amount:
            self._raise_cash(amount - self.cash, day)
        paid = min(amount, self.cash)
        self.cash -= paid
        self.cash_f = float(self.cash)
        if paid < amount:
            self.run.events.append(
                Event(self.prices.day(day), "shortfall", f"needed {amount:.2f}, the account had {paid:.2f}")
            )
        return paid

    def _raise_cash(self, need: Decimal, day: int) -> None:
        """Sell `need` (and a step of each holding) in proportion to the holdings, as live `plan` raises a
        withdrawal's cash: a pending withdrawal (core.raise_cash) of the targets' account, whose sells the tax
        rules do not trim (core.tax_orders.taxed_leg's `forced`)."""
        prices, _ = self._prices_on(day)
        values = [q * p for q, p in zip(self.held, prices, strict=True)]
        invested = sum(values, ZERO)
        if invested <= 0:
            return
        step = self.desired.trading.step
        # Sells round down to the quantity step: ask for one more step of each holding so the cash is there.
        buffer = sum((step * p for q, p in zip(self.held, prices, strict=True) if q), ZERO)
        # The equity as raise_cash sums it (cash first, then each holding): it refuses an amount above it.
        equity = self.cash
        for v in values:
            equity += v
        amount = self.cash + need + buffer
        if need + buffer < invested and amount < equity:
            # Targets of the holdings as they are (cash 0), the cash held and the need withdrawn: raise_cash
            # keeps (equity - amount) / equity of each, i.e. sells `need + buffer` of them pro rata. Not the
            # portfolio's targets, as `plan --raise` uses: paying a bill must not rebalance a strategy that
            # would not (buy and hold), so only the cash step is live's.
            targets = {s: values[j] / invested for j, s in enumerate(self.symbols)}
        else:  # everything is sold: any amount the account holds (raise_cash refuses more) with no targets
            targets = {s: ZERO for s in self.symbols}
            amount = invested
        desired = self.desired.model_copy(update={
            "targets": targets, "cash": ONE - sum(targets.values(), ZERO), "trading": self.raising,
            "withdrawals": [Withdrawal(amount=amount, date=self.prices.day(day))],
        })
        self.plan_and_fill(desired, day)

    # ---- records ----
    def record(self, day: int) -> None:
        """Note the holdings after the day's trades (`close` values them with the rest) and its turnover."""
        self.starts.append(day)
        self.qs.append(self.q.copy())
        self.cashes.append(self.cash_f)
        if self.bought or self.sold:
            self.traded.append((day, min(self.bought, self.sold)))
        self.bought = self.sold = ZERO

    def close(self) -> None:
        """End-of-day equity and weights of every day, and the trade days' turnover (min(bought, sold) over
        the equity after the day's trades)."""
        run = self.run
        kernels.value_segments(self.prices.closes, self.starts, self.qs, self.cashes, run.equity, run.weights)
        # Before a trade day's trades the account held the previous segment's holdings and cash.
        run.pre_trade = kernels.weights_before(self.prices.closes, self.starts, self.qs, self.cashes)
        for day, traded in self.traded:
            e = float(run.equity[day])
            if e > 0:
                run.turnover[day] = float(traded) / e


def trigger_for(strategy: Strategy, desired: Desired) -> kernels.Trigger | None:
    """The float bounds of the strategy's no-trade region, with the planner's own band rule (band_for)."""
    if strategy.bands is None:
        return None
    symbols = sorted(desired.targets)
    t = [desired.targets[s] for s in symbols]
    b = [band_for(x, strategy.bands) for x in t]
    lower = np.array([float(x - y) for x, y in zip(t, b, strict=True)])
    upper = np.array([float(x + y) for x, y in zip(t, b, strict=True)])
    if strategy.trade == "all":  # bt's RunIfOutOfBounds looks at the holdings only
        return kernels.Trigger(lower, upper, -np.inf, np.inf, 0.0, 0.0)
    cb = band_for(desired.cash, strategy.bands)
    trading = desired.trading
    return kernels.Trigger(
        lower,
        upper,
        float(desired.cash - cb),
        float(desired.cash + cb),
        float(trading.min_trade_notional),
        float(trading.step),
    )


def run_strategy(
    desired: Desired,
    prices: PriceTable,
    strategy: Strategy,
    settings: Settings,
    *,
    policy: PolicyCheck | None = None,
    progress: Progress | None = None,
) -> StrategyRun:
    """Backtest one strategy on `prices` (columns in the order of sorted(desired.targets))."""
    if list(prices.symbols) != sorted(desired.targets):
        raise BacktestError(
            "price columns do not match the portfolio's targets",
            where=prices.source,
            fix="select the portfolio's symbols (PriceTable.select(sorted(targets)))",
        )
    days = len(prices.dates)
    settings = terms(desired, settings)  # a `tax:` block's lot method and rates, as `plan` sells by them
    acct = _Account(desired, prices, strategy, settings, policy)
    run = acct.run
    closes = prices.closes
    look_mask = look_days(prices.dates, strategy.every, strategy.at)
    flow_mask = (
        period_starts(prices.dates, settings.contribution_every)
        if settings.contribution
        else np.zeros(days, bool)
    )
    year_mask = period_starts(prices.dates, "annual")
    trigger = trigger_for(strategy, desired)
    # Days the loop must stop at whatever the prices do; a band strategy also stops where its trigger fires.
    stop_mask = flow_mask | year_mask | (look_mask if trigger is None else np.zeros(days, bool))
    stops = np.flatnonzero(stop_mask).astype(np.int64)
    looks = np.flatnonzero(look_mask).astype(np.int64)

    acct.plan_and_fill(acct.funding, 0)
    acct.record(0)
    pos, k = 1, 0
    while pos < days:
        while k < len(stops) and stops[k] < pos:
            k += 1
        nxt = int(stops[k]) if k < len(stops) else days
        day = (
            nxt
            if trigger is None
            else kernels.first_breach(closes, looks, acct.q, acct.cash_f, trigger, pos, nxt)
        )
        if day >= days:
            break
        # The kernel stopped here because the trigger fired (not for a flow or a new year): no need to look
        # again.
        fired = trigger is not None and day < nxt
        _trading_day(
            acct, day, bool(look_mask[day]), bool(flow_mask[day]), bool(year_mask[day]), trigger, fired
        )
        acct.record(day)
        pos = day + 1
        if progress is not None:
            progress(pos)
    if progress is not None:
        progress(days)

    acct.close()
    last = days - 1
    run.tax_accrued = run.book.close_year(prices.day(last).year)
    run.taxes_paid += run.tax_accrued
    run.equity[last] -= float(run.tax_accrued)
    run.cash = acct.cash
    run.positions = {s: acct.held[j] for j, s in enumerate(acct.symbols) if acct.held[j]}
    run.final_value = acct.equity_on(last) - run.tax_accrued
    closing, _ = acct._prices_on(last)
    lots = ((j, lot) for j, s in enumerate(acct.symbols) for lot in run.book.open_lots(s))
    run.unrealized = sum((lot.quantity * (closing[j] - lot.unit_cost) for j, lot in lots), ZERO)
    return run


def _trading_day(
    acct: _Account,
    day: int,
    look: bool,
    flow: bool,
    new_year: bool,
    trigger: kernels.Trigger | None,
    fired: bool = False,
) -> None:
    run, settings = acct.run, acct.settings
    if new_year:
        tax = run.book.close_year(acct.prices.day(day).year - 1)
        if tax > 0:
            run.taxes_paid += acct.pay(tax, day)
    if flow:
        amount = settings.contribution
        if amount > 0:
            acct.contribute(amount, day)
        elif amount < 0:
            paid = acct.pay(-amount, day)
            run.withdrawn += paid
            run.flows[day] -= float(paid)
    if look and (
        trigger is None or fired or kernels.breach_at(acct.prices.closes, day, acct.q, acct.cash_f, trigger)
    ) and acct.plan_and_fill(acct.looking, day):
        run.rebalances += 1
