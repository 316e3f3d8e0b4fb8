"""The planner: desired targets + an observation + cost estimates → the orders that close the gap.

A pure function. Invariants (proved by the property tests): cash never goes negative, unsettled cash and
cash reserved by open orders are never spent, only holdings outside their band trade, quantities are
multiples of the quantity step, trades under the minimum are dropped, and a second plan after applying
the first is empty.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Literal

from reconciler.core.models import Action, CostModel, Desired, Holding, Observation, PortfolioPlan, Side
from reconciler.core.numbers import BPS, ONE, PLAN_CONTEXT, ZERO, money
from reconciler.core.rules import Bands, SymbolRule, Trading
from reconciler.core.valuation import NO_LIMITS, QuoteLimits, doubtful_quotes


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """Round a non-negative quantity down to a multiple of the broker's step (never buy more than budgeted)."""
    if quantity <= 0:
        return ZERO
    return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def affordable_quantity(budget: Decimal, price: Decimal, costs: CostModel, step: Decimal) -> Decimal:
    """The most of a buy `budget` covers at `price` (a limit order's limit, or the quote with slippage and the
    broker's rounding), commissions included, on the quantity step. The planner sizes buys with it, and apply
    shrinks a buy to it when the cash really there is less than planned."""
    spend = budget - costs.buy_fixed_cost()
    return floor_to_step(spend / costs.buy_unit_cost(price), step) if spend > 0 else ZERO


def band_for(target: Decimal, bands: Bands) -> Decimal:
    """The tighter of the absolute band and the relative band around a target weight."""
    absolute, relative = bands.absolute, bands.relative
    if relative is not None and target > 0:
        rel = relative * target
        return rel if absolute is None or rel < absolute else absolute
    return absolute if absolute is not None else ZERO


def _bands(targets: list[Decimal], bands: Bands) -> list[Decimal]:
    """band_for over many targets, with the branch on which bands are set taken once (hot path)."""
    absolute, relative = bands.absolute, bands.relative
    if relative is None:
        return [absolute if absolute is not None else ZERO] * len(targets)
    fallback = absolute if absolute is not None else ZERO
    if absolute is None:
        return [relative * t if t > 0 else fallback for t in targets]
    return [min(relative * t, absolute) if t > 0 else absolute for t in targets]


def _protected(rule: SymbolRule | None) -> bool:
    return rule is not None and (rule.hold or rule.do_not_trade)


def _label(rule: SymbolRule | None) -> Literal["", "hold", "do_not_trade"]:
    if rule is None:
        return ""
    return "do_not_trade" if rule.do_not_trade else ("hold" if rule.hold else "")


_Order = tuple[int, str, Literal["buy", "sell"], Decimal, Decimal, Decimal, Decimal, str]
"""An order before its leg is numbered: (index in the table's symbols, symbol, side, quantity, price, notional,
estimated commission, reason). Plain tuples: the legs' loops are the hot path."""


@dataclass(frozen=True, slots=True)
class _Table:
    """One account as the planner sees it and what it decides: the before/after table's inputs.

    The lists run in parallel, one entry per symbol of `symbols`. Made first with no orders (`cash_after` the
    cash there is), which is a whole plan already; the legs read it, and the orders they decide replace
    `actions`, `traded` (`traded[k]` is the index in `symbols` of `actions[k]`), `cash_after` and `notes`.
    """

    desired: Desired
    obs: Observation
    symbols: list[str]
    prices: list[Decimal]
    held: list[Decimal]
    values: list[Decimal]
    targets: list[Decimal]
    bands: list[Decimal]
    equity: Decimal
    weights: list[Decimal]
    cash_after: Decimal
    notes: list[str]
    actions: list[Action] = field(default_factory=list)
    traded: list[int] = field(default_factory=list)


def plan_portfolio(
    desired: Desired, obs: Observation, costs: CostModel, limits: QuoteLimits = NO_LIMITS
) -> PortfolioPlan:
    """Compute the orders that bring one account back within its bands; none at all when a quote that values
    the account is doubtful (the plan's `blocked` says why). In the plan's own Decimal context, not the caller's."""
    with localcontext(PLAN_CONTEXT):
        return _plan_portfolio(desired, obs, costs, limits)


