"""JSON Schemas for editors (published, current, referenced by the examples) and `reconciler fmt`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from reconciler.workspace.formatter import format_text
from reconciler.workspace.loader import load_workspace
from reconciler.workspace.schema import SCHEMAS
from tests.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "portfolios").rglob("*.yaml"))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_published_schemas_are_current(name: str) -> None:
    published = json.loads((ROOT / "docs" / name).read_text())
    assert published == SCHEMAS[name](), "run `make schema` and commit the result"


@pytest.mark.parametrize("path", [*EXAMPLES, ROOT / "reconciler.yaml"], ids=lambda p: p.name)
def test_examples_reference_and_satisfy_their_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_path = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert schema_path.is_file()
    assert schema_path.parent == ROOT / "docs"
    schema = json.loads(schema_path.read_text())
    for doc in YAML(typ="safe").load_all(path.read_text()):
        jsonschema.validate(doc, schema)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["spec"]["targets"].__setitem__("vti", 0.1),  # lower-case symbol
        lambda d: d["spec"].__setitem__("trading", {"min_trade_notionl": 5}),  # misspelled
        lambda d: d["spec"]["targets"].__setitem__("VTI", 1.5),  # weight over 1
        lambda d: d.__setitem__("kind", "Portfolo"),
    ],
)
def test_schema_rejects_what_validate_rejects(change: object) -> None:
    doc = YAML(typ="safe").load((ROOT / "portfolios" / "bob-taxable.yaml").read_text())
    change(doc)  # type: ignore[operator]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads((ROOT / "docs" / "portfolio.schema.json").read_text()))


MESSY = """\
# yaml-language-server: $schema=../docs/portfolio.schema.json
spec:
    trading:
        bands: {absolute: 0.03,   relative: 0.20}
        min_trade_notional: 250
    targets:
        # equities
        VTI:    0.50   # total market
        VXUS: 0.20

        # bonds
        BND: 0.20
        VNQ: 0.09
    account: paper-taxable
    cash: 0.01
    symbols:
        AAPL: {hold: true}        # low cost basis
metadata:
    name: bob-taxable
kind: Portfolio
apiVersion: reconciler.dev/v1


"""

TIDY = """\
# yaml-language-server: $schema=../docs/portfolio.schema.json
apiVersion: reconciler.dev/v1
kind: Portfolio
metadata:
  name: bob-taxable
spec:
  account: paper-taxable
  targets:
    # equities
    VTI: 0.50          # total market
    VXUS: 0.20

    # bonds
    BND: 0.20
    VNQ: 0.09
  cash: 0.01
  trading:
    bands: {absolute: 0.03, relative: 0.20}
    min_trade_notional: 250
  symbols:
    AAPL: {hold: true}            # low cost basis
"""


def test_fmt_normalises_and_keeps_comments() -> None:
    out = format_text(MESSY, "bob.yaml")
    for comment in ("# yaml-language-server", "# equities", "# total market", "# bonds", "# low cost basis"):
        assert comment in out
    assert out == TIDY
    assert format_text(out, "bob.yaml") == out  # idempotent


def test_fmt_cli_keeps_the_targets(workspace: Workspace) -> None:
    path = workspace.root / "portfolios" / "bob-taxable.yaml"
    before = load_workspace(workspace.config).targets_hash
    path.write_text(MESSY)
    assert load_workspace(workspace.config).targets_hash == before  # same targets, different layout
    r = workspace.run("fmt", "--check")
    assert r.code == 1
    assert "would reformat" in r.out
    assert "bob-taxable.yaml" in r.out
    assert path.read_text() == MESSY  # --check changes nothing
    r = workspace.run("fmt")
    assert r.code == 0
    assert "reformatted" in r.out
    assert path.read_text() == TIDY
    assert load_workspace(workspace.config).targets_hash == before
    r = workspace.run("fmt", "--check")
    assert r.code == 0
    assert "already formatted" in r.out


def test_fmt_multi_document_and_explicit_start() -> None:
    v1 = "apiVersion: reconciler.dev/v1\n"
    text = f"---\nkind: Model\n{v1}---\n# second\nkind: Model\n{v1}"
    tidy = f"---\n{v1}kind: Model\n---\n# second\n{v1}kind: Model\n"
    assert format_text(text, "m.yaml") == tidy


def test_fmt_reports_syntax_errors_with_position(workspace: Workspace) -> None:
    path = workspace.root / "portfolios" / "broken.yaml"
    path.write_text("spec:\n  targets: {VTI: 0.5\n")
    r = workspace.run("fmt", str(path))
    assert r.code == 1
    assert f"{path}:2:" in r.err
    assert "YAML syntax error" in r.err
    assert "Traceback" not in r.err
    r = workspace.run("fmt", str(workspace.root / "nope.yaml"))
    assert r.code == 1
    assert "no such file or folder" in r.err


def test_repository_examples_are_formatted() -> None:
    for path in EXAMPLES:
        assert format_text(path.read_text(), str(path)) == path.read_text(), path


def test_fmt_leaves_block_scalars_alone() -> None:
    text = (
        "apiVersion: reconciler.dev/v1\nkind: Model\nmetadata:\n  name: m\n  description: |\n"
        "    # not a comment: text\n      indented text\n\n    more\nspec:\n  targets: {VTI: 1}\n"
    )
    assert format_text(text, "m.yaml") == text


def test_fmt_never_moves_a_comment_away_from_its_key() -> None:
    # ruamel keeps a full-line comment with the key before it: sorting these keys would put "# who" above
    # kind.
    text = (
        "apiVersion: reconciler.dev/v1\n# the spec section\nspec:\n  account: paper-ira\n  # trading"
        " settings\n  trading: {min_trade_notional: 100}\n  # what we want\n  targets: {VTI: 0.6, BND:"
        " 0.4}\n# who\nmetadata: {name: x}\n# what kind\nkind: Portfolio\n# the end\n\n\n"
    )
    out = format_text(text, "m.yaml")
    lines = out.splitlines()
    for comment, key in (("# the spec section", "spec:"), ("# trading settings", "  trading:"),
                         ("# what we want", "  targets:"), ("# who", "metadata:"), ("# what kind", "kind:")):
        assert lines[
            lines.index(comment.rjust(len(comment) + (2 if key.startswith("  ") else 0))) + 1
        ].startswith(key), out
    assert out.endswith("kind: Portfolio\n# the end\n")
    assert format_text(out, "m.yaml") == out
