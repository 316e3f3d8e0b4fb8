"""Broker kinds are plug-ins: a package registers one in the `reconciler.brokers` entry-point group, under the
name `broker.kind` takes, pointing at an object that declares its kind and configuration model
(brokers/plugin.py's `BrokerPlugin`, which adds the factory). The shipped paper, alpaca and ccxt brokers
register the same way, in pyproject.toml. Here only what configuration needs: which kinds are installed, and a
kind's model.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from pydantic import BaseModel

from reconciler.errors import ReconcilerError
from reconciler.workspace.models import BrokerConfig

GROUP = "reconciler.brokers"
# What the rest of the code reads of any broker's configuration; a plug-in's model must have each field.
REQUIRED_FIELDS = ("kind", "accounts", "slippage_bps", "commission")


class DeclaresConfig(Protocol):
    """What the loader needs of a plug-in: its kind and the model of its `broker:` section."""

    @property
    def kind(self) -> str:
        """The `broker.kind` the plug-in answers to."""

    @property
    def config(self) -> type[BrokerConfig]:
        """The model that validates the plug-in's `broker:` section."""


@functools.cache
def _registered() -> dict[str, tuple[EntryPoint, ...]]:
    """kind → its entry points (one, unless two packages claim the same kind). Read once per process: the
    metadata of every installed package is scanned, which takes tens of milliseconds."""
    found: dict[str, dict[str, EntryPoint]] = {}
    for ep in entry_points(group=GROUP):
        # The same registration can be seen twice (an editable install's metadata and a build's egg-info).
        found.setdefault(ep.name, {}).setdefault(ep.value, ep)
    return {kind: tuple(eps.values()) for kind, eps in found.items()}


def forget() -> None:
    """Read the installed plug-ins again (after a package was installed in this process, as tests do)."""
    _registered.cache_clear()
    _loaded.cache_clear()


def installed_kinds() -> list[str]:
    """The broker kinds installed, without importing any of them."""
    return sorted(_registered())


def shipped_kinds() -> list[str]:
    """The kinds reconciler's own package registers, sorted."""
    return sorted(
        kind for kind, eps in _registered().items() if any(package_of(ep) == "reconciler" for ep in eps)
    )


def package_of(ep: EntryPoint) -> str:
    """The distribution that registered the entry point, for messages."""
    return ep.dist.name if ep.dist is not None else ep.value.split(":", 1)[0]


def named(kind: object) -> str:
    """A kind as a message shows it: a paste of a whole paragraph by its start and length."""
    text = repr(kind)
    return text if len(text) <= 42 else f"{text[:24]}…({len(str(kind)):,} characters)"


def load_kind(kind: str, where: str) -> DeclaresConfig:
    """The plug-in registered as `kind`; a ReconcilerError naming the kinds installed, or the package that
    failed."""
    return _loaded(kind, where)


@functools.cache
def _loaded(kind: str, where: str) -> DeclaresConfig:
    eps = _registered().get(kind)
    if not eps:
        installed = ", ".join(installed_kinds()) or "none"
        raise ReconcilerError(
            f"field broker.kind: unknown broker kind {named(kind)} (installed: {installed})", where=where,
            fix=f"use kind: {' or '.join(installed_kinds()) or 'paper'}, or install the package that provides"
            f" {named(kind)} (it registers the kind in the {GROUP} entry-point group; docs/brokers.md). If a"
            " shipped"
            " kind is missing, reinstall reconciler (pip install -e . or make install) so its entry points"
            " are registered",
        )
    if len(eps) > 1:
        raise ReconcilerError(
            f"field broker.kind: broker kind {kind!r} is registered by more than one package:"
            f" {', '.join(f'{package_of(ep)} ({ep.value})' for ep in eps)}",
            where=where, fix="uninstall all but one of them",
        )
    ep = eps[0]
    package = package_of(ep)
    try:
        plugin: Any = ep.load()
    except Exception as exc:  # any failure of someone else's import is this one message, never a traceback
        raise ReconcilerError(
            f"broker kind {kind!r}: its plug-in, package {package} ({ep.value}), failed to load:"
            f" {type(exc).__name__}: {exc}",
            where=where, fix=f"reinstall {package} and the libraries it needs, or use another broker kind",
        ) from None
    _check(plugin, kind, package, ep, where)
    return plugin  # type: ignore[no-any-return]


def _check(plugin: Any, kind: str, package: str, ep: EntryPoint, where: str) -> None:
    """A plug-in that does not keep the contract is refused here, by name, not half-used."""

    def refuse(why: str) -> ReconcilerError:
        return ReconcilerError(
            f"broker kind {kind!r}: the plug-in of package {package} ({ep.value}) {why}", where=where,
            fix=f"fix or upgrade {package} (docs/brokers.md says what a plug-in declares)",
        )

    if getattr(plugin, "kind", None) != kind:
        raise refuse(f"declares kind {getattr(plugin, 'kind', None)!r}, not the {kind!r} it is registered as")
    model = getattr(plugin, "config", None)
    if not (isinstance(model, type) and issubclass(model, BrokerConfig) and issubclass(model, BaseModel)):
        raise refuse("has no configuration model (a subclass of reconciler.workspace.models.BrokerConfig)")
    missing = [f for f in REQUIRED_FIELDS if f not in model.model_fields]
    if missing:
        raise refuse(f"has a configuration model without the field(s) {', '.join(missing)}")
    if model.longest_send_seconds is BrokerConfig.longest_send_seconds:
        raise refuse("does not say how long an order's send can take (BrokerConfig.longest_send_seconds)")