def _plan_portfolio(desired: Desired, obs: Observation, costs: CostModel, limits: QuoteLimits) -> PortfolioPlan:
    trading = desired.trading
    bands = trading.bands
    rules = desired.symbols
    targets = desired.targets
    positions = {s: q for s, q in obs.positions.items() if q != 0}
    quotes = obs.quotes
    symbols = sorted(targets.keys() | positions.keys())
    doubts = doubtful_quotes(obs, symbols, limits)
    if doubts:
        return _blocked(desired, obs, symbols, positions, doubts)
    notes: list[str] = []
    # A protected position outside the targets is set aside: the targets describe the rest of the account.
    if rules:
        aside = [s for s in symbols if s not in targets and _protected(rules.get(s))]
        if aside:
            kept = sum((positions[s] * quotes[s].price for s in aside), ZERO)
            notes.append(f"{', '.join(aside)} ({money(kept)}) kept aside by hold/do_not_trade; weights are of the rest")
            symbols = [s for s in symbols if s not in aside]

    prices = [quotes[s].price for s in symbols]
    held = [positions.get(s, ZERO) for s in symbols]
    values = [q * p for q, p in zip(held, prices, strict=True)]
    tw = [targets.get(s, ZERO) for s in symbols]
    band = _bands(tw, bands)
    cash_total = obs.cash_settled + obs.cash_unsettled
    equity = sum(values, ZERO) + cash_total
    if equity <= 0:
        notes.append("account has no equity; nothing to do")
        zeros = [ZERO] * len(symbols)
        return _assemble(
            _Table(desired, obs, symbols, prices, held, values, tw, band, equity, zeros, cash_total, notes)
        )

    inv = ONE / equity
    weights = [v * inv for v in values]
    table = _Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total, notes)
    cash_band = band_for(desired.cash, bands)
    # Cash outside its band moves holdings that are inside theirs, but only in the direction that fixes cash:
    # too little cash sells every overweight holding; too much buys every underweight one.
    raise_cash = desired.cash - cash_total * inv > cash_band
    # An unwanted holding (target 0) is always out of band: "not in the targets" means "not held".
    out = {i for i, (w, t, b) in enumerate(zip(weights, tw, band, strict=True)) if t == 0 or abs(w - t) > b}
    # A symbol with an order still open at the broker is left alone until that order is final.
    busy_notes = [f"{s}: order {cid} is still open at the broker; not traded until it is final"
                  for s, cid in sorted(obs.open_orders.items())]
    sells, proceeds, sell_notes = ([], ZERO, []) if trading.buy_only else _sell_leg(table, costs, out, raise_cash)
    # Judged after this plan's own sells: otherwise cash they raise would be bought back by the next plan (churn).
    deploy_cash = (cash_total + proceeds) * inv - desired.cash > cash_band
    buys, spent, buy_notes = _buy_leg(table, costs, out, proceeds, deploy_cash)

    legs = sells + buys
    actions = [Action(n, *leg[1:]) for n, leg in enumerate(legs, start=1)]
    market = obs.market
    closed_notes = []
    if actions and market is not None and not market.is_open:
        closed_notes.append(
            f"the market was closed when observed ({market.described}): orders sent before it opens would fill"
            " at the opening price, so apply refuses them until then (unless apply.market_hours is ignore)"
        )
    return _assemble(replace(
        table, actions=actions, traded=[leg[0] for leg in legs], cash_after=cash_total + proceeds - spent,
        notes=[*notes, *busy_notes, *sell_notes, *buy_notes, *closed_notes],
    ))


def _worth_it(
    symbol: str, side: Side, qty: Decimal, notional: Decimal, costs: CostModel, trading: Trading, *, minimum: bool
) -> tuple[Decimal, str]:
    """(the commission, why the order is skipped or ""): under the minimum trade, or costing more than the
    portfolio's cap of its value. The commission is charged on the fill, slippage included."""
    slip = costs.slippage_bps / BPS
    fee = costs.commission_for(qty, notional * (ONE - slip if side == "sell" else ONE + slip))
    if minimum and notional < trading.min_trade_notional:
        return fee, f"{symbol}: {side} of {qty} ({money(notional)}) is under the minimum trade; skipped"
    if fee + notional * slip > notional * trading.max_cost_fraction:
        verb = "selling" if side == "sell" else "buying"
        return fee, f"{symbol}: {verb} {qty} would cost more than {trading.max_cost_fraction:.0%} of its value; skipped"
    return fee, ""


