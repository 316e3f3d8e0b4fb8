"""Apply on merge for a sequence of merges, in a real git repository against the fake GitHub (docs/gitops.md,
"A sequence of merges"): the job at the tip applies every change merged since the last applied commit, each
portfolio within the plan reviewed on the pull request that last changed it; a portfolio no reviewed plan
covers is refused by name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub
from tests.gitops.test_e2e import set_targets

BOB = "bob-taxable"
MODEL = "models/balanced-60-40"  # alice-ira follows it


@dataclass
class Team:
    """Pull requests opened, planned (the plan job), merged (GitHub records the merge), applied (the apply
    job)."""

    ws: Workspace
    git: Git
    github: FakeGitHub
    tmp: Path
    plans: dict[str, Path] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)

    def open(self, branch: str, name: str, **weights: float) -> None:
        self.git("checkout", "-q", "-b", branch, "main")
        set_targets(self.ws, name, **weights)
        self.heads[branch] = self.git.commit_all(f"{name}: {weights}")
        self.plan(branch)

    def plan(self, branch: str) -> None:
        self.plans[branch] = self.tmp / f"{branch}.json"
        r = self.ws.run("plan", "--base", "main", "--out", str(self.plans[branch]))
        assert r.code == 0, r.out + r.err
        self.numbers[branch] = len(self.numbers) + 1
        self.github.add_plan_artifact(self.heads[branch], self.plans[branch].read_bytes())

    def merge(self, branch: str) -> str:
        self.git("checkout", "-q", "main")
        number = self.numbers[branch]
        self.git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}", branch)
        merged = self.git.sha("HEAD")
        self.github.add_merged_pull(number, merged, self.heads[branch])
        return merged

    def apply(self) -> tuple[int, str]:
        """The apply job at the tip of main: fetch the reviewed plans, apply within them."""
        folder = self.tmp / f"reviewed-{self.git.sha('HEAD')[:8]}"
        r = self.ws.run("github", "reviewed-plans", "--out", str(folder))
        assert r.code == 0, r.out + r.err
        r = self.ws.run("apply", "--envelope", str(folder), "--auto-approve")
        return r.code, r.out + r.err

    def in_sync(self) -> bool:
        return self.ws.run("plan", "--detailed-exitcode").code == 0


@pytest.fixture
def team(workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path) -> Team:
    assert workspace.run("apply", "--auto-approve").code == 0  # main's targets, applied at main's commit
    return Team(workspace, git_repo, github, tmp_path)


def last_apply(ws: Workspace) -> tuple[str, str]:
    rows = ws.query("select git_commit, status from applies order by started_at")
    return rows[-1][0], rows[-1][1]


def test_a_then_b_applied_one_by_one(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    a = team.merge("a")
    code, out = team.apply()
    assert code == 0, out
    assert last_apply(team.ws) == (a, "succeeded")
    team.open("b", MODEL, VTI=0.24, VXUS=0.36)
    b = team.merge("b")
    code, out = team.apply()
    assert code == 0, out
    assert last_apply(team.ws) == (b, "succeeded")
    assert team.in_sync()


def test_a_and_b_merged_before_either_applies(team: Team) -> None:
    """Reproduced: B's job alone refused A's portfolio (its orders were not in B's plan) and both stayed
    unapplied. The tip's job applies both, each portfolio within its own pull request's plan."""
    team.open("a", BOB, VTI=0.40, BND=0.30)
    team.open("b", MODEL, VTI=0.24, VXUS=0.36)
    a = team.merge("a")
    b = team.merge("b")
    orders = team.ws.paper_order_count()
    alone = team.ws.run("apply", "--envelope", str(team.plans["b"]), "--auto-approve")
    assert "bob-taxable" in alone.err  # one reviewed plan for the tip does not cover A's change
    assert team.ws.paper_order_count() == orders
    code, out = team.apply()
    assert code == 0, out
    assert f"bob-taxable: within the plan reviewed on pull request #1 ({a[:12]})" in out
    assert last_apply(team.ws) == (b, "succeeded")
    assert team.in_sync()
    code, out = team.apply()  # B's job again, or A's re-run at the tip: applied once
    assert "was applied already" in out


def test_the_manifest_lists_every_commit_since_the_last_applied_one(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    team.open("b", MODEL, VTI=0.24, VXUS=0.36)
    a, b = team.merge("a"), team.merge("b")
    folder = team.tmp / "reviewed"
    assert team.ws.run("github", "reviewed-plans", "--out", str(folder)).code == 0
    manifest = json.loads((folder / "reviewed.json").read_text())
    assert [(c["commit"], c["pr"]) for c in manifest["commits"]] == [(a, 1), (b, 2)]


def test_b_reverting_a_before_a_applied_trades_nothing(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    a = team.merge("a")
    team.git("checkout", "-q", "-b", "revert-a", "main")
    team.git("revert", "--no-edit", "-m", "1", a)
    team.heads["revert-a"] = team.git.sha("HEAD")
    team.plan("revert-a")
    b = team.merge("revert-a")
    orders = team.ws.paper_order_count()
    code, out = team.apply()
    assert code == 0, out
    assert team.ws.paper_order_count() == orders
    assert last_apply(team.ws) == (b, "noop")


def test_b_reverting_an_applied_a_trades_it_back(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    team.merge("a")
    assert team.apply()[0] == 0
    a = team.git.sha("HEAD")
    team.git("checkout", "-q", "-b", "revert-a", "main")
    team.git("revert", "--no-edit", "-m", "1", a)
    team.heads["revert-a"] = team.git.sha("HEAD")
    team.plan("revert-a")
    b = team.merge("revert-a")
    code, out = team.apply()
    assert code == 0, out
    assert last_apply(team.ws) == (b, "succeeded")
    assert team.in_sync()


def test_a_direct_push_is_refused_by_name_until_a_reviewed_plan_covers_it(team: Team) -> None:
    team.git("checkout", "-q", "main")
    set_targets(team.ws, BOB, VTI=0.40, BND=0.30)
    pushed = team.git.commit_all("bob-taxable: pushed straight to main")
    orders = team.ws.paper_order_count()
    code, out = team.apply()
    assert code == 1
    assert (f"bob-taxable: no reviewed plan covers it: its change came from commit {pushed[:12]} with no"
            " reviewed"
            " plan (pushed to main without a pull request)") in out
    assert "open a pull request planned on top of this commit" in out
    assert team.ws.paper_order_count() == orders
    # A pull request planned on top of it shows bob-taxable's orders to its reviewers; its merge applies them.
    team.git("checkout", "-q", "-b", "review-push", "main")
    (team.ws.root / "portfolios" / "bob-taxable.yaml").write_text(
        (team.ws.root / "portfolios" / "bob-taxable.yaml").read_text() + "# reviewed after a direct push\n"
    )
    team.heads["review-push"] = team.git.commit_all("review the pushed change")
    team.plan("review-push")
    merged = team.merge("review-push")
    code, out = team.apply()
    assert code == 0, out
    assert last_apply(team.ws) == (merged, "succeeded")
    assert team.in_sync()


def test_a_plan_from_another_workflow_is_never_taken(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    team.github.artifacts.clear()
    team.github.add_plan_artifact(team.heads["a"], team.plans["a"].read_bytes(), event="pull_request",
                                  path=".github/workflows/evil.yml")
    team.merge("a")
    code, out = team.apply()
    assert code == 1
    assert "bob-taxable: no reviewed plan covers it" in out
    assert "no successful plan.yml run planned its head" in out


def test_an_archive_that_does_not_match_its_digest_is_refused(team: Team) -> None:
    team.open("a", BOB, VTI=0.40, BND=0.30)
    team.github.artifacts.clear()
    team.github.add_plan_artifact(team.heads["a"], team.plans["a"].read_bytes(), digest="sha256:" + "0" * 64)
    team.merge("a")
    r = team.ws.run("github", "reviewed-plans", "--out", str(team.tmp / "reviewed"))
    assert r.code == 1
    assert "does not match the digest GitHub recorded at upload" in r.err


def test_a_manifest_with_a_duplicated_key_is_refused(tmp_path: Path) -> None:
    """The manifest is read by the one strict JSON reader: of two `tip`s, neither is chosen silently."""
    from reconciler.gitops.sequence import MANIFEST, SequenceError, read_manifest

    (tmp_path / MANIFEST).write_text('{"tip": "a", "tip": "b", "since": null, "commits": []}')
    with pytest.raises(SequenceError, match="cannot read the manifest"):
        read_manifest(tmp_path)
