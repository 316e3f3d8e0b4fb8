"""The user's path end to end: validate → plan → apply → plan shows no changes; re-apply sends nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import Workspace


def test_validate_ok(workspace: Workspace) -> None:
    r = workspace.run("validate")
    assert r.code == 0, r.err
    assert "3 portfolio(s)" in r.out
    shipped = [p for p in (workspace.root / "policies").glob("*.rego") if not p.name.endswith("_test.rego")]
    assert f"{len(shipped)} policies compile" in r.out


def test_plan_apply_converges_and_reapply_sends_nothing(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 2, r.err
    assert "alice-ira" in r.out
    assert "Plan:" in r.out
    planned = json.loads(plan_file.read_text())
    n_actions = sum(len(p["actions"]) for p in planned["portfolios"])
    assert n_actions > 0

    r = workspace.run("apply", str(plan_file))
    assert r.code == 0, r.err
    assert workspace.paper_order_count() == n_actions

    r = workspace.run("plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert "No changes" in r.out

    r = workspace.run("apply", str(plan_file))
    assert r.code == 0, r.err
    assert "applied already" in r.out
    assert workspace.paper_order_count() == n_actions


def test_plan_json_and_markdown_formats(workspace: Workspace) -> None:
    r = workspace.run("plan", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["format_version"] == 1
    assert len(data["content_hash"]) == 64
    assert {p["name"] for p in data["portfolios"]} == {"alice-ira", "bob-taxable", "college-fund"}
    r = workspace.run("plan", "--format", "markdown")
    assert r.code == 0, r.err
    assert r.out.startswith("<!-- reconciler:plan -->")
    assert "| alice-ira |" in r.out
    assert "<details>" in r.out


def test_edited_targets_make_saved_plan_mismatch(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    path = workspace.root / "portfolios" / "college-fund.yaml"
    yaml = YAML()
    doc = yaml.load(path.read_text())
    doc["spec"]["targets"]["VTI"] = 0.6
    doc["spec"]["targets"]["BND"] = 0.4
    with path.open("w") as fh:
        yaml.dump(doc, fh)
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "does not match" in r.err
    assert workspace.paper_order_count() == 0


def test_stale_plan_after_holdings_change(workspace: Workspace, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert workspace.run("plan", "--out", str(first)).code == 0
    assert workspace.run("plan", "--out", str(second)).code == 0
    assert workspace.run("apply", str(first)).code == 0
    sent = workspace.paper_order_count()
    r = workspace.run("apply", str(second))
    assert r.code == 1
    assert "stale, re-plan" in r.err
    assert "holdings changed" in r.err
    assert workspace.paper_order_count() == sent


def test_old_plan_is_stale(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    data = json.loads(plan_file.read_text())
    from reconciler.core.models import Plan
    from reconciler.core.plan import compute_hash

    plan = Plan.model_validate(data)
    old = plan.model_copy(update={"created_at": datetime.now(UTC) - timedelta(hours=2)})
    old = old.model_copy(update={"content_hash": compute_hash(old)})
    plan_file.write_text(old.model_dump_json())
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "old (maximum 3600s)" in r.err
    assert "stale, re-plan" in r.err
    assert workspace.paper_order_count() == 0


def test_quote_moved_beyond_band_is_stale(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    cfg = workspace.config
    yaml = YAML()
    doc = yaml.load(cfg.read_text())
    doc["broker"]["prices"]["static"]["VTI"]["price"] = 300.00  # +3.7% against a 2% band
    with cfg.open("w") as fh:
        yaml.dump(doc, fh)
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "VTI: quote moved" in r.err
    assert workspace.paper_order_count() == 0


def test_a_held_symbol_the_plan_does_not_trade_moving_is_stale_too(
    workspace: Workspace, tmp_path: Path
) -> None:
    """bob-taxable holds AAPL under `hold`: never traded, but its value is part of the equity that sized every
    other order, so a move beyond the band makes the plan stale as well."""
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    assert "AAPL" not in {
        a["symbol"] for p in json.loads(plan_file.read_text())["portfolios"] for a in p["actions"]
    }
    cfg = workspace.config
    yaml = YAML()
    doc = yaml.load(cfg.read_text())
    doc["broker"]["prices"]["static"]["AAPL"]["price"] = 180.00  # -21.7%
    with cfg.open("w") as fh:
        yaml.dump(doc, fh)
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1, r.err
    assert "AAPL: quote moved" in r.err, r.err
    assert workspace.paper_order_count() == 0


def test_apply_without_plan_needs_approval_off_a_terminal(workspace: Workspace) -> None:
    r = workspace.run("apply")
    assert r.code == 1
    assert "--auto-approve" in r.err
    assert workspace.paper_order_count() == 0
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    assert workspace.paper_order_count() > 0


def test_history_and_show(workspace: Workspace) -> None:
    assert workspace.run("history").out.strip() == "No applies recorded yet."
    assert workspace.run("apply", "--auto-approve").code == 0
    r = workspace.run("history", "--format", "json")
    rows = json.loads(r.out)
    assert len(rows) == 1
    assert rows[0]["status"] == "succeeded"
    assert rows[0]["filled"] == rows[0]["orders"]
    r = workspace.run("show", rows[0]["id"][:8])
    assert r.code == 0, r.err
    assert "filled" in r.out
    assert rows[0]["plan_hash"] in r.out
    # brackets are text, not markup
    assert "! [plan] [soft-mandatory] max_turnover (alice-ira): turnover" in r.out
    r = workspace.run("show", "nope")
    assert r.code == 1
    assert "no apply id starts with" in r.err
    for pattern in ("%", "_", "________", ""):  # SQL wildcards and nothing match no apply
        r = workspace.run("show", pattern)
        assert r.code == 1, (pattern, r.out)
        assert "no apply id starts with" in r.err, (pattern, r.out)


def test_show_a_saved_plan_like_terraform_show(workspace: Workspace, tmp_path: Path) -> None:
    """`show PLAN.json` prints the plan as `plan` did, checks its seal, and needs neither journal nor
    broker."""
    plan_file = tmp_path / "plan.json"
    planned = workspace.run("plan", "--out", str(plan_file))
    assert planned.code == 0, planned.err
    (workspace.root / "reconciler.yaml").write_text("not: a config\n")  # nothing of the workspace is read
    shown = workspace.run("show", str(plan_file))
    assert shown.code == 0, shown.err
    body = planned.out.split("\nSaved the plan to")[0]
    assert shown.out.strip() == body.strip()
    as_json = json.loads(workspace.run("show", str(plan_file), "--format", "json").out)
    assert as_json == json.loads(plan_file.read_text())
    tampered = json.loads(plan_file.read_text())
    tampered["portfolios"][0]["actions"][0]["quantity"] = "999999"
    plan_file.write_text(json.dumps(tampered))
    r = workspace.run("show", str(plan_file))
    assert r.code == 1
    assert str(plan_file) in r.err
    assert "Traceback" not in r.err


def test_target_plans_and_applies_only_the_portfolios_named(workspace: Workspace, tmp_path: Path) -> None:
    """`--target PORTFOLIO` (repeatable), like terraform -target / atlantis plan -p."""
    r = workspace.run("plan", "--target", "college-fund", "--format", "json")
    assert r.code == 0, r.err
    assert [p["name"] for p in json.loads(r.out)["portfolios"]] == ["college-fund"]
    r = workspace.run("plan", "--target", "college-fund", "--target", "alice-ira", "--format", "json")
    assert sorted(p["name"] for p in json.loads(r.out)["portfolios"]) == ["alice-ira", "college-fund"]
    r = workspace.run("plan", "--target", "college-fnd")
    assert r.code == 1
    assert "--target college-fnd: no such portfolio" in r.err
    assert "alice-ira, bob-taxable, college-fund" in r.err
    r = workspace.run("apply", "--auto-approve", "--target", "alice-ira")
    assert r.code == 0, r.err
    assert {row[0] for row in workspace.query("select distinct account from paper_orders")} == {"paper-ira"}
    after = json.loads(workspace.run("plan", "--format", "json").out)
    trading = {p["name"] for p in after["portfolios"] if p["actions"]}
    assert "alice-ira" not in trading
    assert "bob-taxable" in trading  # the others were left alone
    plan_file = tmp_path / "plan.json"
    workspace.run("plan", "--out", str(plan_file))
    r = workspace.run("apply", str(plan_file), "--target", "bob-taxable")
    assert r.code == 1
    assert "applied whole" in r.err
