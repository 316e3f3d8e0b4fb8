"""Alpaca as a plug-in (`broker.kind: alpaca`): its trading and market-data APIs over HTTP."""

from __future__ import annotations

from decimal import Decimal

from reconciler.brokers.base import Broker
from reconciler.brokers.plugin import BrokerContext, BrokerPlugin
from reconciler.core.models import CostModel
from reconciler.core.numbers import BPS
from reconciler.core.rules import Commission
from reconciler.workspace.models import AlpacaBrokerConfig


def _build(config: AlpacaBrokerConfig, context: BrokerContext) -> Broker:
    from reconciler.brokers.alpaca import AlpacaBroker
    from reconciler.journal.broker_ledgers import JournalLedgers
    from reconciler.secrets.resolve import SecretResolver

    # Each account's activity cursor lives in the journal: the next command reads on from there.
    ledgers = JournalLedgers(context.journal, "alpaca")
    return AlpacaBroker(config, SecretResolver(config.secrets), clock=context.clock, ledgers=ledgers)


def _costs(config: AlpacaBrokerConfig, limit_band: Decimal | None) -> CostModel:
    """Alpaca's regulatory fees come out of cash like a commission: budgeted as one (an upper bound: TAF and
    SEC on buys too, and a cent per fee per order for each day's rounding up), so that buys spending every
    settled dollar never leave the account a few cents below zero (a margin loan) when they post."""
    f, commission = config.fees, config.commission
    budgeted = Commission(
        per_order=commission.per_order + Decimal("0.03"),
        per_share=commission.per_share + f.cat_per_share + f.taf_per_share,
        bps=commission.bps + f.sec_per_dollar * BPS,
    )
    return CostModel(slippage_bps=config.slippage_bps, commission=budgeted, limit_band=limit_band)


PLUGIN = BrokerPlugin(kind="alpaca", config=AlpacaBrokerConfig, factory=_build, costs=_costs)
