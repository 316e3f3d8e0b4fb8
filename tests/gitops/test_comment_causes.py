"""A plan against a base commit says which orders the change causes and which old drift causes, and names the
Model file a change went through: real commits, the real CLI."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.plan import reseal
from reconciler.execution.planfile import read_plan, write_plan
from reconciler.gitops.refs import targets_at
from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub

MODEL = "portfolios/models/balanced-60-40.yaml"

def edit_model(workspace: Workspace) -> None:
    def shift(doc: dict[str, dict[str, dict[str, float]]]) -> None:
        targets = doc["spec"]["targets"]
        targets["VTI"], targets["VXUS"] = targets["VXUS"], targets["VTI"]

    edit_yaml(workspace.root / MODEL, shift)

def test_the_comment_names_the_model_file_and_old_drift(workspace: Workspace, git_repo: Git) -> None:
    edit_model(workspace)
    git_repo.commit_all("swap VTI and VXUS in the model")
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert (
        f"- Targets changed through the Model file `{MODEL}`, which this pull request edits: `alice-ira`"
        in r.out
    )


def test_portfolios_the_change_did_not_touch_trade_from_old_drift(
    workspace: Workspace, git_repo: Git
) -> None:
    edit_model(workspace)
    git_repo.commit_all("swap VTI and VXUS in the model")
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    section = r.out.split("### bob-taxable · ", 1)[1].split("\n### ", 1)[0]
    assert "*Old drift:* its targets did not change in this pull request" in section

def test_the_base_commits_files_are_named_as_in_the_repository(workspace: Workspace, git_repo: Git) -> None:
    alice = next(p for p in targets_at(workspace.config, "main").portfolios if p.name == "alice-ira")
    assert (alice.source, alice.model) == ("portfolios/alice-ira.yaml", MODEL)

def test_the_model_file_is_no_part_of_a_portfolios_hash(workspace: Workspace, git_repo: Git) -> None:
    from reconciler.workspace.loader import portfolio_hash

    alice = next(p for p in targets_at(workspace.config, "main").portfolios if p.name == "alice-ira")
    moved = alice.model_copy(update={"model": "elsewhere.yaml", "source": "x.yaml"})
    assert portfolio_hash(moved) == portfolio_hash(alice)


def test_a_base_commit_nobody_has_still_gets_a_comment(
    workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path
) -> None:
    edit_model(workspace)
    git_repo.commit_all("swap VTI and VXUS in the model")
    made = tmp_path / "plan.json"
    assert workspace.run("plan", "--base", "HEAD~1", "--out", str(made)).code in (0, 1)
    elsewhere = tmp_path / "elsewhere.json"
    write_plan(reseal(read_plan(made), base_commit="0" * 40), elsewhere)
    github.add_pull(3)
    r = workspace.run("github", "comment", "--pr", "3", "--plan", str(elsewhere))
    assert r.code == 0, r.err
    assert "are in portfolios whose targets this pull request changes" in github.ours(3)[0]["body"]
