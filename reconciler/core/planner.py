"""The planner: desired targets + an observation + cost estimates → the orders that close the gap.

A pure function. Invariants (proved by the property tests): cash never goes negative, unsettled cash and
cash reserved by open orders are never spent, only holdings outside their band trade, quantities are
multiples of the quantity step, trades under the minimum are dropped, and a second plan after applying
the first is empty.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from reconciler.core.models import Action, CostModel, Desired, Holding, Observation, PortfolioPlan
from reconciler.core.numbers import money
from reconciler.errors import PlanningError
from reconciler.spec.models import Bands, SymbolRule

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """Round a non-negative quantity down to a multiple of the broker's step (never buy more than budgeted)."""
    if quantity <= 0:
        return ZERO
    return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _protected(rule: SymbolRule | None) -> bool:
    return rule is not None and (rule.hold or rule.do_not_trade)


def band_for(target: Decimal, bands: Bands) -> Decimal:
    """The tighter of the absolute band and the relative band around a target weight."""
    candidates = []
    if bands.absolute is not None:
        candidates.append(bands.absolute)
    if bands.relative is not None and target > 0:
        candidates.append(bands.relative * target)
    return min(candidates) if candidates else ZERO


def plan_portfolio(desired: Desired, obs: Observation, costs: CostModel) -> PortfolioPlan:
    """Compute the orders that bring one account back within its bands."""
    trading = desired.trading
    step = trading.step
    min_notional = trading.min_trade_notional
    rules = desired.symbols
    targets = desired.targets
    positions = {s: q for s, q in obs.positions.items() if q != 0}
    symbols = sorted(set(targets) | set(positions))
    quotes = obs.quotes
    missing = [s for s in symbols if s not in quotes]
    if missing:
        raise PlanningError(
            f"no quote for {', '.join(missing)}",
            where=f"account {obs.account}",
            fix="the broker must quote every target and held symbol; check the symbols or the price source",
        )
    prices = {s: quotes[s].price for s in symbols}
    values = {s: positions.get(s, ZERO) * prices[s] for s in symbols}
    cash_total = obs.cash_settled + obs.cash_unsettled
    notes: list[str] = []
    # A protected position outside the targets is set aside: the targets describe the rest of the account.
    aside = [s for s in symbols if s not in targets and _protected(rules.get(s))]
    if aside:
        kept = sum((values[s] for s in aside), ZERO)
        notes.append(f"{', '.join(aside)} ({money(kept)}) kept aside by hold/do_not_trade; weights are of the rest")
        symbols = [s for s in symbols if s not in aside]
    equity = sum((values[s] for s in symbols), ZERO) + cash_total

    if equity <= 0:
        notes.append("account has no equity; nothing to do")
        return _assemble(desired, obs, equity, prices, positions, values, symbols, [], cash_total, ZERO, notes)

    bands = trading.bands
    weights = {s: values[s] / equity for s in symbols}
    target_w = {s: targets.get(s, ZERO) for s in symbols}
    cash_weight = cash_total / equity
    full = abs(cash_weight - desired.cash) > band_for(desired.cash, bands)

    def out_of_band(s: str) -> bool:
        tw = target_w[s]
        if tw == 0:
            return True  # an unwanted holding is always sold: "not in the targets" means "not held"
        return full or abs(weights[s] - tw) > band_for(tw, bands)

    slip = costs.slippage_bps / BPS
    actions: list[Action] = []
    proceeds = ZERO

    # Sells first: they fund the buys.
    if not trading.buy_only:
        for s in symbols:
            if _protected(rules.get(s)):
                continue
            tw, price = target_w[s], prices[s]
            if weights[s] <= tw or price <= 0 or not out_of_band(s):
                continue
            held = positions[s]
            if tw == 0:
                qty, reason = held, "not in targets"
            else:
                qty = min(held, floor_to_step((values[s] - tw * equity) / price, step))
                reason = "overweight"
            if qty <= 0:
                continue
            notional = qty * price
            if tw != 0 and notional < min_notional:
                notes.append(f"{s}: sell of {qty} ({money(notional)}) is under the minimum trade; skipped")
                continue
            fee = costs.commission_for(qty, notional)
            proceeds += notional * (ONE - slip) - fee
            actions.append(
                Action.model_construct(
                    leg=0, symbol=s, side="sell", quantity=qty, price=price, notional=notional,
                    est_commission=fee, reason=reason,
                )
            )

    spendable = obs.cash_settled - obs.cash_reserved + (proceeds if trading.use_sale_proceeds else ZERO)
    headroom = cash_total - obs.cash_reserved + proceeds - desired.cash * equity
    budget = max(ZERO, min(spendable, headroom))

    candidates = [
        s
        for s in symbols
        if target_w[s] > weights[s]
        and prices[s] > 0
        and not (rules.get(s) is not None and rules[s].do_not_trade)
        and out_of_band(s)
    ]
    if candidates and obs.cash_unsettled > 0:
        notes.append(f"{money(obs.cash_unsettled)} of unsettled cash is not spent until it settles")
    # Most underweight first, so a short budget goes where the drift is worst.
    candidates.sort(key=lambda s: (weights[s] - target_w[s], s))
    comm = costs.commission
    bought = ZERO
    for s in candidates:
        price = prices[s]
        unit = price * (ONE + slip + comm.bps / BPS) + comm.per_share
        wanted = floor_to_step((target_w[s] * equity - values[s]) / price, step)
        affordable = floor_to_step((budget - comm.per_order) / unit, step) if budget > comm.per_order else ZERO
        qty = min(wanted, affordable)
        if qty <= 0:
            if wanted > 0 and wanted * price >= min_notional:
                notes.append(f"{s}: underweight but no spendable cash left for it")
            continue
        notional = qty * price
        if notional < min_notional:
            notes.append(f"{s}: buy of {qty} ({money(notional)}) is under the minimum trade; skipped")
            continue
        fee = costs.commission_for(qty, notional)
        budget -= qty * price * (ONE + slip) + fee
        bought += qty * price * (ONE + slip) + fee
        actions.append(
            Action.model_construct(
                leg=0, symbol=s, side="buy", quantity=qty, price=price, notional=notional,
                est_commission=fee, reason="underweight",
            )
        )

    cash_after = cash_total + proceeds - bought
    return _assemble(desired, obs, equity, prices, positions, values, symbols, actions, cash_after, target_w, notes)


