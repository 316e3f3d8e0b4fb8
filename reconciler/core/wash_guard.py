"""The wash-sale guard and harvesting in `plan`, pure: a step over the targets before the planner's legs, as
core.cooldown and core.raise_cash are.

For a portfolio with `tax:` settings and its household's trades in the observation (core.household), the
account's lots read from the observation's one field of them (`Observation.lots`):
1. Substitutes (`tax.substitutes`): a group's target weight is held by the members the account holds, in
   proportion to their value, so a holding swapped into a substitute is not sold back.
2. Harvesting (`tax.harvest`, core.harvest): a holding at a loss moves its weight to a substitute.
3. The guard (unless `tax.wash_sale: false`): a symbol the planner would buy that was sold at a loss in any
   account of the household within 30 days is bought as a substitute instead, or not at all (do_not_trade)
   until the window ends; a holding the planner would sell at a loss within 30 days of a buy of it is held.
   The planner buys only symbols under their target and sells only those above it; the guard judges both
   with the planner's own prices and equity, so no buy inside a window gets through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from reconciler.core.harvest import harvestable
from reconciler.core.household import Household
from reconciler.core.ledger import HeldLot
from reconciler.core.lots import Lot, close_lots
from reconciler.core.models import Desired, Observation
from reconciler.core.numbers import ONE, ZERO, money
from reconciler.core.rules import SymbolRule
from reconciler.core.tax_rules import TaxSettings
from reconciler.core.wash_sale import WINDOW_DAYS, TradeEvent, conflicts


@dataclass(frozen=True, slots=True)
class _View:
    """The account as the planner values it: prices, units held and equity (set-aside holdings excluded)."""

    prices: dict[str, Decimal]
    held: dict[str, Decimal]
    equity: Decimal

    def weight(self, symbol: str) -> Decimal:
        # as the planner computes it (value times the inverse of equity), to the last digit
        return self.held.get(symbol, ZERO) * self.prices[symbol] * (ONE / self.equity)


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the guard made of a portfolio: the targets and rules to plan toward, the notes, and the holdings
    harvested (the backtester counts the tax they save)."""

    desired: Desired
    notes: list[str]
    harvested: tuple[str, ...] = ()


def washed(desired: Desired, obs: Observation) -> tuple[Desired, list[str]]:
    """The targets and symbol rules the planner works toward under the portfolio's wash-sale guard,
    substitutes and harvesting, and the notes that say what changed and until when."""
    got = guard(desired, obs)
    return got.desired, got.notes


def guard(desired: Desired, obs: Observation) -> Guarded:
    """washed(), with the holdings it harvests."""
    tax, home = desired.tax, obs.household
    if tax is None or home is None:
        return Guarded(desired, [])
    day = obs.taken_at.date()
    groups = {s: g for g in tax.substitutes for s in g}  # the model refuses a symbol in two groups
    targets, rules = dict(desired.targets), dict(desired.symbols)
    view = _view(targets, rules, obs)
    if view is None:
        return Guarded(desired, [])  # a quote is missing or the account has no equity: the planner says so
    notes = _split(targets, tax.substitutes, view)
    harvested: list[str] = []
    if tax.harvest is not None:
        notes += _harvest(targets, rules, tax, tax.harvest.min_loss, home, obs, view, day, groups, harvested)
    if tax.wash_sale:
        notes += _hold_loss_sales(targets, rules, tax, home, obs, view, day)
        after = _view(targets, rules, obs)  # a held holding outside the targets is now set aside
        if after is not None:
            notes += _guard_buys(targets, rules, home, obs, after, day, groups)
    notes += _made_already(home, obs.account)
    changed: dict[str, object] = {"targets": targets} if targets != desired.targets else {}
    if rules != desired.symbols:
        changed["symbols"] = rules
    return Guarded(desired.model_copy(update=changed) if changed else desired, notes, tuple(harvested))