def _sell_leg(
    table: _Table, costs: CostModel, out: set[int], raise_cash: bool
) -> tuple[list[_Order], Decimal, list[str]]:
    """The sells, as (orders, what they raise at worst, notes): each overweight holding outside its band (every
    overweight one when cash is short of its band) back to its band's inner edge, and unwanted holdings in full."""
    desired, symbols, prices, held, values = table.desired, table.symbols, table.prices, table.held, table.values
    tw, band, weights, equity = table.targets, table.bands, table.weights, table.equity
    trading = desired.trading
    step, min_notional, inner = trading.step, trading.min_trade_notional, trading.bands.inner
    net = trading.order_sizing == "net_of_costs"
    rules = desired.symbols
    busy = table.obs.open_orders
    slip = costs.slippage_bps / BPS
    sell_factor = ONE - slip
    orders: list[_Order] = []
    notes: list[str] = []
    proceeds = ZERO
    for i in range(len(symbols)) if raise_cash else sorted(out):
        s, t, price = symbols[i], tw[i], prices[i]
        if weights[i] <= t or price <= 0 or (rules and _protected(rules.get(s))) or (busy and s in busy):
            continue
        if t == 0:
            qty, reason = held[i], "not in targets"
        else:
            # Beyond its band a holding goes back to the inner edge of the band (inner 0: to target).
            dest = t + inner * band[i] if inner and i in out else t
            qty = min(held[i], floor_to_step(_sell_quantity(values[i] - dest * equity, price, costs, net), step))
            reason = "overweight"
        if qty <= 0:
            if t != 0 and (values[i] - dest * equity) >= min_notional and i in out:
                notes.append(f"{s}: overweight by {money(values[i] - dest * equity)}, less than one quantity"
                             f" step ({step})")
            continue
        notional = qty * price
        # Selling a holding out in full is never too small: that is how an unwanted symbol leaves.
        fee, why_not = _worth_it(s, "sell", qty, notional, costs, trading, minimum=t != 0)
        if why_not:
            notes.append(why_not)
            continue
        # At worst: the broker may round the fill price down a tick and the commission up a step.
        proceeds += notional * sell_factor - fee - qty * costs.price_tick - costs.commission_step
        orders.append((i, s, "sell", qty, price, notional, fee, reason))
    return orders, proceeds, notes


def _buy_leg(
    table: _Table, costs: CostModel, out: set[int], proceeds: Decimal, deploy_cash: bool
) -> tuple[list[_Order], Decimal, list[str]]:
    """The buys, as (orders, what they cost, notes): each underweight holding outside its band (every underweight
    one when cash is above its band) toward its band's inner edge, most underweight first, with the cash that is
    spendable (settled, not reserved, plus the sells' `proceeds` when they may fund buys) above the cash target."""
    desired, obs, symbols, prices = table.desired, table.obs, table.symbols, table.prices
    tw, band, weights, values, equity = table.targets, table.bands, table.weights, table.values, table.equity
    trading = desired.trading
    step, min_notional, inner = trading.step, trading.min_trade_notional, trading.bands.inner
    net = trading.order_sizing == "net_of_costs"
    rules = desired.symbols
    busy = obs.open_orders
    notes: list[str] = []
    cash_total = obs.cash_settled + obs.cash_unsettled
    spendable = obs.cash_settled - obs.cash_reserved + (proceeds if trading.use_sale_proceeds else ZERO)
    headroom = cash_total - obs.cash_reserved + proceeds - desired.cash * equity
    budget = max(ZERO, min(spendable, headroom))
    if obs.cash_warning:
        budget = ZERO
        notes.append(f"buying nothing: {obs.cash_warning}")

    candidates = [
        i
        for i in (range(len(symbols)) if deploy_cash else sorted(out))
        if tw[i] > weights[i]
        and prices[i] > 0
        and not (rules and _no_trade(rules.get(symbols[i])))
        and not (busy and symbols[i] in busy)
    ]
    if candidates and obs.cash_unsettled > 0:
        notes.append(f"{money(obs.cash_unsettled)} of unsettled cash is not spent until it settles")
    # Most underweight first, so a short budget goes where the drift is worst.
    candidates.sort(key=lambda i: (weights[i] - tw[i], symbols[i]))
    slip = costs.slippage_bps / BPS
    buy_factor = ONE + slip
    fixed = costs.buy_fixed_cost()
    orders: list[_Order] = []
    spent = ZERO
    for i in candidates:
        s, price = symbols[i], prices[i]
        dest = tw[i] - inner * band[i] if inner and i in out else tw[i]
        exact = _buy_quantity(dest * equity - values[i], price, costs, net)
        wanted = floor_to_step(exact, step)
        affordable = affordable_quantity(budget, price, costs, step)
        qty = wanted if wanted < affordable else affordable
        if qty <= 0:
            if wanted > 0 and wanted * price >= min_notional:
                notes.append(f"{s}: underweight but no spendable cash left for it")
            elif wanted <= 0 and exact * price >= min_notional:
                notes.append(f"{s}: underweight by {money(exact * price)}, less than one quantity step ({step})")
            continue
        notional = qty * price
        fee, why_not = _worth_it(s, "buy", qty, notional, costs, trading, minimum=True)
        if why_not:
            notes.append(why_not)
            continue
        cost = notional * buy_factor + fee
        # What this buy is expected to take (≥ cost: the broker's rounding included); sent only when the cash then
        # left covers its limit (affordable_quantity), and apply waits for its fill before the next buy.
        budget -= qty * costs.expected_unit_cost(price) + fixed
        spent += cost
        orders.append((i, s, "buy", qty, price, notional, fee, "underweight"))
    return orders, spent, notes


