"""The GitHub client, the sticky comment and the drift issue, over real HTTP against the fake GitHub."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.gitops.comment import part_of, sync_drift_issue, upsert_sticky
from reconciler.gitops.github import GitHub, GitHubError, GitHubSettings
from tests.conftest import Workspace
from tests.gitops.fake_github import FakeGitHub

NOW = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)


def client(fake: FakeGitHub, **kw: object) -> GitHub:
    return GitHub(GitHubSettings(api_url=fake.url, repo=fake.repo, token=fake.token), backoff=0.01,
                  **kw)  # type: ignore[arg-type]


def test_list_follows_pagination(github: FakeGitHub) -> None:
    github.add_pull(3)
    for i in range(250):
        github.add_comment(3, f"comment {i}")
    with client(github) as gh:
        comments = gh.list_comments(3)
    assert [c["body"] for c in comments] == [f"comment {i}" for i in range(250)]
    gets = [r for r in github.requests if r.method == "GET"]
    assert len(gets) == 3
    assert gets[0].query["per_page"] == "100"


def test_sticky_comment_is_found_among_many_and_updated_in_place(github: FakeGitHub) -> None:
    github.add_pull(5)
    for i in range(120):
        github.add_comment(5, f"chatter {i}")
    with client(github) as gh:
        first = upsert_sticky(gh, 5, ["<!-- reconciler:plan -->\nplan one\n"])
        again = upsert_sticky(gh, 5, ["<!-- reconciler:plan -->\nplan one\n"])
        second = upsert_sticky(gh, 5, ["<!-- reconciler:plan -->\nplan two\n"])
    assert (len(first.created), len(again.unchanged), len(second.updated)) == (1, 1, 1)
    assert [c["body"] for c in github.ours(5)] == ["<!-- reconciler:plan -->\nplan two\n"]
    assert len(github.comments[5]) == 121


def test_parts_grow_and_shrink_without_duplicates(github: FakeGitHub) -> None:
    github.add_pull(6)
    three = [f"<!-- reconciler:plan part={k}/3 -->\npart {k}\n" for k in (1, 2, 3)]
    with client(github) as gh:
        upsert_sticky(gh, 6, three)
        assert [part_of(c["body"]) for c in github.ours(6)] == [1, 2, 3]
        ids = [c["id"] for c in github.ours(6)]
        shrunk = upsert_sticky(gh, 6, ["<!-- reconciler:plan -->\nsmall again\n"])
    assert shrunk.deleted == 2
    assert len(shrunk.updated) == 1
    assert [c["id"] for c in github.ours(6)] == ids[:1]  # part 1 kept its place in the conversation


def test_a_comment_that_merely_quotes_the_marker_is_not_ours() -> None:
    assert part_of("> <!-- reconciler:plan -->\nquoted") is None
    assert part_of("<!-- reconciler:plan part=2/3 -->\n…") == 2
    assert part_of("<!-- reconciler:plan -->") == 1


def test_drift_issue_opens_updates_and_closes(github: FakeGitHub) -> None:
    out = [{"portfolio": "a", "status": "OutOfSync"}, {"portfolio": "b", "status": "Synced"}]
    synced = [{"portfolio": "a", "status": "Synced"}, {"portfolio": "b", "status": "Synced"}]
    with client(github) as gh:
        opened = sync_drift_issue(gh, out, "<!-- reconciler:drift -->\nfirst\n", now=NOW)
        updated = sync_drift_issue(gh, out, "<!-- reconciler:drift -->\nsecond\n", now=NOW)
        unknown = sync_drift_issue(
            gh, [{"portfolio": "a", "status": "Unknown"}], "<!-- reconciler:drift -->\n?\n", now=NOW
        )
        # Applied, but the sale proceeds still settle: not back in sync, so the issue stays open (kept
        # current).
        settling = [{"portfolio": "a", "status": "Progressing"}, {"portfolio": "b", "status": "Synced"}]
        progressing = sync_drift_issue(gh, settling, "<!-- reconciler:drift -->\nsettling\n", now=NOW)
        assert github.issues[opened.number]["state"] == "open"
        assert github.issues[opened.number]["body"].endswith("settling\n")
        closed = sync_drift_issue(gh, synced, "<!-- reconciler:drift -->\nall good\n", now=NOW)
        nothing = sync_drift_issue(gh, synced, "<!-- reconciler:drift -->\nall good\n", now=NOW)
        # Settling alone never opens one: nobody has to act.
        quiet = sync_drift_issue(gh, settling, "<!-- reconciler:drift -->\nsettling\n", now=NOW)
    assert (opened.action, updated.action, unknown.action, progressing.action, closed.action, nothing.action,
            quiet.action) == ("opened", "updated", "updated", "updated", "closed", "none", "none")
    (issue,) = github.issues.values()
    assert issue["state"] == "closed"
    assert issue["state_reason"] == "completed"
    assert "back in sync with its targets** (2031-03-04 05:06 UTC)" in issue["body"]
    assert [x["name"] for x in issue["labels"]] == ["reconciler-drift"]


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "HTTP 401"),
        (403, "pull-requests: write"),
        (404, "check the repository"),
        (422, "refused the content"),
        (500, "GitHub is failing"),
    ],
)
def test_http_errors_are_clear(github: FakeGitHub, status: int, says: str) -> None:
    github.add_pull(1)
    github.failures = [status]
    with client(github) as gh, pytest.raises(GitHubError) as caught:
        gh.create_comment(1, "hello")
    text = caught.value.render()
    assert f"HTTP {status}" in text
    assert says in text
    assert github.token not in text


def test_transient_failures_are_retried(github: FakeGitHub) -> None:
    github.add_pull(1)
    github.failures = [503, 502]
    with client(github) as gh:
        made = gh.create_comment(1, "hello")
    assert made["body"] == "hello"
    assert len(github.requests) == 3


def test_persistent_5xx_gives_up_after_the_attempts(github: FakeGitHub) -> None:
    github.add_pull(1)
    github.failures = [503, 503, 503]
    with client(github) as gh, pytest.raises(GitHubError) as caught:
        gh.list_comments(1)
    assert "HTTP 503 after 3 attempts" in caught.value.render()


def test_unreachable_api_is_clear() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gh = GitHub(GitHubSettings(api_url=f"http://127.0.0.1:{port}", repo="a/b", token="t"), backoff=0.01)
    with gh, pytest.raises(GitHubError) as caught:
        gh.list_comments(1)
    assert "cannot reach the GitHub API" in caught.value.render()


# ---- the CLI ----

def test_comment_needs_a_token(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    r = workspace.run("github", "comment", "--pr", "1", "--repo", "acme/x")
    assert r.code == 1
    assert "GITHUB_TOKEN is not set" in r.err
    assert "fix:" in r.err
    assert workspace.paper_order_count() == 0  # failed before planning


def test_comment_bad_repo_and_pr(workspace: Workspace, github: FakeGitHub) -> None:
    r = workspace.run("github", "comment", "--pr", "1", "--repo", "not a repo")
    assert r.code == 1
    assert "is not OWNER/NAME" in r.err
    r = workspace.run("github", "comment", "--pr", "999")  # no such pull request on the fake
    assert r.code == 1
    assert "HTTP 404" in r.err
    assert "Traceback" not in r.err
    assert github.token not in r.err


def test_comment_plans_now_without_a_plan_file(workspace: Workspace, github: FakeGitHub) -> None:
    github.add_pull(2)
    r = workspace.run("--log-level", "debug", "github", "comment", "--pr", "2")
    assert r.code == 0, r.err
    assert "1 created" in r.out
    assert github.token not in r.out + r.err
    assert re.search(r"^\| alice-ira \| \d+ \| \$[\d,.]+ \|", github.ours(2)[0]["body"], re.M)


def test_comment_rejects_a_bad_plan_file(workspace: Workspace, github: FakeGitHub, tmp_path: Path) -> None:
    github.add_pull(2)
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    r = workspace.run("github", "comment", "--pr", "2", "--plan", str(bad))
    assert r.code == 1
    assert "not valid JSON" in r.err
    assert github.ours(2) == []


def test_drift_issue_command(workspace: Workspace, github: FakeGitHub, tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    r = workspace.run("status", "--out", str(status))
    assert r.code == 2  # the seeded accounts are far from their targets
    r = workspace.run("github", "drift-issue", "--status", str(status))
    assert r.code == 0, r.err
    assert "drift issue #1 opened" in r.out
    body = github.issues[1]["body"]
    assert body.startswith("<!-- reconciler:drift -->")
    assert "| alice-ira | paper-ira | :warning: OutOfSync |" in body
    status.write_text(json.dumps({"portfolios": "nope"}))
    r = workspace.run("github", "drift-issue", "--status", str(status))
    assert r.code == 1
    assert "not a status file" in r.err
    r = workspace.run("github", "drift-issue", "--status", str(tmp_path / "missing.json"))
    assert r.code == 1
    assert "status file not found" in r.err


@pytest.mark.parametrize("behaviour", ["slow-headers", "slow-body", "100-MB"])
def test_a_github_that_never_finishes_is_cut_off_in_bounded_time(behaviour: str) -> None:
    """The same hostile peers the broker adapters face: every GitHub call has a total deadline and a size cap,
    not only per-read timeouts (a slowloris API would otherwise hold the apply job for ever)."""
    from tests.brokers.test_alpaca_hostile import _drip_body, _drip_headers, _hundred_megabytes, _Peer

    peer = _Peer()
    try:
        act = {"slow-headers": _drip_headers, "slow-body": _drip_body, "100-MB": _hundred_megabytes}[
            behaviour
        ]
        peer.answers["/repos/a/b/issues/1/comments"] = act
        gh = GitHub(GitHubSettings(api_url=peer.url, repo="a/b", token="t"), backoff=0.01, timeout=1)
        started = time.monotonic()
        with gh, pytest.raises(GitHubError) as caught:
            gh.list_comments(1)
        assert time.monotonic() - started < 10  # 3 attempts of a 1 s deadline, with backoff
        says = "larger than" if behaviour == "100-MB" else "cannot reach the GitHub API: ReadTimeout"
        assert says in caught.value.render(), caught.value.render()
    finally:
        peer.server.shutdown()


def test_apply_result_is_one_sticky_comment_beside_the_plan(
    workspace: Workspace, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apply job posts its outcome back to the merged pull request: one comment, updated when the job is
    re-run, with a link to the run; the plan comment stays as reviewed; a marked comment by anyone else is
    left."""
    github.add_pull(9)
    hostile = github.add_comment(9, "<!-- reconciler:apply -->\nfake: everything filled", user="mallory")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    plan, summary = tmp_path / "plan.json", tmp_path / "apply.md"
    assert workspace.run("plan", "--out", str(plan)).code == 0
    assert workspace.run("github", "comment", "--pr", "9", "--plan", str(plan)).code == 0
    assert (
        workspace.run("apply", "--envelope", str(plan), "--auto-approve", "--summary-file", str(summary)).code
        == 0
    )
    r = workspace.run("github", "apply-result", "--pr", "9", "--summary", str(summary))
    assert r.code == 0, r.err
    assert "1 created" in r.out
    ours = [
        c
        for c in github.comments[9]
        if c["body"].startswith("<!-- reconciler:apply -->") and c is not hostile
    ]
    (result,) = ours
    assert "## reconciler apply: succeeded" in result["body"]
    assert "[The apply run](https://github.example/" + github.repo + "/actions/runs/4242)" in result["body"]
    plan_comments = [c for c in github.comments[9] if c["body"].startswith("<!-- reconciler:plan")]
    assert len(plan_comments) == 1
    assert "apply: succeeded" not in plan_comments[0]["body"]
    # A re-run (here: the commit is applied already) updates the same comment.
    summary.write_text("")
    assert (
        workspace.run("apply", "--envelope", str(plan), "--auto-approve", "--summary-file", str(summary)).code
        == 0
    )
    r = workspace.run("github", "apply-result", "--pr", "9", "--summary", str(summary))
    assert r.code == 0
    assert "1 updated" in r.out
    assert len([c for c in github.comments[9] if c["body"].startswith("<!-- reconciler:apply -->")]) == 2
    assert "nothing to do" in ours[0]["body"] or "already applied" in ours[0]["body"]
    assert hostile["body"] == "<!-- reconciler:apply -->\nfake: everything filled"  # never touched
    r = workspace.run("github", "apply-result", "--pr", "9", "--summary", str(tmp_path / "none.md"))
    assert r.code == 1
    assert "cannot read the apply summary" in r.err
