"""Fuzz: documents generated from the JSON Schemas in docs/, then mutated (types, ranges, nesting, aliases,
encodings), go through validate → plan → apply on the paper broker, in process. Whatever the document, the
command ends with exit 0, 1 or 2 and never an internal error or traceback; and when validate refuses a
document, apply sends no order.

CI runs a fixed sequence of examples (HYPOTHESIS_PROFILE=ci: derandomized); local runs explore new ones.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from sqlalchemy import create_engine, text

from reconciler.cli.main import main
from reconciler.workspace.yamlpos import to_plain
from tests.conftest import REPO
from tests.schema_strategies import from_schema, mutated, to_text

PORTFOLIO_SCHEMA = json.loads((REPO / "docs" / "portfolio.schema.json").read_text(encoding="utf-8"))
CONFIG_SCHEMA = json.loads((REPO / "docs" / "config.schema.json").read_text(encoding="utf-8"))
EXAMPLES = settings(
    max_examples=int(os.environ.get("RECONCILER_FUZZ_EXAMPLES", "1000")),  # two tests: 2,000 in all
    deadline=None, suppress_health_check=list(HealthCheck), database=None,
)


def _bomb(levels: int) -> str:
    """YAML flow anchors that expand tenfold per level."""
    parts = ['"a0": &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]']
    parts += [f'"a{i}": &a{i} [' + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return ", ".join(parts)


TEXT_MUTATIONS: dict[str, Callable[[str, int], str | bytes]] = {
    "as is": lambda t, n: t,
    "byte order mark": lambda t, n: "\ufeff" + t,
    "latin-1": lambda t, n: t.encode("utf-8") + b"\xe9\xff",
    "truncated": lambda t, n: t[: max(1, len(t) * n // 10)],
    "tab indent": lambda t, n: t.replace(", ", ",\n\t", 1),
    "alias bomb": lambda t, n: t.replace("{", "{" + _bomb(n) + ", ", 1) if t.startswith("{") else t,
    "deep nesting": lambda t, n: t.replace("{", '{"deep": ' + "[" * (n * 20) + "]" * (n * 20) + ", ", 1)
    if t.startswith("{") else t,
}


class _Repo:
    """One copy of the example repository and one journal for a whole fuzz run (a fresh one per example would
    cost more than the example)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rc-fuzz-"))
        shutil.copy(REPO / "reconciler.yaml", self.root / "reconciler.yaml")
        shutil.copytree(REPO / "portfolios", self.root / "portfolios")
        shutil.copytree(REPO / "policies", self.root / "policies")
        self.original_config = (self.root / "reconciler.yaml").read_bytes()
        self.journal = f"sqlite:///{self.root / 'journal.db'}"
        self.plan = self.root / "plan.json"

    def run(self, *argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(
                [
                    "--config",
                    str(self.root / "reconciler.yaml"),
                    "--journal",
                    self.journal,
                    "--no-color",
                    *argv,
                ]
            )
        return code, out.getvalue() + err.getvalue()

    def orders(self) -> int:
        engine = create_engine(self.journal)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("select count(*) from paper_orders")).scalar_one())
        except Exception as exc:  # no journal or no table yet: nothing was sent
            if "no such table" in str(exc) or "unable to open" in str(exc):
                return 0
            raise
        finally:
            engine.dispose()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _no_crash(code: int, said: str) -> None:
    assert code in (0, 1, 2), said
    assert "Internal error" not in said, said
    assert "Traceback" not in said, said


def _exercise(repo: _Repo, write: Callable[[], None]) -> None:
    write()
    code, said = repo.run("validate")
    _no_crash(code, said)
    event("valid" if code == 0 else "refused by validate")
    before = repo.orders()
    if code != 0:
        applied, said = repo.run("apply", "--auto-approve")
        _no_crash(applied, said)
        assert applied == 1, said
        assert repo.orders() == before, "an invalid document sent an order"
        return
    planned, said = repo.run("plan", "--out", str(repo.plan))
    _no_crash(planned, said)
    if planned == 0:
        applied, said = repo.run("apply", str(repo.plan), "--auto-approve")
        _no_crash(applied, said)


def _write(path: Path, body: str | bytes) -> None:
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")


QUOTED = ["AAPL", "BND", "BNDX", "GLD", "VNQ", "VTI", "VXUS"]  # the example's paper prices


@st.composite
def valid_portfolios(draw: st.DrawFn) -> dict[str, Any]:
    """A Portfolio that validates (weights sum to 1 in basis points) with trading settings from the schema."""
    symbols = draw(st.lists(st.sampled_from(QUOTED), min_size=1, max_size=5, unique=True))
    parts = draw(st.lists(st.integers(min_value=1, max_value=100), min_size=len(symbols) + 1,
                          max_size=len(symbols) + 1))
    bps = [p * 10_000 // sum(parts) for p in parts]
    bps[-1] += 10_000 - sum(bps)
    spec: dict[str, Any] = {
        "account": "paper-college",
        "targets": {s: Decimal(b) / 10_000 for s, b in zip(symbols, bps, strict=False)},
        "cash": Decimal(bps[-1]) / 10_000,
    }
    if draw(st.booleans()):
        spec["trading"] = draw(from_schema(PORTFOLIO_SCHEMA["$defs"]["Trading"], PORTFOLIO_SCHEMA))
    return {"apiVersion": "reconciler.dev/v1", "kind": "Portfolio", "metadata": {"name": "college-fund"},
            "spec": spec}


EXAMPLE_CONFIG = to_plain(YAML(typ="rt").load((REPO / "reconciler.yaml").read_text(encoding="utf-8")))
# Half the documents start valid (the example's config; a portfolio whose weights sum to 1), half from the
# schema alone; then up to three mutations each, so both the refusals and plan → apply are exercised.
portfolio_docs = mutated(st.one_of(valid_portfolios(), from_schema(PORTFOLIO_SCHEMA)))
config_docs = mutated(st.one_of(st.just(EXAMPLE_CONFIG), from_schema(CONFIG_SCHEMA)))
# "as is" half the time, so that valid documents reach plan and apply.
text_mutation = st.tuples(
    st.sampled_from(["as is"] * (len(TEXT_MUTATIONS) - 1) + sorted(TEXT_MUTATIONS)),
    st.integers(min_value=1, max_value=9),
)


def test_fuzzed_portfolio_documents_never_crash_and_never_trade_when_invalid() -> None:
    repo = _Repo()
    target = repo.root / "portfolios" / "college-fund.yaml"

    @EXAMPLES
    @given(doc=portfolio_docs, how=text_mutation)
    def one(doc: Any, how: tuple[str, int]) -> None:
        name, n = how
        _exercise(repo, lambda: _write(target, TEXT_MUTATIONS[name](to_text(doc), n)))

    try:
        one()
    finally:
        repo.close()


def test_fuzzed_config_documents_never_crash_and_never_trade_when_invalid() -> None:
    repo = _Repo()
    config = repo.root / "reconciler.yaml"

    @EXAMPLES
    @given(doc=config_docs, how=text_mutation)
    def one(doc: Any, how: tuple[str, int]) -> None:
        name, n = how
        if isinstance(doc, dict) and "journal" in doc:  # the fuzz keeps its journal where it can count orders
            doc = {k: v for k, v in doc.items() if k != "journal"}
        _exercise(repo, lambda: _write(config, TEXT_MUTATIONS[name](to_text(doc), n)))

    try:
        one()
    finally:
        repo.close()