def plan_many(
    pairs: Iterable[tuple[Desired, Observation]], costs: CostModel, limits: QuoteLimits = NO_LIMITS
) -> list[PortfolioPlan]:
    """Plan many portfolios; the batch form `make_plan` and the benchmark share.

    The cyclic garbage collector is paused for the batch: planning allocates millions of small acyclic objects
    that are all kept, and each collection would rescan them to find nothing (measured: about 40% of the time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with localcontext(PLAN_CONTEXT):
            return [_plan_portfolio(desired, obs, costs, limits) for desired, obs in pairs]
    finally:
        if was_enabled:
            gc.enable()


def _blocked(
    desired: Desired, obs: Observation, symbols: list[str], positions: dict[str, Decimal], doubts: list[str]
) -> PortfolioPlan:
    """No orders: the holdings as observed, valued only by the quotes that can be trusted, and why."""
    prices = []
    for s in symbols:
        q = obs.quotes.get(s)
        prices.append(q.price if q is not None and q.price.is_finite() and q.price > 0 else ZERO)
    held = [positions.get(s, ZERO) for s in symbols]
    values = [q * p for q, p in zip(held, prices, strict=True)]
    tw = [desired.targets.get(s, ZERO) for s in symbols]
    band = _bands(tw, desired.trading.bands)
    cash_total = obs.cash_settled + obs.cash_unsettled
    equity = sum(values, ZERO) + cash_total
    weights = [v / equity if equity > 0 else ZERO for v in values]
    notes = [f"not traded: a quote that values this account is doubtful ({'; '.join(doubts)})"]
    plan = _assemble(_Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total, notes))
    return plan.model_copy(update={"blocked": doubts})


def _sell_quantity(gap: Decimal, price: Decimal, costs: CostModel, net: bool) -> Decimal:
    """Shares (unrounded) that close a value gap: at the quote, or net of costs (what the sale raises after
    slippage and the commission on its fill equals the gap, as in bt)."""
    if not net:
        return gap / price
    c = costs.commission
    unit = price * (ONE - costs.slippage_bps / BPS) * (ONE - c.bps / BPS) - c.per_share
    return (gap + c.per_order) / unit if unit > 0 else ZERO


def _buy_quantity(gap: Decimal, price: Decimal, costs: CostModel, net: bool) -> Decimal:
    """Shares (unrounded) that close a value gap: at the quote, or net of costs (the buy's fill and commission
    together cost exactly the gap)."""
    if not net:
        return gap / price
    c = costs.commission
    return (gap - c.per_order) / (price * (ONE + costs.slippage_bps / BPS) * (ONE + c.bps / BPS) + c.per_share)


def _no_trade(rule: SymbolRule | None) -> bool:
    return rule is not None and rule.do_not_trade


def _assemble(table: _Table) -> PortfolioPlan:
    """The before/after table: the holdings once the table's orders fill, and the cash and weights around them."""
    desired, obs, symbols, prices, held = table.desired, table.obs, table.symbols, table.prices, table.held
    equity, weights, actions, cash_after = table.equity, table.weights, table.actions, table.cash_after
    after = list(held)
    values_after = list(table.values)
    buys = sells = ZERO
    for i, a in zip(table.traded, actions, strict=True):
        if a.side == "buy":
            after[i] += a.quantity
            buys += a.notional
        else:
            after[i] -= a.quantity
            sells += a.notional
        values_after[i] = after[i] * prices[i]
    equity_after = sum(values_after, ZERO) + cash_after
    inv = ONE / equity if equity > 0 else ZERO
    inv_after = ONE / equity_after if equity_after > 0 else ZERO
    rules = desired.symbols
    tw, band = table.targets, table.bands
    holdings = [
        Holding(
            s, prices[i], held[i], after[i], weights[i], tw[i], values_after[i] * inv_after,
            band[i], _label(rules.get(s)) if rules else "",
        )
        for i, s in enumerate(symbols)
    ]
    cash_before = obs.cash_settled + obs.cash_unsettled
    return PortfolioPlan.model_construct(
        name=desired.name,
        account=desired.account,
        equity=equity,
        cash_before=cash_before,
        cash_after=cash_after,
        cash_weight_before=cash_before * inv,
        cash_weight_target=desired.cash,
        cash_weight_after=cash_after * inv_after,
        buy_notional=buys,
        sell_notional=sells,
        turnover=(buys + sells) * inv,
        actions=actions,
        holdings=holdings,
        notes=table.notes,
        observation=obs,
    )
