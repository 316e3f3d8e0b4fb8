"""Withdrawals end to end on the paper broker with a real journal: `withdrawals:` raises just enough cash and
keeps it across plans until the date passes; `plan --raise` previews one; bad input is named and nothing is
planned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import time_machine

from tests.conftest import Workspace, edit_yaml

PORTFOLIO, ACCOUNT = "alice-ira", "paper-ira"


def _withdraw(ws: Workspace, *entries: dict[str, Any]) -> None:
    def change(doc: Any) -> None:
        doc["spec"]["withdrawals"] = list(entries)

    edit_yaml(ws.root / "portfolios" / f"{PORTFOLIO}.yaml", change)


def _in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def _plan(ws: Workspace, *argv: str) -> dict[str, Any]:
    r = ws.run("plan", "--target", PORTFOLIO, "--format", "json", *argv)
    assert r.code == 0, r.err
    return json.loads(r.out)["portfolios"][0]  # type: ignore[no-any-return]


def _converged(ws: Workspace) -> None:
    r = ws.run("apply", "--auto-approve", "--target", PORTFOLIO)
    assert r.code == 0, r.err


def test_a_withdrawal_leaves_its_amount_as_cash(workspace: Workspace) -> None:
    _converged(workspace)
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    assert Decimal(_plan(workspace)["cash_after"]) >= Decimal(5000)


def test_a_withdrawal_only_sells(workspace: Workspace) -> None:
    _converged(workspace)
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    assert {a["side"] for a in _plan(workspace)["actions"]} == {"sell"}


def test_the_plan_json_carries_the_withdrawal(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    assert _plan(workspace)["withdrawal"] == "5000"


def test_the_text_plan_shows_the_withdrawal_on_its_own_line(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    r = workspace.run("plan", "--target", PORTFOLIO)
    assert "    withdrawal $5,000.00 kept as cash, not reinvested until its date\n" in r.out, r.out


def test_the_pull_request_comment_shows_the_withdrawal(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    r = workspace.run("plan", "--target", PORTFOLIO, "--format", "markdown")
    assert "**Withdrawal** $5,000.00 kept as cash, not reinvested until its date." in r.out, r.out


def test_the_raised_cash_is_not_reinvested_by_the_next_plan(workspace: Workspace) -> None:
    _converged(workspace)
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    _converged(workspace)
    assert _plan(workspace)["actions"] == []


def test_once_the_date_has_passed_the_cash_is_reinvested(workspace: Workspace) -> None:
    _converged(workspace)
    _withdraw(workspace, {"amount": 5000, "date": _in(5)})
    _converged(workspace)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=7), tick=True):
        planned = _plan(workspace)
    assert {a["side"] for a in planned["actions"]} == {"buy"}


def test_plan_raise_previews_a_withdrawal_today(workspace: Workspace) -> None:
    _converged(workspace)
    assert _plan(workspace, "--raise", f"{ACCOUNT}=5000")["withdrawal"] == "5000"


def test_plan_raise_cannot_be_saved_for_apply(workspace: Workspace) -> None:
    r = workspace.run("plan", "--raise", f"{ACCOUNT}=5000", "--out", str(workspace.root / "p.json"))
    assert (r.code, "--raise is a preview" in r.err) == (1, True), r.err


def _refused(ws: Workspace, *argv: str) -> str:
    r = ws.run("plan", *argv)
    assert r.code == 1, r.out + r.err
    assert ws.paper_order_count() == 0
    return r.err


def test_a_negative_amount_is_named_with_its_file_and_field(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": -5000, "date": _in(5)})
    err = _refused(workspace)
    assert "alice-ira.yaml" in err, err
    assert "withdrawals.0.amount" in err, err


def test_a_bad_date_is_named_with_its_file_and_field(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": 5000, "date": "2026-13-40"})
    err = _refused(workspace)
    assert "alice-ira.yaml" in err, err
    assert "withdrawals.0.date" in err, err


def test_more_than_the_account_holds_is_refused(workspace: Workspace) -> None:
    _withdraw(workspace, {"amount": 10_000_000, "date": _in(5)})
    assert (
        "spec.withdrawals: withdrawals of $10,000,000.00 are more than account paper-ira holds"
        in _refused(workspace)
    )


def test_raise_on_an_unknown_account_is_refused(workspace: Workspace) -> None:
    assert "no portfolio trades account paper-nope" in _refused(workspace, "--raise", "paper-nope=5000")


def test_raise_of_a_negative_amount_is_refused(workspace: Workspace) -> None:
    assert "the amount must be positive" in _refused(workspace, "--raise", f"{ACCOUNT}=-5")


def test_raise_of_text_is_refused(workspace: Workspace) -> None:
    assert "is not a number" in _refused(workspace, "--raise", f"{ACCOUNT}=lots")


def test_an_unquoted_impossible_date_is_named_too(workspace: Workspace) -> None:
    path = workspace.root / "portfolios" / f"{PORTFOLIO}.yaml"
    path.write_text(path.read_text() + "  withdrawals:\n    - {amount: 5000, date: 2026-13-40}\n")
    assert "alice-ira.yaml:13:" in _refused(workspace)
