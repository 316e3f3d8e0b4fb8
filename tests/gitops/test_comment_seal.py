"""Every workflow comments as github-actions[bot]: with RECONCILER_COMMENT_KEY the plan comment is bound to
the plan workflow by an HMAC in its marker (pull request, comment id, head commit), so another workflow's
comment, marked or even carrying a copy of a signed marker, is never adopted, edited or deleted. Over real
HTTP against the fake GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.gitops.comment import Seal, upsert_sticky
from tests.conftest import Workspace
from tests.gitops.fake_github import FakeGitHub
from tests.gitops.test_sticky_ownership import client

KEY = b"k" * 32
HEAD, NEXT = "a" * 40, "b" * 40
BODY = "<!-- reconciler:plan -->\n## reconciler plan\norders…\n"


def test_the_comment_is_signed_for_its_pull_request_comment_and_head(github: FakeGitHub) -> None:
    github.add_pull(7)
    with client(github) as gh:
        upsert_sticky(gh, 7, [BODY], Seal(KEY, HEAD))
    (comment,) = github.comments[7]
    marker = comment["body"].split("\n", 1)[0]
    assert marker == f"<!-- reconciler:plan head={HEAD} sig={Seal(KEY, HEAD).sign(7, comment['id'], 1)} -->"


def test_the_next_push_updates_the_same_comment(github: FakeGitHub) -> None:
    github.add_pull(7)
    with client(github) as gh:
        upsert_sticky(gh, 7, [BODY], Seal(KEY, HEAD))
        first = github.comments[7][0]["id"]
        result = upsert_sticky(gh, 7, [BODY.replace("orders", "new orders")], Seal(KEY, NEXT))
    assert result.updated
    assert [c["id"] for c in github.comments[7]] == [first]
    assert f"head={NEXT}" in github.comments[7][0]["body"]


def test_another_workflows_marked_comment_is_left_alone(github: FakeGitHub) -> None:
    github.add_pull(7)
    theirs = github.add_comment(7, BODY.replace("orders…", "all policies passed"), user=github.login)
    with client(github) as gh:
        upsert_sticky(gh, 7, [BODY], Seal(KEY, HEAD))
    assert github.comments[7][0] == theirs
    assert len(github.comments[7]) == 2


def test_a_copied_signed_marker_is_not_adopted(github: FakeGitHub) -> None:
    """The marker is visible in the comment's source: another workflow pasting it into its own comment names
    the wrong comment id."""
    github.add_pull(7)
    with client(github) as gh:
        upsert_sticky(gh, 7, [BODY], Seal(KEY, HEAD))
        ours = github.comments[7][0]
        marker = ours["body"].split("\n", 1)[0]
        github.comments[7].remove(ours)  # say ours was deleted: the copy must not take its place
        copy = github.add_comment(7, marker + "\nApprove: [here](https://evil.example)\n", user=github.login)
        upsert_sticky(gh, 7, [BODY], Seal(KEY, NEXT))
    assert github.comments[7][0] == copy
    assert len(github.comments[7]) == 2


def test_a_marker_signed_with_another_key_is_not_adopted(github: FakeGitHub) -> None:
    github.add_pull(7)
    with client(github) as gh:
        upsert_sticky(gh, 7, [BODY], Seal(b"another key", HEAD))
        foreign = dict(github.comments[7][0])
        upsert_sticky(gh, 7, [BODY], Seal(KEY, HEAD))
    assert github.comments[7][0] == foreign
    assert len(github.comments[7]) == 2


def test_parts_are_signed_each(github: FakeGitHub) -> None:
    github.add_pull(7)
    parts = [BODY, "<!-- reconciler:plan part=2/2 -->\nmore…\n"]
    with client(github) as gh:
        upsert_sticky(gh, 7, parts, Seal(KEY, HEAD))
        result = upsert_sticky(gh, 7, parts, Seal(KEY, HEAD))
    assert len(result.unchanged) == 2
    assert github.comments[7][1]["body"].startswith(f"<!-- reconciler:plan part=2/2 head={HEAD} sig=")


def test_in_ci_the_comment_needs_the_key(
    workspace: Workspace, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.add_pull(7)
    plan = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan)).code in (0, 2)
    monkeypatch.setenv("CI", "true")
    r = workspace.run("github", "comment", "--pr", "7", "--plan", str(plan))
    assert r.code == 1
    assert "RECONCILER_COMMENT_KEY is not set" in r.err
    assert github.comments[7] == []
    monkeypatch.setenv("RECONCILER_COMMENT_KEY", "s3cret-comment-key")
    r = workspace.run("github", "comment", "--pr", "7", "--plan", str(plan), "--head", HEAD)
    assert r.code == 0, r.out + r.err
    assert f"head={HEAD} sig=" in github.comments[7][0]["body"]
    assert "s3cret-comment-key" not in github.comments[7][0]["body"]
