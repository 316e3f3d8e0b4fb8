"""A broker plug-in: its kind, configuration model and factory, registered in the `reconciler.brokers`
entry-point group (docs/brokers.md). The shipped brokers are plug-ins like any other (paper_plugin,
alpaca_plugin, ccxt_plugin); nothing else in the code names a kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from reconciler.brokers.base import Broker
from reconciler.clock import Clock
from reconciler.core.models import CostModel, Desired
from reconciler.errors import ReconcilerError
from reconciler.workspace import plugins
from reconciler.workspace.models import BrokerConfig

if TYPE_CHECKING:  # loading a plug-in to validate reconciler.yaml imports no database library
    from reconciler.journal.store import Journal

C = TypeVar("C", bound=BrokerConfig)


@dataclass(frozen=True)
class BrokerContext:
    """What a factory may use besides its configuration."""

    root: Path  # reconciler.yaml's folder: the workspace's files are relative to it
    clock: Clock
    journal: Callable[[], Journal]  # opened on first call: a broker that keeps nothing there never opens it
    where: str  # reconciler.yaml, for errors


def plain_costs(config: BrokerConfig, limit_band: Decimal | None) -> CostModel:
    """What the planner budgets an order at: the configuration's slippage and commission, nothing rounded."""
    return CostModel(slippage_bps=config.slippage_bps, commission=config.commission, limit_band=limit_band)


@dataclass(frozen=True)
class BrokerPlugin(Generic[C]):
    """Everything the code knows of a broker kind: what `broker.kind` says, the model of `broker:`, how to
    build the adapter, how its fills cost, and the offline checks `validate` runs."""

    kind: str
    config: type[C]
    factory: Callable[[C, BrokerContext], Broker]
    # The planner's cost model for this broker (its ticks, fees it takes like a commission); plain_costs if
    # None.
    costs: Callable[[C, Decimal | None], CostModel] | None = None
    # Checks of the configuration that need no broker, for `validate`: raises on an error (a price CSV that
    # does not parse), returns warnings (a portfolio's symbol nothing prices).
    check: Callable[[C, Path, list[Desired]], list[str]] | None = None

    def build(self, config: BrokerConfig, context: BrokerContext) -> Broker:
        """The adapter for this configuration."""
        return self.factory(self._own(config), context)

    def cost_model(self, config: BrokerConfig, limit_band: Decimal | None) -> CostModel:
        """The planner's cost model for this configuration."""
        own = self._own(config)
        return plain_costs(own, limit_band) if self.costs is None else self.costs(own, limit_band)

    def check_files(self, config: BrokerConfig, root: Path, portfolios: list[Desired]) -> list[str]:
        """The offline checks, if the plug-in has any: their warnings."""
        return [] if self.check is None else self.check(self._own(config), root, portfolios)

    def _own(self, config: BrokerConfig) -> C:
        # the loader validated it with this model: never, unless misused
        if not isinstance(config, self.config):
            raise ReconcilerError(
                f"broker kind {self.kind!r} was given a {type(config).__name__} configuration",
                where="broker",
                fix="load reconciler.yaml with reconciler.workspace.loader.load_config",
            )
        return config


def plugin_for(config: BrokerConfig, where: str) -> BrokerPlugin[Any]:
    """The installed plug-in of the configuration's kind."""
    found = plugins.load_kind(config.kind, where)
    if not isinstance(found, BrokerPlugin):
        raise ReconcilerError(
            f"broker kind {config.kind!r}: its plug-in is a {type(found).__name__}, not a BrokerPlugin",
            where=where,
            fix="register a reconciler.brokers.plugin.BrokerPlugin in the entry point (docs/brokers.md)",
        )
    return found
