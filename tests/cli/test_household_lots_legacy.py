"""A plan written while the household still carried the account's lots (`observation.household.lots`,
beside `observation.lots`) still verifies and applies: the field is kept as written for its hash, and nothing
reads it. A plan written today carries the lots once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from reconciler.core.plan import canonical_json
from reconciler.execution.planfile import read_plan
from tests.conftest import Workspace, edit_yaml


def _taxed_plan(ws: Workspace, out: Path) -> dict[str, Any]:
    """bob-taxable with `tax:` settings, applied once (its buys open lots), then planned again into `out`."""

    def change(doc: Any) -> None:
        doc["spec"]["tax"] = {"lots": "hifo", "household": "smith"}

    edit_yaml(ws.root / "portfolios" / "bob-taxable.yaml", change)
    r = ws.run("apply", "--auto-approve", "--target", "bob-taxable")
    assert r.code == 0, r.err
    assert ws.run("plan", "--target", "bob-taxable", "--out", str(out)).code == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_a_plan_written_today_carries_the_lots_once(workspace: Workspace, tmp_path: Path) -> None:
    observation = _taxed_plan(workspace, tmp_path / "plan.json")["portfolios"][0]["observation"]
    assert observation["household"]["lots"] is None


def test_nor_does_its_hash_hold_a_household_lots_key(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    _taxed_plan(workspace, out)
    sealed = json.loads(canonical_json(read_plan(out)))
    assert "lots" not in sealed["portfolios"][0]["observation"]["household"]


def test_the_lots_are_on_the_observation(workspace: Workspace, tmp_path: Path) -> None:
    observation = _taxed_plan(workspace, tmp_path / "plan.json")["portfolios"][0]["observation"]
    assert observation["lots"]


def _as_written_before(out: Path, data: dict[str, Any]) -> str:
    """The plan as the earlier version wrote it: the account's lots in its household too, sealed over both."""
    plan = read_plan(out)
    body = json.loads(canonical_json(plan))
    for portfolio, written in zip(body["portfolios"], data["portfolios"], strict=True):
        portfolio["observation"]["household"]["lots"] = portfolio["observation"]["lots"]
        written["observation"]["household"]["lots"] = written["observation"]["lots"]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    data["content_hash"] = digest
    out.write_text(json.dumps(data))
    return digest


def test_an_older_plan_with_the_households_lots_still_verifies(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    digest = _as_written_before(out, _taxed_plan(workspace, out))
    assert read_plan(out).content_hash == digest


def test_an_older_plan_with_the_households_lots_still_applies(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    _as_written_before(out, _taxed_plan(workspace, out))
    r = workspace.run("apply", str(out), "--auto-approve")
    assert r.code == 0, r.out + r.err
