"""The two legs of a plan: the sells, then the buys, each sized against the before/after table
(core.plan_table) with the account's unit costs, step, minimum trade and cost cap. Pure.

Split from core.planner, which decides which holdings are out of band and calls these in turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from itertools import compress
from operator import gt, sub

from reconciler.core.models import Action, ActionReason, CostModel, Observation, Side, UnitCosts
from reconciler.core.numbers import ZERO, money
from reconciler.core.plan_table import Table
from reconciler.core.rules import SymbolRule, Trading

# The words of a note for a trade that rounds to nothing (smaller than one quantity step): the backtester
# counts these to say how much whole-share rounding changed a run.
UNDER_STEP = "less than one quantity step"


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """Round a non-negative quantity down to a multiple of the broker's step (never buy more than
    budgeted)."""
    if quantity <= 0:
        return ZERO
    # The rounding passed by position: as a keyword, parsing it costs more than the division (measured: 1.2 µs
    # against 0.7 µs per call, and the planner rounds every candidate order twice).
    return (quantity / step).to_integral_value(ROUND_FLOOR) * step


def affordable_quantity(budget: Decimal, price: Decimal, costs: CostModel, step: Decimal) -> Decimal:
    """The most of a buy `budget` covers at `price` (a limit order's limit, or the quote with slippage and the
    broker's rounding), commissions included, on the quantity step. The planner sizes buys with it, and apply
    shrinks a buy to it when the cash really there is less than planned."""
    return affordable_units(budget, price, costs.unit_costs(), step)


def affordable_units(budget: Decimal, price: Decimal, unit: UnitCosts, step: Decimal) -> Decimal:
    """affordable_quantity with the cost model's unit costs worked out already: a backtest sends thousands of
    buys with one cost model."""
    spend = budget - unit.fixed
    return floor_to_step(spend / unit.most(price), step) if spend > 0 else ZERO


def protected(rule: SymbolRule | None) -> bool:
    """Held or untradeable by a rule: the planner never sells it, and sets it aside when it has no target."""
    return rule is not None and (rule.hold or rule.do_not_trade)


def busy_of(obs: Observation) -> Mapping[str, str]:
    """Symbols left alone: an order still open at the broker, or a holding that moved unexplained."""
    return {**obs.open_orders, **obs.moved} if obs.moved else obs.open_orders


def _skipped(symbol: str, side: Side, qty: Decimal, notional: Decimal, fee: Decimal, unit: UnitCosts,
             trading: Trading, *, minimum: bool) -> str:
    """Why the order is skipped, or "": under the minimum trade, or costing more than the portfolio's cap of
    its value (the commission `fee` is charged on the fill, slippage included)."""
    if minimum and notional < trading.min_trade_notional:
        return f"{symbol}: {side} of {qty} ({money(notional)}) is under the minimum trade; skipped"
    if fee + notional * unit.slip > notional * trading.max_cost_fraction:
        verb = "selling" if side == "sell" else "buying"
        return (f"{symbol}: {verb} {qty} would cost more than {trading.max_cost_fraction:.0%} of its value;"
                " skipped")
    return ""


Leg = tuple[list[Action], list[int], Decimal, list[str]]
"""What a leg decides: (its orders, each one's index in the table's symbols, the cash it moves, notes)."""


def sell_leg(table: Table, unit: UnitCosts, out: set[int], raise_cash: bool) -> Leg:
    """The sells, numbered from leg 1, and what they raise at worst: each overweight holding outside its band
    (every overweight one when cash is short of its band) back to its band's inner edge, and unwanted holdings
    in full."""
    desired, symbols, prices, held, values = (
        table.desired,
        table.symbols,
        table.prices,
        table.held,
        table.values,
    )
    tw, band, weights, equity = table.targets, table.bands, table.weights, table.equity
    trading = desired.trading
    step, min_notional, inner = trading.step, trading.min_trade_notional, trading.bands.inner
    net = trading.order_sizing == "net_of_costs"
    rules = desired.symbols
    busy = busy_of(table.obs)
    charge = unit.commission.charge
    sell_slip, tick, fee_step = unit.sell_slip, unit.tick, unit.fee_step
    slip, max_cost = unit.slip, trading.max_cost_fraction
    orders: list[Action] = []
    traded: list[int] = []
    notes: list[str] = []
    proceeds = ZERO
    for i in range(len(symbols)) if raise_cash else sorted(out):
        s, t, price = symbols[i], tw[i], prices[i]
        if weights[i] <= t or price <= 0 or (rules and protected(rules.get(s))) or (busy and s in busy):
            continue
        reason: ActionReason
        if t == 0:
            qty, reason = held[i], "not in targets"
        else:
            # Beyond its band a holding goes back to the inner edge of the band (inner 0: to target).
            dest = t + inner * band[i] if inner and i in out else t
            qty = min(
                held[i], floor_to_step(_sell_quantity(values[i] - dest * equity, price, unit, net), step)
            )
            reason = "overweight"
        if qty <= 0:
            if t != 0 and (values[i] - dest * equity) >= min_notional and i in out:
                notes.append(f"{s}: overweight by {money(values[i] - dest * equity)}, {UNDER_STEP}"
                             f" ({step})")
            continue
        notional = qty * price
        fee = charge(qty, notional * sell_slip)
        # Selling a holding out in full is never too small: that is how an unwanted symbol leaves. (_skipped's
        # tests, inlined: this loop runs once per order.)
        if (t != 0 and notional < min_notional) or fee + notional * slip > notional * max_cost:
            notes.append(_skipped(s, "sell", qty, notional, fee, unit, trading, minimum=t != 0))
            continue
        # At worst: the broker may round the fill price down a tick and the commission up a step.
        proceeds += notional * sell_slip - fee - qty * tick - fee_step
        orders.append(Action(len(orders) + 1, s, "sell", qty, price, notional, fee, reason))
        traded.append(i)
    return orders, traded, proceeds, notes


def buy_leg(
    table: Table, unit: UnitCosts, out: set[int], proceeds: Decimal, deploy_cash: bool, first: int
) -> Leg:
    """The buys, numbered from leg `first`, and what they cost: each underweight holding outside its band
    (every underweight one when cash is above its band) toward its band's inner edge, most underweight first,
    with the cash that is spendable (settled, not reserved, plus the sells' `proceeds` when they may fund
    buys) above the cash target."""
    desired, obs, symbols, prices = table.desired, table.obs, table.symbols, table.prices
    tw, band, weights, values, equity = table.targets, table.bands, table.weights, table.values, table.equity
    trading = desired.trading
    step, min_notional, inner = trading.step, trading.min_trade_notional, trading.bands.inner
    net = trading.order_sizing == "net_of_costs"
    rules = desired.symbols
    busy = busy_of(obs)
    notes: list[str] = []
    cash_total = obs.cash_settled + obs.cash_unsettled
    spendable = obs.cash_settled - obs.cash_reserved + (proceeds if trading.use_sale_proceeds else ZERO)
    headroom = cash_total - obs.cash_reserved + proceeds - desired.cash * equity
    budget = max(ZERO, min(spendable, headroom))
    if obs.cash_warning:
        budget = ZERO
        notes.append(f"buying nothing: {obs.cash_warning}")

    # The underweight ones, in C loops (prices are all positive here: sound_prices refused any other).
    if deploy_cash:
        candidates = list(compress(range(len(symbols)), map(gt, tw, weights)))
    else:
        pool = sorted(out)
        candidates = list(compress(pool, map(gt, map(tw.__getitem__, pool), map(weights.__getitem__, pool))))
    if rules or busy:
        candidates = [
            i for i in candidates
            if not (rules and _no_trade(rules.get(symbols[i]))) and not (busy and symbols[i] in busy)
        ]
    if candidates and obs.cash_unsettled > 0:
        notes.append(f"{money(obs.cash_unsettled)} of unsettled cash is not spent until it settles")
    # Most underweight first, so a short budget goes where the drift is worst; ties by symbol. The candidates
    # are in symbol order already (the table's symbols are sorted) and the sort is stable, so the gap alone is
    # the key.
    gaps = list(map(sub, map(weights.__getitem__, candidates), map(tw.__getitem__, candidates)))
    candidates = list(map(candidates.__getitem__, sorted(range(len(candidates)), key=gaps.__getitem__)))
    charge = unit.commission.charge
    buy_slip, fixed, slip, max_cost = unit.buy_slip, unit.fixed, unit.slip, trading.max_cost_fraction
    market = unit.limit is None  # a market order's most is its expected unit cost (UnitCosts.most)
    orders: list[Action] = []
    traded: list[int] = []
    spent = ZERO
    for i in candidates:
        s, price = symbols[i], prices[i]
        dest = tw[i] - inner * band[i] if inner and i in out else tw[i]
        exact = _buy_quantity(dest * equity - values[i], price, unit, net) if net else (
            dest * equity - values[i]) / price
        wanted = floor_to_step(exact, step)
        if wanted <= 0:  # less than a step: no order whatever the budget, so it is not worked out
            if exact * price >= min_notional:
                notes.append(f"{s}: underweight by {money(exact * price)}, {UNDER_STEP} ({step})")
            continue
        # _affordable, inlined with the unit cost computed once for the budget below too
        spend = budget - fixed
        if spend > 0:
            expected = unit.expected(price)
            affordable = floor_to_step(spend / (expected if market else unit.most(price)), step)
        else:
            affordable = ZERO  # and no order: `expected` is needed only for an order's cost
        qty = wanted if wanted < affordable else affordable
        if qty <= 0:
            if wanted * price >= min_notional:
                notes.append(f"{s}: underweight but no spendable cash left for it")
            continue
        notional = qty * price
        fee = charge(qty, notional * buy_slip)
        if notional < min_notional or fee + notional * slip > notional * max_cost:
            notes.append(_skipped(s, "buy", qty, notional, fee, unit, trading, minimum=True))
            continue
        cost = notional * buy_slip + fee
        # What this buy is expected to take (≥ cost: the broker's rounding included); sent only when the cash
        # then left covers its limit (affordable_quantity), and apply waits for its fill before the next buy.
        budget -= qty * expected + fixed
        spent += cost
        orders.append(Action(first + len(orders), s, "buy", qty, price, notional, fee, "underweight"))
        traded.append(i)
    return orders, traded, spent, notes


def _sell_quantity(gap: Decimal, price: Decimal, unit: UnitCosts, net: bool) -> Decimal:
    """Shares (unrounded) that close a value gap: at the quote, or net of costs (what the sale raises after
    slippage and the commission on its fill equals the gap, as in bt)."""
    if not net:
        return gap / price
    proceeds = price * unit.sell_slip * unit.sell_bps - unit.per_share
    return (gap + unit.per_order) / proceeds if proceeds > 0 else ZERO


def _buy_quantity(gap: Decimal, price: Decimal, unit: UnitCosts, net: bool) -> Decimal:
    """Shares (unrounded) that close a value gap: at the quote, or net of costs (the buy's fill and commission
    together cost exactly the gap)."""
    if not net:
        return gap / price
    return (gap - unit.per_order) / (price * unit.buy_slip * unit.buy_bps + unit.per_share)


def _no_trade(rule: SymbolRule | None) -> bool:
    return rule is not None and rule.do_not_trade
