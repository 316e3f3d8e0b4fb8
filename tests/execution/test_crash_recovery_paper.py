"""kill -9 of apply on the paper broker at every crash point its orders pass, then applies until the plan is
empty: no order twice, no order at the broker without its intent, and the books end where a run without a
crash ends.

The paper broker's books are the journal's database, so a portfolio's intents, orders and answers commit in
one transaction (executor._one_commit): a crash inside it must lose the portfolio's intents and orders
together."""

from __future__ import annotations

import shutil
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Workspace, edit_yaml, fresh_journal_url
from tests.execution.conftest import run_cli

# The points a paper apply passes (its orders fill at once: no partial fill, cancel or in-flight order to
# recover).
PAPER_POINTS = (
    "after_lock",
    "after_intent",
    "after_submit",
    "after_fill_recorded",
    "after_sells",
    "before_finish",
)


def paper_workspace(root: Path) -> Workspace:
    """The example repository on the paper broker, sale proceeds settled at once so one apply converges."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "reconciler.yaml", root / "reconciler.yaml")
    shutil.copytree(REPO / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")
    url = fresh_journal_url(root)

    def settle_at_once(doc: Any) -> None:
        doc["journal"]["url"] = url
        doc["broker"]["settlement_days"] = 0

    edit_yaml(root / "reconciler.yaml", settle_at_once)
    return Workspace(root=root, journal_url=url, run=lambda *a: None)  # type: ignore[arg-type,return-value]


def books(ws: Workspace) -> tuple[dict[tuple[str, str], Decimal], dict[str, Decimal]]:
    rows = ws.query("select account, symbol, quantity from paper_positions")
    positions = {(a, s): Decimal(str(q)) for a, s, q in rows}
    cash = {a: Decimal(str(c)) for a, c in ws.query("select account, cash_settled from paper_accounts")}
    return positions, cash


def converge(ws: Workspace) -> None:
    for _ in range(3):
        r = run_cli(ws, "apply", "--auto-approve")
        assert r.returncode == 0, r.stdout + r.stderr
        if run_cli(ws, "plan", "--detailed-exitcode").returncode == 0:
            return
    pytest.fail("the plan never converged")


@pytest.fixture(scope="module")
def clean_books(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[tuple[str, str], Decimal], dict[str, Decimal]]:
    """The books a run without a crash ends with."""
    ws = paper_workspace(tmp_path_factory.mktemp("paper-reference") / "repo")
    converge(ws)
    return books(ws)


@pytest.fixture(params=PAPER_POINTS)
def crashed(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    """A paper workspace whose first apply was killed at the point (for the order points: at the second order,
    so the portfolio killed has an order before it)."""
    ws = paper_workspace(tmp_path / "repo")
    point = request.param + (
        ":2" if request.param in ("after_intent", "after_submit", "after_fill_recorded") else ""
    )
    r = run_cli(ws, "apply", "--auto-approve", env={"RECONCILER_CRASH_AT": point})
    assert r.returncode == -signal.SIGKILL, f"{point} was not reached: {r.stdout}{r.stderr}"
    return ws


def test_no_order_at_the_broker_without_its_intent(crashed: Workspace) -> None:
    orders = {cid for (cid,) in crashed.query("select client_order_id from paper_orders")}
    intents = {cid for (cid,) in crashed.query("select client_order_id from intents")}
    assert orders <= intents


def test_no_intent_left_submitting(crashed: Workspace) -> None:
    # Intent, order and answer commit together: a crash leaves all of them or none, never a send in doubt.
    assert crashed.query("select client_order_id from intents where status = 'submitting'") == []


def test_recovery_sends_no_order_twice(crashed: Workspace) -> None:
    converge(crashed)
    ids = [cid for (cid,) in crashed.query("select client_order_id from paper_orders")]
    assert len(ids) == len(set(ids))


def test_recovery_ends_with_the_books_of_a_clean_run(
    crashed: Workspace, clean_books: tuple[dict[tuple[str, str], Decimal], dict[str, Decimal]]
) -> None:
    converge(crashed)
    assert books(crashed) == clean_books
