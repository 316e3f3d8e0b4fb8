"""Planning a pull request's proposal as data: the trusted checkout's code, broker and journal; the proposal's
targets and policies read from git objects; anything that would let the proposal choose where credentials go,
or read a file outside it, is refused before a broker is called."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git


def _propose(workspace: Workspace, git: Git, change: str, edit: object) -> str:
    """Commit `edit` (a callable on the workspace root) on branch pr, then check main out again: the working
    tree is the trusted checkout, the proposal exists only as git objects."""
    git("checkout", "-q", "-b", "pr")
    assert callable(edit)
    edit(workspace.root)
    sha = git.commit_all(change)
    git("checkout", "-q", "main")
    return sha


def _reweight(root: Path) -> None:
    edit_yaml(root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.5, "BND": 0.5}))


def test_a_proposal_is_planned_from_git_objects_with_the_trusted_settings(
    workspace: Workspace, git_repo: Git
) -> None:
    sha = _propose(workspace, git_repo, "college: 50/50", _reweight)
    before = (workspace.root / "portfolios" / "college-fund.yaml").read_text()
    r = workspace.run("plan", "--proposed", "pr", "--base", "main", "--format", "json")
    assert r.code in (0, 2), r.err
    plan = json.loads(r.out)
    assert plan["git_commit"] == sha
    assert plan["git_dirty"] is False
    assert plan["base_commit"] == git_repo.sha("main")
    changed = {c["portfolio"]: c["change"] for c in plan["target_changes"]}
    assert changed == {"college-fund": "changed"}
    college = next(p for p in plan["portfolios"] if p["name"] == "college-fund")
    targets = {h["symbol"]: h["weight_target"] for h in college["holdings"] if h["symbol"] in ("VTI", "BND")}
    assert targets == {"VTI": "0.5", "BND": "0.5"}
    # working tree untouched
    assert (workspace.root / "portfolios" / "college-fund.yaml").read_text() == before


def test_the_same_targets_planned_locally_and_as_a_proposal_hash_the_same(
    workspace: Workspace, git_repo: Git
) -> None:
    """The proposal path changes where the files come from, not the plan: apply on merge (which plans the
    checked-out files) compares targets hashes with the reviewed plan."""
    _propose(workspace, git_repo, "college: 50/50", _reweight)
    proposed = json.loads(workspace.run("plan", "--proposed", "pr", "--format", "json").out)
    git_repo("checkout", "-q", "pr")
    local = json.loads(workspace.run("plan", "--format", "json").out)
    assert proposed["targets_hash"] == local["targets_hash"]
    for mine, theirs in zip(proposed["portfolios"], local["portfolios"], strict=True):
        for key in ("name", "actions", "holdings"):
            assert mine[key] == theirs[key]


@pytest.mark.parametrize(("setting", "change"), [
    ("broker.prices.static.VTI.price", lambda d: d["broker"]["prices"]["static"]["VTI"].update({"price": 1})),
    ("broker.accounts.evil", lambda d: d["broker"]["accounts"].update({"evil": {"cash": 5}})),
    ("journal.url", lambda d: d.update({"journal": {"url": "postgresql+psycopg://attacker.example/db"}})),
])
def test_a_proposal_may_not_change_where_credentials_go(
    workspace: Workspace, git_repo: Git, setting: str, change: object
) -> None:
    _propose(
        workspace, git_repo, f"change {setting}", lambda root: edit_yaml(root / "reconciler.yaml", change)
    )
    r = workspace.run("plan", "--proposed", "pr")
    assert r.code == 1
    assert "changes settings only the default branch may set" in r.err
    assert setting in r.err
    assert "pr:reconciler.yaml" in r.err
    assert "fix:" in r.err
    assert workspace.journal_rows("observations") == 0  # refused before any account was observed


def test_a_symbolic_link_in_a_proposal_is_refused_not_followed(
    workspace: Workspace, git_repo: Git, tmp_path: Path
) -> None:
    """A portfolio that is a link to a file outside the proposal (/proc/self/environ holds the credentials)
    would be read by the trusted job and quoted in its error: the proposal is regular files or nothing."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: hunter2\n")

    def link(root: Path) -> None:
        os.symlink(secret, root / "portfolios" / "stolen.yaml")

    _propose(workspace, git_repo, "link", link)
    r = workspace.run("plan", "--proposed", "pr")
    assert r.code == 1
    assert "portfolios/stolen.yaml is a symbolic link" in r.err
    assert "hunter2" not in r.out + r.err
    assert workspace.journal_rows("observations") == 0


