"""Targets at a git ref, read from real commits; bad refs and folders give a clear error, never a
traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError, SpecError
from reconciler.gitops.refs import targets_at
from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git


def test_targets_at_a_ref_ignore_the_working_tree(workspace: Workspace, git_repo: Git) -> None:
    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.6, "BND": 0.4}))
    at_main = targets_at(workspace.config, "main")
    assert at_main.commit == git_repo.sha("main")
    college = next(p for p in at_main.portfolios if p.name == "college-fund")
    assert str(college.targets["VTI"]) == "0.7"  # the committed weight, not the edited one
    assert {p.name for p in at_main.portfolios} == {"alice-ira", "bob-taxable", "college-fund"}


def test_a_ref_before_the_files_existed_has_no_portfolios(workspace: Workspace, tmp_path: Path) -> None:
    git = Git(workspace.root)
    git("init", "-q", "-b", "main")
    (workspace.root / "README.md").write_text("targets\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "empty")
    first = git.sha("HEAD")
    git.commit_all("targets")
    base = targets_at(workspace.config, first)
    assert base.portfolios == []
    assert "does not exist" in base.note
    r = workspace.run("plan", "--base", first, "--format", "json")
    assert r.code == 0, r.err
    changes = json.loads(r.out)["target_changes"]
    assert {c["portfolio"]: c["change"] for c in changes} == {
        "alice-ira": "added", "bob-taxable": "added", "college-fund": "added",
    }


def test_invalid_targets_at_the_ref_name_the_ref(workspace: Workspace, git_repo: Git) -> None:
    path = workspace.root / "portfolios" / "college-fund.yaml"
    edit_yaml(path, lambda d: d["spec"]["targets"].__setitem__("VTI", 0.9))
    bad = git_repo.commit_all("oops: weights sum to 1.2")
    with pytest.raises(SpecError) as caught:
        targets_at(workspace.config, bad)
    text = caught.value.render()
    assert f"the targets at {bad} ({bad[:12]}) do not validate" in text
    assert f"{bad}:portfolios/college-fund.yaml:" in text
    assert "/tmp" not in text.split("\n", 1)[1]


@pytest.mark.parametrize("ref", ["no-such-branch", "HEAD~5", "0" * 40])
def test_unknown_ref_is_a_clear_error(workspace: Workspace, git_repo: Git, ref: str) -> None:
    r = workspace.run("plan", "--base", ref)
    assert r.code == 1
    assert f"unknown git ref {ref!r}" in r.err
    assert "fix:" in r.err
    assert "Traceback" not in r.err
    assert workspace.paper_order_count() == 0


def test_outside_a_repository_is_a_clear_error(workspace: Workspace) -> None:
    r = workspace.run("plan", "--base", "main")
    assert r.code == 1
    assert "not a git repository" in r.err
    assert "--base" in r.err
    assert "Traceback" not in r.err


def test_plan_outside_a_repository_still_works(workspace: Workspace) -> None:
    r = workspace.run("plan", "--format", "json")
    assert r.code == 0
    assert json.loads(r.out)["git_commit"] is None


def test_symlinked_and_nested_files_at_a_ref(workspace: Workspace, git_repo: Git) -> None:
    nested = workspace.root / "portfolios" / "team" / "extra-model.yaml"
    nested.parent.mkdir()
    shutil.copy(workspace.root / "portfolios" / "models" / "balanced-60-40.yaml", nested)
    edit_yaml(nested, lambda d: d["metadata"].__setitem__("name", "other-model"))
    (workspace.root / "portfolios" / "link.yaml").symlink_to(workspace.root / "reconciler.yaml")
    sha = git_repo.commit_all("a nested model and a symlink")
    with pytest.raises(ReconcilerError):  # the working tree reads the symlink (a Config in portfolios/) ...
        workspace_load(workspace)
    assert len(targets_at(workspace.config, sha).portfolios) == 3  # ... the ref skips it, and finds the nest


def workspace_load(ws: Workspace) -> None:
    from reconciler.workspace.loader import load_workspace

    load_workspace(ws.config)


def test_only_the_target_files_make_a_plan_uncommitted(
    workspace: Workspace, git_repo: Git, tmp_path: Path
) -> None:
    """A journal or a plan file inside the repository is not a change to the targets."""
    (workspace.root / "journal.db").write_bytes(b"")
    (workspace.root / "plan.json").write_text("{}")
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    assert json.loads(plan_file.read_text())["git_dirty"] is False
    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.6, "BND": 0.4}))
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    assert json.loads(plan_file.read_text())["git_dirty"] is True


def test_plan_against_a_base_is_a_library_call(workspace: Workspace, git_repo: Git) -> None:
    """The "plan against a base ref" sequence, once, for `plan --base` and `github comment --base` alike."""
    from reconciler.execution.planning import plan_against
    from reconciler.runtime import Runtime

    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.6, "BND": 0.4}))
    rt = Runtime(workspace.config, workspace.journal_url)
    plan, base = plan_against(rt, "main")
    assert base is not None
    assert base.commit == git_repo.sha("main")
    assert plan.base_commit == base.commit
    assert [c.portfolio for c in plan.target_changes] == ["college-fund"]
    plain, none = plan_against(rt, None)
    assert none is None
    assert plain.target_changes == []
    with pytest.raises(ReconcilerError) as empty:
        plan_against(rt, "  ")
    assert "--base is empty" in empty.value.message
    assert workspace.paper_order_count() == 0
