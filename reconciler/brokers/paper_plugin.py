"""The paper broker as a plug-in (`broker.kind: paper`): books in the journal, quotes from reconciler.yaml or
a CSV."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reconciler.brokers.base import Broker
from reconciler.brokers.plugin import BrokerContext, BrokerPlugin
from reconciler.core.models import CostModel, Desired
from reconciler.workspace.models import PaperBrokerConfig


def _build(config: PaperBrokerConfig, context: BrokerContext) -> Broker:
    from reconciler.brokers.paper import PaperBroker

    journal = context.journal()
    return PaperBroker(
        journal.engine, config, context.root, clock=context.clock, read_only=not journal.writable
    )


def _costs(config: PaperBrokerConfig, limit_band: Decimal | None) -> CostModel:
    """Its fills round to PRICE_TICK and its commissions to the cent: the planner budgets the same."""
    from reconciler.brokers.paper import COMMISSION_STEP, PRICE_TICK

    return CostModel(
        slippage_bps=config.slippage_bps, commission=config.commission, price_tick=PRICE_TICK,
        commission_step=COMMISSION_STEP, limit_band=limit_band,
    )


def _check(config: PaperBrokerConfig, root: Path, portfolios: list[Desired]) -> list[str]:
    """A broken price CSV fails `validate`, not the plan; a symbol it never prices is a warning."""
    from reconciler.brokers.prices import load_prices

    prices = load_prices(config.prices, root)
    held = {name: list(a.positions) for name, a in config.accounts.items()}
    return [
        f"portfolio {name} ({source}): {', '.join(symbols)} has no price in broker.prices (static or csv): a"
        " typo?"
        " plan will block this portfolio until it is priced"
        for name, source, symbols in unpriced(portfolios, held, set(prices))
    ]


def unpriced(
    portfolios: list[Desired], held: dict[str, list[str]], priced: set[str]
) -> list[tuple[str, str, list[str]]]:
    """(portfolio, its file, symbols) for each portfolio with symbols it targets or its account holds that the
    price source has never seen (a typo such as VNQQ): plan would block the portfolio on them."""
    out = []
    for p in portfolios:
        missing = sorted((set(p.targets) | set(held.get(p.account, []))) - priced)
        if missing:
            out.append((p.name, p.source, missing))
    return out


PLUGIN = BrokerPlugin(kind="paper", config=PaperBrokerConfig, factory=_build, costs=_costs, check=_check)
