"""The sealed plan round-trips exactly; JSON logs are one object per line; CSV prices feed the paper
broker."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from ruamel.yaml import YAML

from reconciler.core.models import Plan
from reconciler.core.plan import client_order_id, compute_hash, reseal
from reconciler.execution.planfile import read_plan
from tests.conftest import Workspace


def test_plan_file_round_trip_keeps_hash_and_client_ids(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    assert compute_hash(plan) == plan.content_hash
    ids = {client_order_id(plan.content_hash, p.account, a) for p in plan.portfolios for a in p.actions}
    assert len(ids) == sum(len(p.actions) for p in plan.portfolios)  # unique per leg
    assert all(len(i) <= 128 for i in ids)  # Alpaca's limit
    again = read_plan(plan_file)
    assert {
        client_order_id(again.content_hash, p.account, a) for p in again.portfolios for a in p.actions
    } == ids


def test_a_plan_written_before_the_market_field_existed_still_verifies(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    data = json.loads(plan_file.read_text())
    assert data.pop("overrides") == []  # nor did the overrides a code owner made on a pull request
    assert data.pop("signature") is None  # no keyed seal then
    for portfolio in data["portfolios"]:
        assert portfolio.pop("references") == {}  # nor the journal's fill prices (this journal has none)
        # the paper broker without a calendar never closes
        assert portfolio["observation"].pop("market") is None
        assert portfolio["observation"].pop("quote_source") is None  # nor had a quote source then
        # nor the broker's own figures
        for name in ("cash_untrusted", "reported_equity", "reported_long_value"):
            assert portfolio["observation"].pop(name) is None
        assert portfolio["observation"].pop("moved") == {}  # nor holdings blocked by an unexplained move
        assert portfolio.pop("blocked") == []  # nor did a portfolio's `blocked` (doubtful quotes) exist
        assert portfolio.pop("withdrawal") is None  # nor a withdrawal being raised
        assert portfolio["observation"].pop("last_applied") is None  # nor the journal's last apply (cooldown)
        assert portfolio["observation"].pop("household") is None  # nor the wash-sale guard's household
        assert portfolio.pop("tax") is None  # nor a sell's lots, gains and tax
        assert portfolio["observation"].pop("lots") is None  # nor the ledger's lots
        assert portfolio["observation"].pop("realized_gain") is None  # nor the year's realised gains
        assert portfolio.pop("lot_mismatches") == {}  # nor lots that disagree with the broker
        for quote in portfolio["observation"]["quotes"].values():
            # nor a quote's volume, bid and ask (the paper broker's
            for name in ("daily_volume", "bid", "ask"):
                assert quote.pop(name) is None  # static prices carry none)
    # Sealed as the earlier version did: the canonical JSON (sorted keys, no spaces) of the parsed plan,
    # without the hash, the unset optional top-level fields, and the observation's market (which did not
    # exist).
    body = Plan.model_validate(data).model_dump(mode="json", exclude={"content_hash", "signature"})
    for name in ("base_ref", "base_commit", "target_changes", "overrides"):
        if body[name] in (None, []):
            del body[name]
    for portfolio in body["portfolios"]:
        del portfolio["observation"]["market"]
        del portfolio["observation"]["quote_source"]
        for name in ("cash_untrusted", "reported_equity", "reported_long_value", "moved", "last_applied",
                     "household", "lots", "realized_gain"):
            del portfolio["observation"][name]
        del portfolio["blocked"]
        del portfolio["withdrawal"]
        del portfolio["tax"]
        del portfolio["lot_mismatches"]
        del portfolio["references"]
        for quote in portfolio["observation"]["quotes"].values():
            for name in ("daily_volume", "bid", "ask"):
                del quote[name]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    data["content_hash"] = hashlib.sha256(canonical.encode()).hexdigest()
    plan_file.write_text(json.dumps(data))
    assert read_plan(plan_file).content_hash == data["content_hash"]
    r = workspace.run("apply", str(plan_file))
    assert r.code == 0, r.out + r.err


def test_json_logs_carry_structured_fields(workspace: Workspace) -> None:
    r = workspace.run("--log-format", "json", "--log-level", "info", "apply", "--auto-approve")
    assert r.code == 0
    records = [json.loads(line) for line in r.err.strip().splitlines()]
    observed = [x for x in records if x["msg"] == "observed account"]
    assert {x["account"] for x in observed} == {"paper-ira", "paper-taxable", "paper-college"}
    orders = [x for x in records if x["msg"] == "order filled"]
    assert orders
    assert all(x["client_order_id"].startswith("rc-") and x["apply_id"] for x in orders)


def test_prices_from_csv(workspace: Workspace) -> None:
    csv = workspace.root / "closes.csv"
    csv.write_text("date,VTI,VXUS,BND,BNDX\n2026-11-23,280,60,70,48\n2026-11-24,281.5,61,71,49\n")
    yaml = YAML()
    doc = yaml.load(workspace.config.read_text())
    doc["broker"]["prices"] = {"csv": "closes.csv"}
    doc["broker"]["accounts"] = {"paper-ira": {"cash": 10000}}
    with workspace.config.open("w") as fh:
        yaml.dump(doc, fh)
    for name in ("bob-taxable.yaml", "college-fund.yaml"):
        (workspace.root / "portfolios" / name).unlink()
    r = workspace.run("plan", "--format", "json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    quotes = plan["portfolios"][0]["observation"]["quotes"]
    assert quotes["VTI"]["price"] == "281.5"
    assert quotes["VTI"]["previous_close"] == "280"


def test_an_edited_plan_with_a_recomputed_hash_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    """The hash proves integrity, not origin: apply re-derives every order from the targets."""
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    pp = plan.portfolios[0]
    forged_action = replace(pp.actions[0], symbol="GLD")
    forged = reseal(plan, portfolios=[
        pp.model_copy(update={"actions": [forged_action, *pp.actions[1:]]}), *plan.portfolios[1:]
    ])
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(forged.model_dump_json())
    assert read_plan(forged_file).content_hash == forged.content_hash  # a valid seal
    r = workspace.run("apply", str(forged_file), "--auto-approve")
    assert r.code == 1, r.err
    assert "not the ones its targets give" in r.err, r.err
    assert "leg 1" in r.err, r.err
    assert workspace.paper_order_count() == 0
