"""`trading.cooldown_days` end to end: a real paper apply journaled in a real journal, then plans inside and
after the window (the clock moved with time_machine, as every product clock reads it), and with drift past the
hard band.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from tests.conftest import Workspace, edit_yaml

PORTFOLIO = "alice-ira"


def _targets(ws: Workspace, targets: dict[str, float] | None, cooldown_days: int = 30) -> None:
    """alice-ira with a cooldown; with `targets`, inline targets instead of its model (a change of mind)."""

    def change(doc: Any) -> None:
        spec = doc["spec"]
        spec["trading"]["cooldown_days"] = cooldown_days
        if targets is not None:
            del spec["model"]
            spec["targets"] = targets
            spec["cash"] = 0.02

    edit_yaml(ws.root / "portfolios" / f"{PORTFOLIO}.yaml", change)


def _plan(ws: Workspace) -> dict[str, Any]:
    r = ws.run("plan", "--target", PORTFOLIO, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)["portfolios"][0]  # type: ignore[no-any-return]


def _applied(ws: Workspace) -> None:
    _targets(ws, None)
    r = ws.run("apply", "--auto-approve", "--target", PORTFOLIO)
    assert r.code == 0, r.err


# The model is 36/24/28/10 + 2% cash. Seven points from BND to VTI pass the 5% band, not the 10% hard band;
# fourteen pass both.
SOME_DRIFT = {"VTI": 0.43, "VXUS": 0.24, "BND": 0.21, "BNDX": 0.10}
HARD_DRIFT = {"VTI": 0.50, "VXUS": 0.24, "BND": 0.14, "BNDX": 0.10}


def test_inside_the_cooldown_drift_within_the_hard_band_is_not_traded(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    assert _plan(workspace)["actions"] == []


def test_the_plan_note_names_the_cooldown(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    assert any(n.startswith("cooldown: applied ") for n in _plan(workspace)["notes"])


def test_the_text_plan_shows_the_cooldown_note(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    r = workspace.run("plan", "--target", PORTFOLIO)
    assert "30 day cooldown until" in r.out, r.out


def test_after_the_cooldown_the_same_drift_trades(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31), tick=True):
        planned = _plan(workspace)
    assert {(a["symbol"], a["side"]) for a in planned["actions"]} >= {("VTI", "buy"), ("BND", "sell")}


def test_drift_past_the_hard_band_trades_inside_the_cooldown(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, HARD_DRIFT)
    planned = _plan(workspace)
    assert {(a["symbol"], a["side"]) for a in planned["actions"]} >= {("VTI", "buy"), ("BND", "sell")}


def test_a_portfolio_never_applied_is_not_cooling(workspace: Workspace) -> None:
    _targets(workspace, SOME_DRIFT)
    assert not any(n.startswith("cooldown:") for n in _plan(workspace)["notes"])


def test_status_agrees_with_plan_inside_the_cooldown(workspace: Workspace) -> None:
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    r = workspace.run("status", "--format", "json")
    mine = [p for p in json.loads(r.out)["portfolios"] if p["portfolio"] == PORTFOLIO]
    assert [p["status"] for p in mine] == ["Synced"], r.out


def _intents(ws: Workspace) -> int:
    return int(ws.query("SELECT count(*) FROM intents WHERE portfolio = :p", p=PORTFOLIO)[0][0])


def test_apply_on_merge_inside_the_cooldown_sends_nothing_for_the_portfolio(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`apply --envelope` plans again before it sends: that plan must see the journal's last apply too."""
    _applied(workspace)
    _targets(workspace, SOME_DRIFT)
    reviewed = tmp_path / "reviewed.json"
    assert workspace.run("plan", "--out", str(reviewed)).code == 0
    before = _intents(workspace)
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert (r.code, _intents(workspace)) == (0, before), r.out + r.err


def test_the_observation_an_apply_records_carries_its_last_apply(workspace: Workspace) -> None:
    """The observation taken right before the orders (`apply`'s, with or without --envelope) is recorded
    with the same facts a plan's holds."""
    _applied(workspace)
    _targets(workspace, HARD_DRIFT)
    assert workspace.run("apply", "--auto-approve", "--target", PORTFOLIO).code == 0
    rows = workspace.query("SELECT data FROM observations WHERE purpose = 'apply' ORDER BY id DESC")
    assert json.loads(rows[0][0])["last_applied"] is not None