def quoted_symbols(desired: Desired) -> list[str]:
    """The symbols an observation of the portfolio quotes: its targets and, with `tax:` settings, every
    substitute, so the guard and harvesting can buy one."""
    extra = [s for g in desired.tax.substitutes for s in g] if desired.tax is not None else []
    # the targets in their own order first, as observed before substitutes existed
    return [*desired.targets, *sorted(set(extra) - desired.targets.keys())]


def _protected(rule: SymbolRule | None) -> bool:
    return rule is not None and (rule.hold or rule.do_not_trade)


def _price(obs: Observation, symbol: str) -> Decimal | None:
    q = obs.quotes.get(symbol)
    return q.price if q is not None and q.price.is_finite() and q.price > 0 else None


def _view(targets: Mapping[str, Decimal], rules: Mapping[str, SymbolRule], obs: Observation) -> _View | None:
    held = {s: q for s, q in obs.positions.items() if q != 0}
    aside = {s for s in held if s not in targets and _protected(rules.get(s))}
    prices: dict[str, Decimal] = {}
    for s in (targets.keys() | held.keys()) - aside:
        price = _price(obs, s)
        if price is None:
            return None
        prices[s] = price
    for s in obs.quotes.keys() - prices.keys() - aside:  # substitutes, quoted but neither held nor targeted
        price = _price(obs, s)
        if price is not None:
            prices[s] = price
    kept = {s: q for s, q in held.items() if s not in aside}
    # summed in the planner's order (its symbols sorted), so its rounding is the planner's
    values = [kept[s] * prices[s] for s in sorted(kept)]
    equity = sum(values, ZERO) + (obs.cash_settled + obs.cash_unsettled)
    return _View(prices, kept, equity) if equity > 0 else None


def _pct(weight: Decimal) -> str:
    return f"{(weight * 100).quantize(Decimal('0.01')).normalize():f}%"


def _split(targets: dict[str, Decimal], groups: Sequence[Sequence[str]], view: _View) -> list[str]:
    """Each substitutes group's target weight over the members held, pro rata to their value."""
    notes = []
    for group in groups:
        named = [s for s in group if s in targets]
        if not named:
            continue
        total = sum((targets[s] for s in named), ZERO)
        values = {s: view.held.get(s, ZERO) * view.prices[s] for s in group if s in view.prices}
        held = {s: v for s, v in values.items() if v > 0}
        worth = sum(held.values(), ZERO)
        if not held or (len(named) == 1 and set(held) == set(named)):
            continue  # nothing held, or only the one member named: the targets say it already
        split = {s: total * v / worth for s, v in held.items()}
        if split == {s: targets[s] for s in named}:
            continue
        for s in named:
            del targets[s]
        targets.update(split)
        shares = ", ".join(f"{s} {_pct(w)}" for s, w in sorted(split.items()))
        notes.append(f"substitutes {', '.join(group)}: their {_pct(total)} target is held as {shares}"
                     " (the members held, by value)")
    return notes


def _lots_of(lots: Sequence[HeldLot], symbol: str, held: Decimal) -> list[Lot] | None:
    """The symbol's lots for lot selection, or None when the ledger does not account for every unit held."""
    mine = [Lot(lot.acquired, lot.quantity, lot.cost_basis / lot.quantity) for lot in lots
            if lot.symbol == symbol and lot.quantity > 0]
    return mine if held > 0 and sum((lot.quantity for lot in mine), ZERO) == held else None


def _sale_gain(tax: TaxSettings, obs: Observation, view: _View, symbol: str, quantity: Decimal,
               day: date) -> Decimal | None:
    """What selling `quantity` would realise under the portfolio's lot method, as the wash-sale rule sees it:
    the losses of the lots closed at a loss when there are any (a gain on other lots of the same sale does
    not make them deductible: Publication 550's three blocks sold together), else the gain; None when the
    ledger cannot tell (the guard then counts it as a loss)."""
    lots = _lots_of(obs.lots or (), symbol, view.held.get(symbol, ZERO))
    if lots is None:
        return None
    price = view.prices[symbol]
    gains = [c.gain for c in close_lots(lots, tax.lots, day, quantity, price, tax.rates.rates())]
    losses = [g for g in gains if g < 0]
    return sum(losses or gains, ZERO)