def _assemble(
    desired: Desired,
    obs: Observation,
    equity: Decimal,
    prices: dict[str, Decimal],
    positions: dict[str, Decimal],
    values: dict[str, Decimal],
    symbols: list[str],
    actions: list[Action],
    cash_after: Decimal,
    target_w: dict[str, Decimal] | Decimal,
    notes: list[str],
) -> PortfolioPlan:
    after = dict(positions)
    legs: list[Action] = []
    for leg, a in enumerate(actions, start=1):
        legs.append(a.model_copy(update={"leg": leg}))
        delta = a.quantity if a.side == "buy" else -a.quantity
        after[a.symbol] = after.get(a.symbol, ZERO) + delta
    value_after = {s: after.get(s, ZERO) * prices[s] for s in symbols}
    equity_after = sum(value_after.values(), ZERO) + cash_after
    cash_before = obs.cash_settled + obs.cash_unsettled
    tw = target_w if isinstance(target_w, dict) else {}
    holdings = []
    rules = desired.symbols
    bands = desired.trading.bands
    for s in symbols:
        rule = rules.get(s)
        label: Literal["", "hold", "do_not_trade"] = (
            "do_not_trade" if rule and rule.do_not_trade else ("hold" if rule and rule.hold else "")
        )
        t = tw.get(s, desired.targets.get(s, ZERO))
        holdings.append(
            Holding.model_construct(
                symbol=s,
                price=prices[s],
                quantity_before=positions.get(s, ZERO),
                quantity_after=after.get(s, ZERO),
                weight_before=values[s] / equity if equity > 0 else ZERO,
                weight_target=t,
                weight_after=value_after[s] / equity_after if equity_after > 0 else ZERO,
                band=band_for(t, bands),
                rule=label,
            )
        )
    buys = sum((a.notional for a in legs if a.side == "buy"), ZERO)
    sells = sum((a.notional for a in legs if a.side == "sell"), ZERO)
    return PortfolioPlan.model_construct(
        name=desired.name,
        account=desired.account,
        equity=equity,
        cash_before=cash_before,
        cash_after=cash_after,
        cash_weight_before=cash_before / equity if equity > 0 else ZERO,
        cash_weight_target=desired.cash,
        cash_weight_after=cash_after / equity_after if equity_after > 0 else ZERO,
        buy_notional=buys,
        sell_notional=sells,
        turnover=(buys + sells) / equity if equity > 0 else ZERO,
        actions=legs,
        holdings=holdings,
        notes=notes,
        observation=obs,
    )
