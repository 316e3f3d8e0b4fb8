"""A holding that moved by more than the journal's fills explain (issue 20 §2): a split or a transfer changes
what the broker holds with no fill of ours. The symbol is blocked — in the plan, with the reason and the fix —
until `reconcile --accept-move` accepts the new holding, recorded in the journal with who and why.

The emulator's books are changed behind the reconciler's back, as a transfer in would change them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.conftest import Workspace
from tests.execution.conftest import Broker, run_cli

ACCOUNT, KEY, SYMBOL = "paper-taxable", "key-paper-taxable", "BND"
BLOCK = f"{SYMBOL}: not traded: the broker holds 145, but the last observation"


def _transfer_in(emulator: Broker, qty: int) -> None:
    emu = emulator.emulator
    with emu.lock:
        emu.accounts[KEY].positions[SYMBOL] += Decimal(qty)


def _portfolio(ws: Workspace, *argv: str) -> dict[str, Any]:
    r = run_cli(ws, "plan", "--format", "json", *argv)
    assert r.returncode in (0, 2), r.stdout + r.stderr
    return next(p for p in json.loads(r.stdout)["portfolios"] if p["account"] == ACCOUNT)  # type: ignore[no-any-return]


def test_a_holding_moved_behind_our_back_is_blocked_until_accepted(
    alpaca: Workspace, emulator: Broker
) -> None:
    before = _portfolio(alpaca, "--record")  # the baseline: the journal's last observation
    assert SYMBOL in {a["symbol"] for a in before["actions"]}  # the plan trades BND while nothing moved
    _transfer_in(emulator, 50)

    moved = _portfolio(alpaca, "--record")  # the move is found, and journaled as a block
    assert SYMBOL in moved["observation"]["moved"]
    assert SYMBOL not in {a["symbol"] for a in moved["actions"]}
    # the next plan's baseline holds 145 already: the block stays all the same
    shown = run_cli(alpaca, "plan")
    assert BLOCK in shown.stdout, shown.stdout
    assert f"--accept-move {ACCOUNT}:{SYMBOL} --reason TEXT" in shown.stdout

    refused = run_cli(alpaca, "reconcile", "--accept-move", f"{ACCOUNT}:{SYMBOL}")
    assert refused.returncode == 1
    assert "--accept-move needs --reason" in refused.stderr
    accepted = run_cli(
        alpaca,
        "reconcile",
        "--accept-move",
        f"{ACCOUNT}:{SYMBOL}",
        "--reason",
        "ACATS transfer in",
        env={"RECONCILER_ACTOR": "ops-ann"},
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    (data,) = [json.loads(row[0]) for row in alpaca.query("select data from events where kind ="
                                                          " 'position.accepted'")]
    assert (data["symbol"], data["actor"], data["reason"]) == (SYMBOL, "ops-ann", "ACATS transfer in")

    after = _portfolio(alpaca)
    assert after["observation"]["moved"] == {}
    assert SYMBOL in {a["symbol"] for a in after["actions"]} | set(after["observation"]["positions"])


def test_a_symbol_not_blocked_cannot_be_accepted(alpaca: Workspace) -> None:
    r = run_cli(alpaca, "reconcile", "--accept-move", f"{ACCOUNT}:{SYMBOL}", "--reason", "no reason")
    assert r.returncode == 1
    assert f"{SYMBOL} is not blocked by a move in account {ACCOUNT}" in r.stderr


def test_our_own_fills_are_no_move(alpaca: Workspace, emulator: Broker) -> None:
    """Apply records its observation, then its fills: the next plan finds every holding explained."""
    assert run_cli(alpaca, "apply", "--auto-approve").returncode == 0
    assert _portfolio(alpaca, "--record")["observation"]["moved"] == {}
    assert alpaca.query("select count(*) from events where kind = 'position.moved'")[0][0] == 0