_UNKNOWN = Decimal(-1)  # the result of a sale nobody can tell: counted as a loss (the guard fails closed)


def _conflicts(home: Household, proposed: TradeEvent) -> list[TradeEvent]:
    """core.wash_sale's conflicts over the household's trades, a sale of unknown result counted as a loss on
    either side; the trades found as the household recorded them."""
    if proposed.side == "sell" and proposed.gain is None:
        proposed = replace(proposed, gain=_UNKNOWN)
    history = [e if e.gain is not None or e.side == "buy" else replace(e, gain=_UNKNOWN) for e in home.trades]
    originals = {id(h): e for h, e in zip(history, home.trades, strict=True)}
    return [originals[id(h)] for h in conflicts(history, frozenset(home.accounts), proposed)]


def _until(found: list[TradeEvent]) -> date:
    """The first day the trade is no longer inside any window found."""
    return max(e.day for e in found) + timedelta(days=WINDOW_DAYS + 1)


def _what(found: list[TradeEvent]) -> str:
    last = max(found, key=lambda e: e.day)
    did = "bought" if last.side == "buy" else (
        "sold at a loss" if last.gain is not None else "sold (its result unknown to the ledger)"
    )
    return f"{did} in {last.account} on {last.day.isoformat()}"


def _made_already(home: Household, account: str) -> list[str]:
    """A note for each wash sale the household's trades already made that touches this account: a buy within
    30 days after a sale of the same symbol at a known loss (with `wash_sale: false`, say). The ledger neither
    disallows the loss nor adds it to the replacement's basis (Publication 550), so it says so rather than
    let its lots and gains pass for the broker's."""
    notes = []
    for i, sale in enumerate(home.trades):
        if sale.side != "sell" or sale.gain is None or sale.gain >= 0:
            continue
        buy = next((b for b in home.trades[i + 1:] if b.side == "buy" and b.symbol == sale.symbol
                    and (b.day - sale.day).days <= WINDOW_DAYS), None)
        if buy is None or account not in (sale.account, buy.account):
            continue
        notes.append(f"wash sale: {sale.symbol} sold at a loss of {money(-sale.gain)} in {sale.account} on"
                     f" {sale.day.isoformat()} and bought in {buy.account} on {buy.day.isoformat()}, within"
                     f" {WINDOW_DAYS} days: a wash sale (IRS Publication 550). The ledger does not adjust for"
                     " it (the loss is disallowed, and added to the bought lot's basis unless an IRA bought"
                     " it), so its gains and lots may differ from the broker's until `reconciler lots"
                     " import`")
    return notes


def _substitute(
    symbol: str, groups: Mapping[str, Sequence[str]], rules: Mapping[str, SymbolRule], home: Household,
    obs: Observation, view: _View, day: date,
) -> str | None:
    """A member of the symbol's group the planner may buy today: quoted, not protected, no wash sale."""
    for other in groups.get(symbol, ()):
        if other == symbol or other not in view.prices or _protected(rules.get(other)):
            continue
        if not _conflicts(home, TradeEvent(obs.account, other, day, "buy")):
            return other
    return None


