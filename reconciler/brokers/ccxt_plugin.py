"""Crypto exchanges through ccxt as a plug-in (`broker.kind: ccxt`); the library itself is the `crypto`
extra."""

from __future__ import annotations

from reconciler.brokers.base import Broker
from reconciler.brokers.plugin import BrokerContext, BrokerPlugin
from reconciler.errors import ReconcilerError
from reconciler.workspace.models import CcxtBrokerConfig


def _build(config: CcxtBrokerConfig, context: BrokerContext) -> Broker:
    try:
        from reconciler.brokers.ccxt import CcxtBroker
    except ImportError:
        raise ReconcilerError(
            "broker kind ccxt needs the ccxt library, which is not installed",
            where=f"{context.where}: broker.kind", fix="pip install 'reconciler[crypto]'",
        ) from None
    from reconciler.secrets.resolve import SecretResolver

    return CcxtBroker(config, SecretResolver(config.secrets), clock=context.clock)


PLUGIN = BrokerPlugin(kind="ccxt", config=CcxtBrokerConfig, factory=_build)
