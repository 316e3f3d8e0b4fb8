"""Merge queues, in a real git repository against the fake GitHub (docs/gitops.md, "Merge queues"): the
queue's temporary branch is read as data, each of its commits matched to its pull request and that pull
request's reviewed plan; a batch whose portfolios are all covered passes and, merged, is applied by the
sequence design of apply on merge; a batch with a portfolio no reviewed plan covers is refused before it
reaches main."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub
from tests.gitops.test_sequence import BOB, MODEL, Team, last_apply


@pytest.fixture
def queue(workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path) -> Team:
    assert workspace.run("apply", "--auto-approve").code == 0  # main's targets, applied at main's commit
    return Team(workspace, git_repo, github, tmp_path)


def enqueue(team: Team, *branches: str, squash: bool = False) -> tuple[str, str]:
    """GitHub's merge queue: a temporary branch on main with one merge (or squash) commit per queued pull
    request."""
    base = team.git.sha("main")
    team.git("checkout", "-q", "-b", f"gh-readonly-queue/main/pr-{team.numbers[branches[-1]]}-{base}", "main")
    for branch in branches:
        number = team.numbers[branch]
        team.github.add_open_pull(number, team.heads[branch])
        if squash:
            team.git("merge", "-q", "--squash", branch)
            team.git("commit", "-q", "-m", f"Change {branch} (#{number})")
        else:
            team.git(
                "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}", branch
            )
    head = team.git.sha("HEAD")
    team.git("checkout", "-q", "main")  # the job's trusted checkout; the queue's tip is only objects
    return base, head


def check_batch(team: Team, base: str, head: str) -> tuple[int, str, Path]:
    summary = team.tmp / f"summary-{head[:8]}.md"
    r = team.ws.run("github", "merge-group", "--base", base, "--head", head, "--out", str(team.tmp / "batch"),
                    "--summary-file", str(summary))
    return r.code, r.out + r.err, summary


def land(team: Team, head: str, *branches: str) -> None:
    """The queue passed: main moves to its tip, and GitHub records each pull request as merged by its
    commit."""
    team.git("merge", "-q", "--ff-only", head)
    commits = team.git("rev-list", "--first-parent", "--reverse", f"{head}~{len(branches)}..{head}").split()
    for branch, commit in zip(branches, commits, strict=True):
        team.github.open_pulls.pop(team.numbers[branch])
        team.github.add_merged_pull(team.numbers[branch], commit, team.heads[branch])


def test_a_batch_of_two_pull_requests_is_checked_then_applied_each_within_its_plan(queue: Team) -> None:
    queue.open("a", BOB, VTI=0.40, BND=0.30)
    queue.open("b", MODEL, VTI=0.24, VXUS=0.36)
    base, head = enqueue(queue, "a", "b")
    orders = queue.ws.paper_order_count()
    code, out, summary = check_batch(queue, base, head)
    assert code == 0, out
    assert "bob-taxable: within the plan reviewed on pull request #1" in out
    assert "alice-ira: within the plan reviewed on pull request #2" in out
    assert "- bob-taxable: within the plan reviewed on pull request" in summary.read_text()  # #1, made inert
    assert queue.ws.paper_order_count() == orders  # the queue's check never observes or trades
    land(queue, head, "a", "b")
    code, out = queue.apply()
    assert code == 0, out
    assert "bob-taxable: within the plan reviewed on pull request #1" in out
    assert last_apply(queue.ws) == (head, "succeeded")
    assert queue.in_sync()


def test_a_squashed_batch_is_checked_then_applied_the_same_way(queue: Team) -> None:
    queue.open("a", BOB, VTI=0.40, BND=0.30)
    queue.open("b", MODEL, VTI=0.24, VXUS=0.36)
    base, head = enqueue(queue, "a", "b", squash=True)
    code, out, _ = check_batch(queue, base, head)
    assert code == 0, out
    assert "alice-ira: within the plan reviewed on pull request #2" in out
    land(queue, head, "a", "b")
    code, out = queue.apply()
    assert code == 0, out
    assert last_apply(queue.ws) == (head, "succeeded")
    assert queue.in_sync()


def test_a_batch_with_a_pull_request_never_planned_is_refused_by_name(queue: Team) -> None:
    queue.open("a", BOB, VTI=0.40, BND=0.30)
    queue.open("b", MODEL, VTI=0.24, VXUS=0.36)
    queue.github.artifacts[:] = [a for a in queue.github.artifacts if queue.heads["b"] not in a["name"]]
    base, head = enqueue(queue, "a", "b")
    code, out, _ = check_batch(queue, base, head)
    assert code == 1
    assert "alice-ira: no reviewed plan covers it: its change came from pull request #2" in out


def test_two_pull_requests_changing_one_portfolio_are_refused_together(queue: Team) -> None:
    """Each was reviewed alone; git merges their lines cleanly, and nobody reviewed the portfolio they
    make."""
    queue.open("a", BOB, VTI=0.45, VXUS=0.25)
    queue.git("checkout", "-q", "-b", "b", "main")
    path = queue.ws.root / "portfolios" / "bob-taxable.yaml"
    path.write_text(path.read_text().replace("min_trade_notional: 250", "min_trade_notional: 300"))
    queue.heads["b"] = queue.git.commit_all("bob-taxable: larger minimum trade")
    queue.plan("b")
    base, head = enqueue(queue, "a", "b")
    code, out, _ = check_batch(queue, base, head)
    assert code == 1
    assert "bob-taxable: no reviewed plan covers it: the plan reviewed on pull request #2" in out


def test_a_commit_whose_second_parent_is_not_the_pull_requests_head_is_not_matched(queue: Team) -> None:
    queue.open("a", BOB, VTI=0.40, BND=0.30)
    base, head = enqueue(queue, "a")
    # the pull request moved on: its reviewed plan is not this commit's
    queue.github.add_open_pull(1, "f" * 40)
    code, out, _ = check_batch(queue, base, head)
    assert code == 1
    assert "is not pull request #1's head" in out


@pytest.mark.parametrize(("subject", "number"), [
    ("Merge pull request #12 from acme/more-bonds", 12),
    ("More bonds for bob (#12)", 12),
    ("More bonds (#3) for bob", None),
    ("Merge branch 'main' into more-bonds", None),
])
def test_the_pull_request_is_read_from_githubs_merge_and_squash_subjects(
    subject: str, number: int | None
) -> None:
    from reconciler.gitops.merge_group import pull_number

    assert pull_number(subject) == number


def test_the_queue_check_needs_no_journal_and_no_secret_even_in_ci(
    queue: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue job holds no environment: in CI, where a missing journal is an error for every command that
    opens one, the check opens none."""
    queue.open("a", BOB, VTI=0.40, BND=0.30)
    base, head = enqueue(queue, "a")
    monkeypatch.setenv("CI", "true")
    missing = queue.tmp / "no-such-journal.db"
    r = queue.ws.run(
        "github",
        "merge-group",
        "--base",
        base,
        "--head",
        head,
        "--out",
        str(queue.tmp / "batch"),
        "--journal",
        f"sqlite:///{missing}",
    )
    assert r.code == 0, r.out + r.err
    assert not missing.exists()