def _harvest(
    targets: dict[str, Decimal], rules: dict[str, SymbolRule], tax: TaxSettings, min_loss: Decimal,
    home: Household, obs: Observation, view: _View, day: date, groups: Mapping[str, Sequence[str]],
    harvested: list[str],
) -> list[str]:
    """Move each harvestable holding's weight to a substitute (the planner then sells it in full), adding
    each to `harvested`."""
    notes = []
    found = harvestable(obs.lots or (), view.prices, view.held, min_loss)
    for symbol, loss in found.items():
        if symbol not in targets or symbol not in groups or _protected(rules.get(symbol)):
            continue
        sale = TradeEvent(obs.account, symbol, day, "sell", loss)
        blocking = _conflicts(home, sale) if tax.wash_sale else []
        if blocking:
            notes.append(f"harvest: {symbol} not harvested: a sale at a loss would be a wash sale"
                         f" ({_what(blocking)}); possible from {_until(blocking).isoformat()}")
            continue
        other = _substitute(symbol, groups, rules, home, obs, view, day)
        if other is None:
            notes.append(f"harvest: {symbol} not harvested: no substitute of it can be bought today")
            continue
        targets[other] = targets.get(other, ZERO) + targets.pop(symbol)
        harvested.append(symbol)
        notes.append(f"harvest: sells {symbol} at an unrealized loss of {money(-loss)} (a lot past"
                     f" {money(min_loss)}) and buys {other} instead (tax.substitutes)")
    return notes


def _hold_loss_sales(
    targets: dict[str, Decimal], rules: dict[str, SymbolRule], tax: TaxSettings, home: Household,
    obs: Observation, view: _View, day: date,
) -> list[str]:
    """Hold each holding the planner would sell at a loss within 30 days after a buy of it."""
    notes = []
    for symbol, units in sorted(view.held.items()):
        target = targets.get(symbol, ZERO)
        weight = view.weight(symbol)
        if units <= 0 or weight <= target or _protected(rules.get(symbol)):
            continue
        quantity = units if target == 0 else min(units, (weight - target) * view.equity / view.prices[symbol])
        gain = _sale_gain(tax, obs, view, symbol, quantity, day)
        found = _conflicts(home, TradeEvent(obs.account, symbol, day, "sell", gain))
        if not found:
            continue
        rules[symbol] = (rules.get(symbol) or SymbolRule()).model_copy(update={"hold": True})
        result = "at a loss" if gain is not None else "of a result the ledger cannot tell"
        notes.append(f"{symbol}: not sold until {_until(found).isoformat()}: a sale {result} would be a wash"
                     f" sale ({_what(found)}, within {WINDOW_DAYS} days; IRS Publication 550)")
    return notes


def _guard_buys(
    targets: dict[str, Decimal], rules: dict[str, SymbolRule], home: Household, obs: Observation,
    view: _View, day: date, groups: Mapping[str, Sequence[str]],
) -> list[str]:
    """Buy a substitute instead of each symbol whose buy would be a wash sale, or do not buy it."""
    notes = []
    for symbol in sorted(targets):
        shortfall = targets[symbol] - (view.weight(symbol) if symbol in view.prices else ZERO)
        if shortfall <= 0 or (rules.get(symbol) is not None and rules[symbol].do_not_trade):
            continue
        found = _conflicts(home, TradeEvent(obs.account, symbol, day, "buy"))
        if not found:
            continue
        until = _until(found).isoformat()
        # Not bought, whatever else changes: the planner obeys the rule, not the arithmetic of weights.
        rules[symbol] = (rules.get(symbol) or SymbolRule()).model_copy(update={"do_not_trade": True})
        other = _substitute(symbol, groups, rules, home, obs, view, day)
        if other is not None:
            targets[symbol] -= shortfall
            targets[other] = targets.get(other, ZERO) + shortfall
            notes.append(f"{symbol}: buys {other} instead until {until}: a buy of {symbol} would be a wash"
                         f" sale ({_what(found)}, within {WINDOW_DAYS} days; IRS Publication 550)")
            continue
        notes.append(f"{symbol}: not bought until {until}: a buy would be a wash sale ({_what(found)}, within"
                     f" {WINDOW_DAYS} days; IRS Publication 550)")
    return notes
