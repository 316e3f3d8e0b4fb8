"""The planner: desired targets + an observation + cost estimates → the orders that close the gap.

A pure function. Invariants (proved by the property tests): cash never goes negative, unsettled cash and
cash reserved by open orders are never spent, only holdings outside their band trade, quantities are
multiples of the quantity step, trades under the minimum are dropped, and a second plan after applying
the first is empty.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from itertools import compress, repeat
from operator import gt, mul, sub
from typing import Literal, overload

from reconciler.core.cooldown import cooled
from reconciler.core.lot_agreement import with_lot_agreement
from reconciler.core.models import (
    Action,
    ActionReason,
    CostModel,
    Desired,
    Holding,
    Observation,
    PortfolioPlan,
    Side,
    UnitCosts,
)
from reconciler.core.numbers import ONE, PLAN_CONTEXT, ZERO, money
from reconciler.core.raise_cash import pending, raised
from reconciler.core.rules import Bands, SymbolRule, Trading
from reconciler.core.valuation import (
    NO_LIMITS,
    QuoteLimits,
    account_doubts,
    doubtful_quotes,
    floors_of,
    sound_prices,
)

# The words of a note for a trade that rounds to nothing (smaller than one quantity step): the backtester
# counts these to say how much whole-share rounding changed a run.
UNDER_STEP = "less than one quantity step"


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """Round a non-negative quantity down to a multiple of the broker's step (never buy more than
    budgeted)."""
    if quantity <= 0:
        return ZERO
    return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def affordable_quantity(budget: Decimal, price: Decimal, costs: CostModel, step: Decimal) -> Decimal:
    """The most of a buy `budget` covers at `price` (a limit order's limit, or the quote with slippage and the
    broker's rounding), commissions included, on the quantity step. The planner sizes buys with it, and apply
    shrinks a buy to it when the cash really there is less than planned."""
    return _affordable(budget, price, costs.unit_costs(), step)


def _affordable(budget: Decimal, price: Decimal, unit: UnitCosts, step: Decimal) -> Decimal:
    spend = budget - unit.fixed
    return floor_to_step(spend / unit.most(price), step) if spend > 0 else ZERO


def band_for(target: Decimal, bands: Bands) -> Decimal:
    """The tighter of the absolute band and the relative band around a target weight."""
    absolute, relative = bands.absolute, bands.relative
    if relative is not None and target > 0:
        rel = relative * target
        return rel if absolute is None or rel < absolute else absolute
    return absolute if absolute is not None else ZERO


def _bands(targets: list[Decimal], bands: Bands, has_zero: bool | None = None) -> list[Decimal]:
    """band_for over many targets, with the branch on which bands are set taken once (hot path); `has_zero` is
    `ZERO in targets` when the caller knows it already."""
    absolute, relative = bands.absolute, bands.relative
    if relative is None:
        return [absolute if absolute is not None else ZERO] * len(targets)
    fallback = absolute if absolute is not None else ZERO
    if ZERO in targets if has_zero is None else has_zero:
        if absolute is None:
            return [relative * t if t > 0 else fallback for t in targets]
        return [min(relative * t, absolute) if t > 0 else absolute for t in targets]
    # Every target positive (weights are never negative): the same values, in C loops. min(r, absolute) is
    # `absolute if absolute < r else r`, which is r throughout when no r exceeds absolute (the common case). t
    # * relative is relative * t (Decimal multiplication is exact, then rounded once): map(mul) skips the
    # bound method's wrapper.
    relative_of = list(map(mul, targets, repeat(relative, len(targets))))
    if absolute is None or not relative_of or max(relative_of) <= absolute:
        return relative_of
    return [absolute if absolute < r else r for r in relative_of]


def _protected(rule: SymbolRule | None) -> bool:
    return rule is not None and (rule.hold or rule.do_not_trade)


def _label(rule: SymbolRule | None) -> Literal["", "hold", "do_not_trade"]:
    if rule is None:
        return ""  # no rule: the holding is neither held nor untradeable
    return "do_not_trade" if rule.do_not_trade else ("hold" if rule.hold else "")


@dataclass(frozen=True, slots=True)
class _Table:
    """One account as the planner sees it: the before/after table's inputs, which the legs read.

    The lists run in parallel, one entry per symbol of `symbols`; `cash` is the cash there is (settled and
    unsettled). With no orders it is a whole plan already (`_assemble(table, notes)`).
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
    cash: Decimal
    inv: Decimal | None = None  # 1 / equity, when `weights` are values times it


def plan_portfolio(
    desired: Desired,
    obs: Observation,
    costs: CostModel,
    limits: QuoteLimits = NO_LIMITS,
    references: Mapping[str, Decimal] | None = None,
) -> PortfolioPlan:
    """Compute the orders that bring one account back within its bands; none at all when a quote that values
    the account is doubtful (the plan's `blocked` says why). `references` are the journal's last fill prices
    by symbol, which corroborate quotes. In the plan's own Decimal context, not the caller's."""
    with localcontext(PLAN_CONTEXT):
        return _referenced(
            _plan_portfolio(desired, obs, costs.unit_costs(), limits, references or {}), desired, obs,
            references
        )


def _referenced(
    pp: PortfolioPlan, desired: Desired, obs: Observation, references: Mapping[str, Decimal] | None
) -> PortfolioPlan:
    """The plan with the references of the symbols that value its account recorded, so apply re-derives it,
    and the cash it keeps for pending withdrawals."""
    pp = with_lot_agreement(pp, obs)  # lots that disagree with the broker (core.lot_agreement)
    if desired.withdrawals and (kept := pending(desired, obs)):
        pp = pp.model_copy(update={"withdrawal": kept})
    if not references:
        return pp
    valued = desired.targets.keys() | {s for s, q in obs.positions.items() if q != 0}
    mine = {s: references[s] for s in sorted(valued) if s in references}
    return pp.model_copy(update={"references": mine}) if mine else pp


def plan_orders(desired: Desired, obs: Observation, costs: CostModel) -> tuple[list[Action], list[str]]:
    """The orders and notes of `plan_portfolio(desired, obs, costs)`, without its before/after table: the
    backtester plans on every rebalance day and reads only these (a test holds the two equal)."""
    with localcontext(PLAN_CONTEXT):
        got = _plan_portfolio(desired, obs, costs.unit_costs(), NO_LIMITS, {}, rows=False)
    # A blocked account, or one without equity, is a whole plan already: its orders (none) and notes.
    return (got.actions, got.notes) if isinstance(got, PortfolioPlan) else got


@overload
def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal]
) -> PortfolioPlan: ...


