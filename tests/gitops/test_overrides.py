"""Overriding a soft-mandatory denial as a reviewed act: `/reconciler override POLICY: reason` on the pull
request by a code owner of the policy (the default branch's CODEOWNERS), recorded in the reviewed plan with
who and why, shown in the comment, honoured by apply on merge and journaled; refused from anyone else. A real
git repository, the fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.gitops.overrides import CodeOwners
from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub
from tests.gitops.test_e2e import set_targets

OWNERS = "/.github/ @acme/owners\n/policies/ @risk-rita @acme/risk\n/policies/kill_switch.rego @ops-oscar\n"


@pytest.mark.parametrize(("path", "owners"), [
    ("policies/max_turnover.rego", ["@risk-rita", "@acme/risk"]),
    ("policies/kill_switch.rego", ["@ops-oscar"]),  # the last matching rule wins
    ("portfolios/bob.yaml", []),
    ("sub/policies/max_turnover.rego", []),  # an anchored rule matches from the root only
])
def test_codeowners_last_matching_rule_wins(path: str, owners: list[str]) -> None:
    assert CodeOwners.parse(OWNERS).owners(path) == owners


def test_an_unanchored_name_matches_at_any_depth() -> None:
    assert CodeOwners.parse("*.rego @rego-team\n").owners("policies/deep/x.rego") == ["@rego-team"]


@pytest.fixture
def denied(workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path) -> Path:
    """Main with a soft-mandatory max_turnover that the first apply's turnover breaks, and CODEOWNERS; a pull
    request (#5) is open with the comments of three people."""
    edit_yaml(workspace.config, lambda d: d["policies"]["params"].__setitem__("max_turnover", 0.5))
    (workspace.root / ".github").mkdir()
    (workspace.root / ".github" / "CODEOWNERS").write_text(OWNERS)
    git_repo.commit_all("turnover at most 50%; code owners")
    git_repo("checkout", "-q", "-b", "pr")
    set_targets(workspace, "bob-taxable", VTI=0.40, BND=0.30)
    git_repo.commit_all("bob: more bonds")
    github.add_pull(5)
    github.teams["acme/risk"] = {"risk-ron"}
    github.add_comment(5, "Turnover is high because these accounts were never funded.\n"
                          "/reconciler override max_turnover: initial funding of new accounts",
                          user="risk-rita")
    github.add_comment(5, "/reconciler override max_turnover: ship it", user="mallory")
    github.add_comment(5, "/reconciler override kill_switch: prices are fine", user="ops-oscar")
    out = tmp_path / "overrides.json"
    r = workspace.run("github", "overrides", "--pr", "5", "--out", str(out))
    assert r.code == 0, r.out + r.err
    return out


def test_only_a_code_owner_of_a_soft_mandatory_policy_overrides(denied: Path) -> None:
    found = json.loads(denied.read_text())
    assert [(o["policy"], o["login"], o["reason"]) for o in found["accepted"]] == [
        ("max_turnover", "risk-rita", "initial funding of new accounts")
    ]
    assert found["refused"] == [
        "max_turnover by @mallory: not a code owner of policies/max_turnover.rego (@risk-rita, @acme/risk)",
        "kill_switch by @ops-oscar: not a soft-mandatory policy (overridable: max_turnover)",
    ]


def test_a_team_member_overrides(
    workspace: Workspace, github: FakeGitHub, denied: Path, tmp_path: Path
) -> None:
    github.add_comment(5, "/reconciler override max_turnover: reviewed with the client", user="risk-ron")
    out = tmp_path / "again.json"
    assert workspace.run("github", "overrides", "--pr", "5", "--out", str(out)).code == 0
    assert [o["login"] for o in json.loads(out.read_text())["accepted"]] == ["risk-ron"]  # the latest wins


def test_the_override_is_reviewed_in_the_plan_and_comment_and_honoured_on_merge(
    workspace: Workspace, git_repo: Git, github: FakeGitHub, denied: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    # denied without the override
    assert workspace.run("plan", "--base", "main", "--out", str(plan)).code == 1
    r = workspace.run("plan", "--base", "main", "--out", str(plan), "--overrides", str(denied),
                      "--detailed-exitcode")
    assert r.code == 2, r.out + r.err
    recorded = json.loads(plan.read_text())["overrides"]
    assert [(o["policy"], o["login"], o["pull_request"]) for o in recorded] == [
        ("max_turnover", "risk-rita", 5)
    ]
    r = workspace.run("github", "comment", "--pr", "5", "--plan", str(plan), "--overrides", str(denied))
    assert r.code == 0, r.out + r.err
    (body,) = [c["body"] for c in github.ours(5)]
    # Mentions are made inert (a zero-width space after the @, reconciler/shown.py): the comment never pings
    # anyone
    assert ("- :unlock: **override** `max_turnover` by `@\u200brisk-rita`, a code owner: initial funding of"
            " new") in body
    assert "- :no_entry: **override refused**: max\\_turnover by @\u200bmallory: not a code owner" in body
    # Merged: apply on merge takes the reviewed plan with its override, and the journal says who and why.
    git_repo("checkout", "-q", "main")
    git_repo("merge", "-q", "--no-ff", "-m", "Merge pull request #5", "pr")
    head = git_repo.sha("HEAD^2")
    github.add_merged_pull(5, git_repo.sha("HEAD"), head)
    github.add_plan_artifact(head, plan.read_bytes())
    folder = tmp_path / "reviewed"
    assert workspace.run("github", "reviewed-plans", "--out", str(folder)).code == 0
    r = workspace.run("apply", "--envelope", str(folder), "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert workspace.paper_order_count() > 0
    reasons = [row[0] for row in workspace.query("select override_reason from policy_decisions where"
                                                 " overridden")]
    assert reasons
    assert all(r.startswith("initial funding of new accounts (/reconciler override by @risk-rita on pull"
                            " request #5") for r in reasons)
