"""A pull request that loosens policy or apply settings says so in its plan comment, before the orders: every
changed setting of reconciler.yaml and every changed policy file (issue: "all policies passed" with no word of
the change). A real git repository, the fake GitHub."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub
from tests.gitops.test_proposed import _propose


def _loosen(root: Path) -> None:
    def change(d: object) -> None:
        assert isinstance(d, dict)
        d["policies"]["default_level"] = "advisory"
        d["apply"]["limit_band"] = 0.05

    edit_yaml(root / "reconciler.yaml", change)
    (root / "policies" / "deny_list.rego").unlink()
    turnover = root / "policies" / "max_turnover.rego"
    turnover.write_text(turnover.read_text() + "\n# reviewed by nobody\n")
    (root / "policies" / "extra.rego").write_text("package reconciler.extra\n")


def _comment(workspace: Workspace, github: FakeGitHub) -> str:
    github.add_pull(9)
    r = workspace.run("github", "comment", "--pr", "9", "--proposed", "pr", "--base", "main")
    assert r.code == 0, r.out + r.err
    (body,) = [c["body"] for c in github.ours(9)]
    return body


def test_changed_settings_and_policy_files_come_before_the_orders(
    workspace: Workspace, git_repo: Git, github: FakeGitHub
) -> None:
    _propose(workspace, git_repo, "loosen", _loosen)
    body = _comment(workspace, github)
    head = body.split("\n### ")[0]  # the opening block, the settings and the policy files: before any section
    assert (
        "This pull request also changes how plans are checked and applied" in head.split("| portfolio |")[0]
    )
    assert "| `policies.default_level` | `hard-mandatory` | `advisory` |" in head
    assert "| `apply.limit_band` | `0.005` | `0.05` |" in head
    assert "- policy file `policies/deny_list.rego`: removed" in head
    assert "- policy file `policies/extra.rego`: added" in head
    assert "- policy file `policies/max_turnover.rego`: changed (+2 −0 lines)" in head


def test_a_targets_only_proposal_shows_no_such_section(
    workspace: Workspace, git_repo: Git, github: FakeGitHub
) -> None:
    def reweight(root: Path) -> None:
        edit_yaml(root / "portfolios" / "college-fund.yaml",
                  lambda d: d["spec"]["targets"].update({"VTI": 0.5, "BND": 0.5}))

    _propose(workspace, git_repo, "college: 50/50", reweight)
    assert "changes how plans are checked" not in _comment(workspace, github)
