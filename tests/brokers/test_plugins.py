"""Brokers are plug-ins: adding one is one package and one entry point in `reconciler.brokers`, shown by
installing tests/plugins/reconciler_toybroker the way pip would (its metadata on sys.path) and applying
through it; an unknown kind, a plug-in that rejects its section and one that fails to import are each a clear
error, never a traceback."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.brokers.plugin import BrokerContext, BrokerPlugin
from reconciler.clock import SYSTEM
from reconciler.testing.broker_contract import BrokerContract, ContractSetup
from reconciler.workspace import plugins
from tests.conftest import Workspace, edit_yaml

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
PRODUCT = Path(__file__).resolve().parents[2] / "reconciler"
PRICES = {"VTI": "289.41", "VXUS": "64.12", "BND": "72.85", "BNDX": "49.37", "VNQ": "88.20", "AAPL": "229.87",
          "GLD": "243.10"}


def install(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """What `pip install NAME` leaves for importlib.metadata: a dist-info folder with its entry points."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    lines = "".join(f"{kind} = {target}\n" for kind, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\n{lines}", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site-packages of this test's own, ahead of the others; the plug-ins are read again before and
    after."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.syspath_prepend(str(PLUGINS))
    plugins.forget()
    yield folder
    plugins.forget()


@pytest.fixture
def toy(site: Path) -> Iterator[Path]:
    import reconciler_toybroker

    install(site, "reconciler-toybroker", {"toy": "reconciler_toybroker:PLUGIN"})
    reconciler_toybroker.BOOKS.clear()
    yield site
    reconciler_toybroker.BOOKS.clear()


def to_toy(doc: Any) -> None:
    accounts = doc["broker"]["accounts"]
    doc["broker"] = {"kind": "toy", "prices": dict(PRICES), "accounts": accounts}


def test_the_shipped_brokers_are_registered_as_plug_ins() -> None:
    assert plugins.shipped_kinds() == ["alpaca", "ccxt", "paper"]