@overload
def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal],
    *, rows: Literal[False],
) -> PortfolioPlan | tuple[list[Action], list[str]]: ...


def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal],
    *, rows: bool = True,
) -> PortfolioPlan | tuple[list[Action], list[str]]:
    # The columns are built with map() over operator functions: C loops, where a comprehension per column is a
    # Python loop per holding (10,000 portfolios x 50 holdings is half a million of each).
    desired, notes = cooled(desired, obs)  # inside a cooldown, the hard band for bands (core.cooldown)
    desired, raising, raise_notes = raised(desired, obs)  # withdrawals pending: their cash is a target
    notes += raise_notes
    trading = desired.trading
    bands = trading.bands
    rules = desired.symbols
    targets = desired.targets
    positions = obs.positions
    if ZERO in positions.values():
        positions = {s: q for s, q in positions.items() if q != 0}
    # Usually every holding has a target: the targets' keys alone, without building their union.
    keys = targets.keys()
    symbols = sorted(keys) if positions.keys() <= keys else sorted(keys | positions.keys())
    floors = floors_of(rules) if rules else None
    prices = sound_prices(obs, symbols, limits, references, floors)
    if prices is None:
        return _blocked(
            desired, obs, symbols, positions, doubtful_quotes(obs, symbols, limits, references, floors)
        )
    untrusted = account_doubts(obs)
    if untrusted:
        return _blocked(desired, obs, symbols, positions, untrusted, "not traded: this account cannot be"
                        " valued")
    # A protected position outside the targets is set aside: the targets describe the rest of the account.
    if rules:
        aside = [s for s in symbols if s not in targets and _protected(rules.get(s))]
        if aside:
            kept = sum((positions[s] * obs.quotes[s].price for s in aside), ZERO)
            notes.append(f"{', '.join(aside)} ({money(kept)}) kept aside by hold/do_not_trade; weights are of"
                         " the rest")
            prices = [p for s, p in zip(symbols, prices, strict=True) if s not in aside]
            symbols = [s for s in symbols if s not in aside]

    n = len(symbols)
    held = list(map(positions.get, symbols, repeat(ZERO, n)))
    values = list(map(mul, held, prices))
    tw = list(map(targets.get, symbols, repeat(ZERO, n)))
    unwanted = ZERO in tw
    band = _bands(tw, bands, unwanted)
    cash_total = obs.cash_settled + obs.cash_unsettled
    equity = sum(values, ZERO) + cash_total
    if equity <= 0:
        notes.append("account has no equity; nothing to do")
        zeros = [ZERO] * n
        table = _Table(desired, obs, symbols, prices, held, values, tw, band, equity, zeros, cash_total)
        return _assemble(table, notes)

    inv = ONE / equity
    weights = list(map(mul, values, repeat(inv, n)))
    table = _Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total, inv)
    cash_band = band_for(desired.cash, bands)
    # Cash outside its band moves holdings that are inside theirs, but only in the direction that fixes cash:
    # too little cash sells every overweight holding; too much buys every underweight one.
    # A withdrawal's cash is raised in full, whatever the band: the money has to be there on the day.
    raise_cash = desired.cash - cash_total * inv > (ZERO if raising else cash_band)
    # An unwanted holding (target 0) is always out of band: "not in the targets" means "not held".
    out = set(compress(range(n), map(gt, map(abs, map(sub, weights, tw)), band)))
    if unwanted:
        out.update(i for i, t in enumerate(tw) if t == 0)
    # A symbol with an order still open at the broker is left alone until that order is final.
    busy_notes = [f"{s}: order {cid} is still open at the broker; not traded until it is final"
                  for s, cid in sorted(obs.open_orders.items())]
    busy_notes += [f"{s}: not traded: {why}; if the new holding is right, accept it with `reconciler"
                   f" reconcile --accept-move {obs.account}:{s} --reason TEXT`" for s,
                   why in sorted(obs.moved.items())]
    sells, sold, proceeds, sell_notes = ([], [], ZERO, []) if trading.buy_only else _sell_leg(
        table, unit, out, raise_cash
    )
    # Judged after this plan's own sells: otherwise cash they raise would be bought back by the next plan
    # (churn).
    deploy_cash = (cash_total + proceeds) * inv - desired.cash > cash_band
    buys, bought, spent, buy_notes = _buy_leg(table, unit, out, proceeds, deploy_cash, len(sells) + 1)

    actions = sells + buys
    market = obs.market
    closed_notes = []
    if actions and market is not None and not market.is_open:
        closed_notes.append(
            f"the market was closed when observed ({market.described}): orders sent before it opens would"
            " fill"
            " at the opening price, so apply refuses them until then (unless apply.market_hours is ignore)"
        )
    all_notes = [*notes, *busy_notes, *sell_notes, *buy_notes, *closed_notes]
    if not rows:
        return actions, all_notes
    return _assemble(table, all_notes, actions, sold + bought, cash_total + proceeds - spent)


