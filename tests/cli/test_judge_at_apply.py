"""Apply judges the plan: a plan file whose verdicts were edited and resealed is refused on every apply path,
and with plan.signing_key a plan file must carry that key's seal (execution.judge)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reconciler.core.models import Plan
from reconciler.core.plan import reseal, signed
from reconciler.execution.planfile import read_plan, write_plan
from tests.conftest import Workspace, edit_yaml

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
KEY_VAR = "RECONCILER_TEST_PLAN_KEY"


def _denied_plan(ws: Workspace, tmp_path: Path) -> Path:
    """A plan in which the deny list (hard-mandatory) denies bob-taxable's VNQ buy."""
    edit_yaml(ws.config, lambda d: d["policies"]["params"].__setitem__("deny_symbols", ["VNQ"]))
    plan_file = tmp_path / "plan.json"
    r = ws.run("plan", "--out", str(plan_file))
    assert r.code == 1  # blocked
    assert "deny_list" in r.out
    return plan_file


def _forge(plan_file: Path, **changes: object) -> Path:
    """The plan with some fields changed and its unkeyed hash recomputed: what anyone who can write it can
    do."""
    forged = reseal(read_plan(plan_file), **changes)
    out = plan_file.with_name("forged.json")
    write_plan(forged, out)
    return out


def _without_denials(plan: Plan) -> list[object]:
    return [r for r in plan.policy_results if r.kind != "deny"]


def _taxable_orders(ws: Workspace) -> int:
    return (
        len(ws.query("select 1 from paper_orders where account = 'paper-taxable'"))
        if ws.paper_order_count()
        else 0
    )


def test_a_plan_whose_denials_were_deleted_and_resealed_is_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan_file = _denied_plan(workspace, tmp_path)
    forged = _forge(plan_file, policy_results=_without_denials(read_plan(plan_file)))
    assert read_plan(forged).blocked == []  # its seal holds: only re-deriving it tells
    r = workspace.run("apply", str(forged), "--auto-approve")
    assert r.code == 1
    assert "does not judge itself" in r.err
    assert "the policies give 1 result(s) the plan lacks ([hard-mandatory] deny_list deny" in r.err
    assert workspace.paper_order_count() == 0


def test_apply_all_refuses_the_forged_accounts(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = _denied_plan(workspace, tmp_path)
    forged = _forge(plan_file, policy_results=_without_denials(read_plan(plan_file)))
    r = workspace.run("apply", str(forged), "--all")
    assert r.code == 1
    assert "does not judge itself" in r.out
    assert _taxable_orders(workspace) == 0


def test_an_added_order_resealed_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    """Not only the verdicts: the whole of each portfolio's plan must derive again (notes, holdings,
    blocked)."""
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    first = plan.portfolios[0]
    edited = first.model_copy(update={"notes": [*first.notes, "reviewed and approved by the CFO"]})
    forged = _forge(plan_file, portfolios=[edited, *plan.portfolios[1:]])
    r = workspace.run("apply", str(forged), "--auto-approve")
    assert r.code == 1
    assert "its notes is not what its targets" in r.err
    assert workspace.paper_order_count() == 0


def test_a_reviewed_envelope_whose_denials_were_deleted_is_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan_file = _denied_plan(workspace, tmp_path)
    forged = _forge(plan_file, policy_results=_without_denials(read_plan(plan_file)))
    r = workspace.run("apply", "--envelope", str(forged), "--auto-approve")
    assert r.code == 1
    assert "does not judge itself" in r.err
    assert workspace.paper_order_count() == 0


def test_a_plan_nobody_touched_judges_itself_on_every_path(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    r = workspace.run("apply", "--envelope", str(plan_file), "--auto-approve")
    assert r.code == 0, r.out + r.err


def test_policies_changed_since_the_plan_refuse_it(workspace: Workspace, tmp_path: Path) -> None:
    """Judged with the trusted policies of now: a denial added since the plan is a difference too."""
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    edit_yaml(workspace.config, lambda d: d["policies"]["params"].__setitem__("deny_symbols", ["VNQ"]))
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 1
    assert "the policies give 1 result(s) the plan lacks ([hard-mandatory] deny_list deny" in r.err
    assert workspace.paper_order_count() == 0


def _keyed(ws: Workspace, monkeypatch: pytest.MonkeyPatch, key: str = "k3y-for-plans") -> None:
    monkeypatch.setenv(KEY_VAR, key)
    edit_yaml(ws.config, lambda d: d.__setitem__("plan", {"signing_key": f"env:{KEY_VAR}"}))


def test_with_a_signing_key_plan_signs_and_apply_checks(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keyed(workspace, monkeypatch)
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    assert read_plan(plan_file).signature is not None
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert workspace.paper_order_count() > 0


@pytest.mark.parametrize("seal", ["none", "other key"])
def test_with_a_signing_key_an_unsealed_or_foreign_plan_is_refused(
    seal: str, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0  # no key yet: saved unsealed
    if seal == "other key":
        write_plan(signed(read_plan(plan_file), b"someone else's key"), plan_file)
    _keyed(workspace, monkeypatch)
    for argv in (("apply", str(plan_file), "--auto-approve"), ("apply", str(plan_file), "--all"),
                 ("apply", "--envelope", str(plan_file), "--auto-approve")):
        r = workspace.run(*argv)
        assert r.code == 1
        assert "field signature" in r.err
    assert workspace.paper_order_count() == 0


def test_a_signing_key_that_cannot_be_read_is_a_clear_error(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keyed(workspace, monkeypatch)
    monkeypatch.delenv(KEY_VAR)
    r = workspace.run("plan", "--out", str(tmp_path / "plan.json"))
    assert r.code == 1
    assert f"environment variable {KEY_VAR} is not set" in r.err
    assert "Traceback" not in r.err


def _calls(module: Path, name: str) -> int:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return sum(
        1 for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    )


def test_every_apply_path_reads_its_plan_through_the_judge() -> None:
    """The apply command reads plan files only through read_judged_plan (the keyed seal), and the one function
    that sends a plan's orders (apply_plan, which --all's workers call too) judges it first."""
    apply_cmd = PACKAGE / "cli" / "apply_cmd.py"
    assert _calls(apply_cmd, "read_plan") == 0
    assert _calls(apply_cmd, "read_judged_plan") == 2  # a plan file, --all
    merge = PACKAGE / "execution" / "merge_apply.py"  # --envelope's rules
    assert _calls(merge, "read_plan") == 0
    assert _calls(merge, "read_judged_plan") == 1  # one reviewed plan
    assert _calls(merge, "judge_reviewed") == 2  # that plan, or each plan covering a merge
    sequence = PACKAGE / "execution" / "merge_sequence.py"  # the reviewed plans of a sequence of merges
    assert _calls(sequence, "read_plan") == 0
    assert _calls(sequence, "read_judged_plan") == 1
    # Outside the brokers, their emulator and the broker contract (reconciler.testing, which only test suites
    # import: tests/test_layers.py), only an order's leg submits it to a broker, and only the executor
    # (apply_plan) drives legs.
    senders = [
        p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py")) if _calls(p, "submit")
    ]
    assert [p for p in senders if not p.startswith(("brokers/", "emulator/", "testing/"))] == [
        "execution/leg.py"
    ]
    drivers = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py")) if _calls(p, "Leg")]
    assert drivers == ["execution/executor.py"]
    assert _calls(PACKAGE / "execution" / "executor.py", "judge") == 1