def test_the_proposal_s_policies_judge_its_plan(workspace: Workspace, git_repo: Git) -> None:
    def deny_all(root: Path) -> None:
        (root / "policies" / "freeze.rego").write_text(
            "package reconciler.freeze\n\nimport rego.v1\n\n"
            'deny contains "trading is frozen this week" if { count(input.actions) > 0 }\n'
        )

    _propose(workspace, git_repo, "freeze", deny_all)
    r = workspace.run("plan", "--proposed", "pr", "--format", "json")
    assert r.code == 1  # blocked by a policy: not a success
    results = json.loads(r.out)["policy_results"]
    assert any(p["policy"] == "freeze" and p["kind"] == "deny" for p in results)


def test_problems_in_a_proposal_name_the_ref_not_a_temporary_folder(
    workspace: Workspace, git_repo: Git
) -> None:
    def break_weights(root: Path) -> None:
        edit_yaml(root / "portfolios" / "college-fund.yaml",
                  lambda d: d["spec"]["targets"].__setitem__("VTI", 0.9))
        (root / "policies" / "leak.rego").write_text(
            "package reconciler.leak\n\nimport rego.v1\n\ndeny contains opa.runtime().env.HOME if { true }\n"
        )

    _propose(workspace, git_repo, "broken", break_weights)
    r = workspace.run("plan", "--proposed", "pr")
    assert r.code == 1
    assert "pr:portfolios/college-fund.yaml" in r.err
    assert "reconciler-proposed-" not in r.err
    assert "Traceback" not in r.err
    (workspace.root / "portfolios" / "college-fund.yaml").write_text(
        (workspace.root / "portfolios" / "college-fund.yaml").read_text()
    )
    git_repo("checkout", "-q", "pr")
    git_repo("checkout", "-q", "main", "--", ".")  # valid targets again, keeping the leaking policy
    git_repo("checkout", "-q", "pr", "--", "policies/leak.rego")
    fixed = git_repo.commit_all("weights fixed, policy still leaks")
    git_repo("checkout", "-q", "main")
    r = workspace.run("plan", "--proposed", fixed)
    assert r.code == 1
    assert f"{fixed}:policies/leak.rego:5:" in r.err
    assert "opa namespace" in r.err
    assert "reconciler-proposed-" not in r.err


def test_an_unknown_proposed_ref_is_a_clear_error(workspace: Workspace, git_repo: Git) -> None:
    r = workspace.run("plan", "--proposed", "refs/pull/7/merge")
    assert r.code == 1
    assert "unknown git ref 'refs/pull/7/merge'" in r.err
    assert "fix:" in r.err


@pytest.mark.parametrize(("folder", "says"), [
    ("/etc", "must be a folder inside the repository"),  # rules from the runner's disk
    ("../outside", "is outside the repository"),
])
def test_a_proposal_never_reads_policies_from_outside_the_repository(
    workspace: Workspace, git_repo: Git, folder: str, says: str
) -> None:
    def move(root: Path) -> None:
        edit_yaml(root / "reconciler.yaml", lambda d: d["policies"].__setitem__("dir", folder))

    _propose(workspace, git_repo, "policies elsewhere", move)
    r = workspace.run("plan", "--proposed", "pr")
    assert r.code == 1
    assert says in r.err
    assert "Traceback" not in r.err