def _busy(obs: Observation) -> Mapping[str, str]:
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


_Leg = tuple[list[Action], list[int], Decimal, list[str]]
"""What a leg decides: (its orders, each one's index in the table's symbols, the cash it moves, notes)."""


def _sell_leg(table: _Table, unit: UnitCosts, out: set[int], raise_cash: bool) -> _Leg:
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
    busy = _busy(table.obs)
    charge = unit.commission.charge
    sell_slip, tick, fee_step = unit.sell_slip, unit.tick, unit.fee_step
    slip, max_cost = unit.slip, trading.max_cost_fraction
    orders: list[Action] = []
    traded: list[int] = []
    notes: list[str] = []
    proceeds = ZERO
    for i in range(len(symbols)) if raise_cash else sorted(out):
        s, t, price = symbols[i], tw[i], prices[i]
        if weights[i] <= t or price <= 0 or (rules and _protected(rules.get(s))) or (busy and s in busy):
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


def _buy_leg(
    table: _Table, unit: UnitCosts, out: set[int], proceeds: Decimal, deploy_cash: bool, first: int
) -> _Leg:
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
    busy = _busy(obs)
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
        exact = _buy_quantity(dest * equity - values[i], price, unit, net)
        wanted = floor_to_step(exact, step)
        # _affordable, inlined with the unit cost computed once for the budget below too
        spend = budget - fixed
        if spend > 0:
            expected = unit.expected(price)
            affordable = floor_to_step(spend / (expected if market else unit.most(price)), step)
        else:
            affordable = ZERO  # and no order: `expected` is needed only for an order's cost
        qty = wanted if wanted < affordable else affordable
        if qty <= 0:
            if wanted > 0 and wanted * price >= min_notional:
                notes.append(f"{s}: underweight but no spendable cash left for it")
            elif wanted <= 0 and exact * price >= min_notional:
                notes.append(f"{s}: underweight by {money(exact * price)}, {UNDER_STEP} ({step})")
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