def test_a_broker_installed_as_a_package_is_validated_planned_and_applied(
    toy: Path, workspace: Workspace
) -> None:
    edit_yaml(workspace.config, to_toy)
    assert workspace.run("validate", "--no-policies").code == 0
    assert workspace.run("plan", "--detailed-exitcode").code == 2
    applied = workspace.run("apply", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert workspace.run("plan", "--detailed-exitcode").code == 0


def test_the_toy_broker_is_not_named_by_reconciler() -> None:
    """The plug-in added nothing to the product: no module of reconciler mentions it."""
    mentions = [str(p) for p in PRODUCT.rglob("*.py") if "toybroker" in p.read_text(encoding="utf-8")]
    assert mentions == []


def test_an_unknown_kind_lists_the_installed_ones(workspace: Workspace) -> None:
    edit_yaml(workspace.config, lambda doc: doc["broker"].__setitem__("kind", "etrade"))
    r = workspace.run("validate")
    assert r.code == 1
    assert "unknown broker kind 'etrade' (installed: alpaca, ccxt, paper)" in r.err
    # the line of broker.kind (read from the file: a PostgreSQL run writes a journal URL above it)
    line = next(n for n, text in enumerate(workspace.config.read_text().splitlines(), 1) if "etrade" in text)
    assert f"reconciler.yaml:{line}" in r.err


def test_a_missing_kind_is_named(workspace: Workspace) -> None:
    edit_yaml(workspace.config, lambda doc: doc["broker"].pop("kind"))
    r = workspace.run("validate")
    assert r.code == 1
    assert "field broker.kind: missing" in r.err


def test_a_section_the_plug_in_rejects_names_its_field(toy: Path, workspace: Workspace) -> None:
    def bad_price(doc: Any) -> None:
        to_toy(doc)
        doc["broker"]["prices"]["VTI"] = -1

    edit_yaml(workspace.config, bad_price)
    r = workspace.run("validate", "--no-policies")
    assert r.code == 1
    assert "field broker.prices.VTI: Input should be greater than 0" in r.err


def test_a_field_the_plug_in_does_not_know_is_refused(toy: Path, workspace: Workspace) -> None:
    def extra(doc: Any) -> None:
        to_toy(doc)
        doc["broker"]["settlement_days"] = 1

    edit_yaml(workspace.config, extra)
    r = workspace.run("validate", "--no-policies")
    assert r.code == 1
    assert "field broker.settlement_days: Extra inputs are not permitted" in r.err


@pytest.mark.parametrize(("package", "kind", "target", "said"), [
    ("reconciler-brokenbroker", "broken", "reconciler_brokenbroker_missing:PLUGIN",
     "package reconciler-brokenbroker (reconciler_brokenbroker_missing:PLUGIN), failed to load"),
    ("reconciler-misnamed", "other", "reconciler_toybroker:PLUGIN",
     "declares kind 'toy', not the 'other' it is registered as"),
], ids=["fails to import", "registered under another kind"])
def test_a_broken_plug_in_is_refused_naming_its_package(
    site: Path, workspace: Workspace, package: str, kind: str, target: str, said: str
) -> None:
    install(site, package, {kind: target})
    edit_yaml(workspace.config, lambda doc: doc["broker"].__setitem__("kind", kind))
    r = workspace.run("validate")
    assert r.code == 1
    assert said in r.err
    assert "Traceback" not in r.err


def test_a_kind_two_packages_claim_is_refused(toy: Path, workspace: Workspace) -> None:
    install(toy, "reconciler-toyclone", {"toy": "reconciler_toybroker:PLUGIN_CLONE"})
    edit_yaml(workspace.config, to_toy)
    r = workspace.run("validate")
    assert r.code == 1
    assert "registered by more than one package" in r.err


def test_no_product_code_branches_on_a_broker_kind() -> None:
    """What a kind does is declared by its plug-in: a comparison of `.kind` with a kind's name anywhere in the
    product is the if-chain coming back (AST walk of every module)."""
    kinds = set(plugins.installed_kinds())
    found = []
    for path in PRODUCT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            names_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
            # kind == "paper", and kind in ("paper", "alpaca") alike
            named = [
                s
                for side in sides
                for s in (side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side])
            ]
            literals = {s.value for s in named if isinstance(s, ast.Constant) and isinstance(s.value, str)}
            if names_kind and literals & kinds:
                found.append(f"{path.relative_to(PRODUCT)}:{node.lineno}")
    assert found == []


class TestToyBrokerKeepsTheContract(BrokerContract):
    """A plug-in's own suite runs the contract the same way (docs/brokers.md)."""

    @pytest.fixture
    def contract(self, toy: Path) -> ContractSetup:
        from reconciler_toybroker import PLUGIN

        assert isinstance(PLUGIN, BrokerPlugin)
        config = PLUGIN.config.model_validate(
            {"kind": "toy", "prices": {"ABC": "10"}, "accounts": {"acct": {"cash": 1000}}}
        )
        context = BrokerContext(toy, SYSTEM, _no_journal, "reconciler.yaml")
        return ContractSetup(
            broker=PLUGIN.build(config, context), account="acct", symbol="ABC", quantity=Decimal(3)
        )


def _no_journal() -> Any:
    raise AssertionError("the toy broker keeps nothing in the journal")


def test_only_spec_plugins_reads_the_entry_points() -> None:
    """One gate for the installed plug-ins: its checks (kind, model, fields, longest send) and its messages
    apply to every lookup only while no other module reads the entry points itself."""
    readers = []
    for path in PRODUCT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Attribute):
                called = ast.Name(called.attr)
            if isinstance(called, ast.Name) and called.id == "entry_points":
                readers.append(str(path.relative_to(PRODUCT)))
    assert sorted(set(readers)) == ["workspace/plugins.py"]