def plan_many(
    pairs: Iterable[tuple[Desired, Observation]],
    costs: CostModel,
    limits: QuoteLimits = NO_LIMITS,
    references: Mapping[str, Decimal] | None = None,
) -> list[PortfolioPlan]:
    """Plan many portfolios; the batch form `make_plan` and the benchmark share.

    The cyclic garbage collector is paused for the batch: planning allocates millions of small acyclic objects
    that are all kept, and each collection would rescan them to find nothing (measured: about 40% of the
    time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with localcontext(PLAN_CONTEXT):
            unit = costs.unit_costs()
            refs = references or {}
            return [
                _referenced(_plan_portfolio(desired, obs, unit, limits, refs), desired, obs, references)
                for desired, obs in pairs
            ]
    finally:
        if was_enabled:
            gc.enable()


def _blocked(
    desired: Desired, obs: Observation, symbols: list[str], positions: dict[str, Decimal], doubts: list[str],
    why: str = "not traded: a quote that values this account is doubtful",
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
    notes = [f"{why} ({'; '.join(doubts)})"]
    plan = _assemble(
        _Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total), notes
    )
    return plan.model_copy(update={"blocked": doubts})


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


def _assemble(
    table: _Table,
    notes: list[str],
    actions: list[Action] | None = None,
    traded: list[int] | None = None,
    cash_after: Decimal | None = None,
) -> PortfolioPlan:
    """The before/after table: the holdings once the orders fill (`traded[k]` is the index in the table's
    symbols of `actions[k]`; `cash_after` the cash they leave), and the cash and weights around them."""
    desired, obs, symbols, prices, held = table.desired, table.obs, table.symbols, table.prices, table.held
    equity, weights = table.equity, table.weights
    actions = actions or []
    cash_after = table.cash if cash_after is None else cash_after
    after = list(held)
    values_after = list(table.values)
    buys = sells = ZERO
    for i, a in zip(traded or [], actions, strict=True):
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
    if not traded and table.inv is not None and inv_after.as_tuple() == table.inv.as_tuple():
        weights_after = weights  # nothing traded and the same inverse: each product would be the same number
    else:
        weights_after = list(map(mul, values_after, repeat(inv_after, len(symbols))))
    if rules:
        labels = [_label(rules.get(s)) for s in symbols]
        holdings = list(
            map(
                Holding,
                symbols,
                prices,
                held,
                after,
                weights,
                table.targets,
                weights_after,
                table.bands,
                labels,
            )
        )
    else:
        holdings = list(
            map(Holding, symbols, prices, held, after, weights, table.targets, weights_after, table.bands)
        )
    cash_before = obs.cash_settled + obs.cash_unsettled
    return _portfolio_plan(
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
        notes=notes,
        observation=obs,
        blocked=[],
        references={},
        withdrawal=None,  # set with the references (_referenced): the plan's pending withdrawals
        lot_mismatches={},  # likewise (core.lot_agreement)
    )


_PLAN_FIELDS = frozenset(PortfolioPlan.model_fields)
_new_plan = PortfolioPlan.__new__
_set = object.__setattr__


def _portfolio_plan(**fields: object) -> PortfolioPlan:
    """PortfolioPlan.model_construct given every field: what it ends with, without its lookups of each field's
    aliases and defaults (a third of the time of building a plan's table). A test holds the two equal."""
    if fields.keys() != _PLAN_FIELDS:
        raise TypeError(f"a portfolio plan is built with every field: {sorted(fields.keys() ^ _PLAN_FIELDS)}")
    plan = _new_plan(PortfolioPlan)
    _set(plan, "__dict__", fields)
    _set(plan, "__pydantic_fields_set__", set(_PLAN_FIELDS))
    _set(plan, "__pydantic_extra__", None)
    _set(plan, "__pydantic_private__", None)
    return plan
