"""The plan comment and the drift issue are ours only when the token wrote them: the marker alone proves
nothing.

Over real HTTP against the fake GitHub, whose token acts as `github.login`; anyone can paste a marker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.gitops.comment import DRIFT_LABEL, DRIFT_MARKER, sync_drift_issue, upsert_sticky
from reconciler.gitops.github import GitHub, GitHubError, GitHubSettings
from tests.conftest import Workspace
from tests.gitops.fake_github import FakeGitHub

NOW = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)
HOSTILE = ("<!-- reconciler:plan -->\n## reconciler plan\n**No changes.** [Approve"
           " here](https://evil.example)\n")


def client(fake: FakeGitHub, login: str | None = None) -> GitHub:
    return GitHub(
        GitHubSettings(api_url=fake.url, repo=fake.repo, token=fake.token, login=login), backoff=0.01
    )


def calls(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


# ---- who the token is ----

def test_a_personal_token_is_known_by_get_user(github: FakeGitHub) -> None:
    github.token, github.login = "ghp_personal-token-0123456789", "alice"
    with client(github) as gh:
        assert gh.login() == "alice"
        assert gh.login() == "alice"  # asked once per client
    assert calls(github) == [("GET", "/user")]


def test_an_installation_token_is_known_by_graphql_viewer(github: FakeGitHub) -> None:
    """The Actions GITHUB_TOKEN gets 403 "Resource not accessible by integration" on GET /user."""
    with client(github) as gh:
        assert gh.login() == "github-actions[bot]"
    assert calls(github) == [("GET", "/user"), ("POST", "/graphql")]
    assert "viewer" in github.requests[1].body["query"]


def test_a_github_app_token_is_its_own_bot_not_github_actions(github: FakeGitHub) -> None:
    github.login = "acme-reconciler[bot]"  # an installation token of the organisation's own app
    with client(github) as gh:
        assert gh.login() == "acme-reconciler[bot]"


def test_a_login_given_is_not_asked(github: FakeGitHub) -> None:
    with client(github, login="octo-bot") as gh:
        assert gh.login() == "octo-bot"
    assert github.requests == []


def test_a_token_whose_login_cannot_be_told_touches_nothing(github: FakeGitHub) -> None:
    github.add_pull(5)
    ours = github.add_comment(5, "<!-- reconciler:plan -->\nold\n", user="github-actions[bot]")
    github.login = ""  # GraphQL answers no usable login
    with client(github) as gh, pytest.raises(GitHubError) as caught:
        upsert_sticky(gh, 5, ["<!-- reconciler:plan -->\nnew\n"])
    assert "cannot tell which login the token acts as" in caught.value.render()
    assert "--bot-login" in caught.value.render()
    assert ours["body"] == "<!-- reconciler:plan -->\nold\n"
    assert [m for m, _ in calls(github) if m in ("PATCH", "DELETE")] == []


# ---- the sticky comment ----

def test_a_hostile_comment_with_the_marker_is_left_alone_while_ours_is_updated(
    github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    github.add_pull(5)
    hostile = github.add_comment(5, HOSTILE, user="mallory")  # older than ours: it would be taken for part 1
    ours = github.add_comment(5, "<!-- reconciler:plan -->\nplan one\n", user="github-actions[bot]")
    hostile_part = github.add_comment(5, "<!-- reconciler:plan part=2/2 -->\nalso mine\n", user="mallory")
    with caplog.at_level(logging.WARNING, logger="reconciler.github"), client(github) as gh:
        result = upsert_sticky(gh, 5, ["<!-- reconciler:plan -->\nplan two\n"])
    assert result.updated == [ours["html_url"]]
    assert result.deleted == 0
    assert ours["body"] == "<!-- reconciler:plan -->\nplan two\n"
    assert hostile["body"] == HOSTILE
    assert [c["id"] for c in github.comments[5]] == [hostile["id"], ours["id"], hostile_part["id"]]
    touched = [p for m, p in calls(github) if m in ("PATCH", "DELETE")]
    assert touched == [f"/repos/{github.repo}/issues/comments/{ours['id']}"]
    warnings = [r for r in caplog.records if r.name == "reconciler.github" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 comment(s)" in warnings[0].getMessage()
    assert "mallory" in warnings[0].getMessage()


def test_only_hostile_marked_comments_means_ours_is_created_beside_them(github: FakeGitHub) -> None:
    github.add_pull(6)
    hostile = github.add_comment(6, HOSTILE, user="Mallory")
    with client(github) as gh:
        result = upsert_sticky(gh, 6, ["<!-- reconciler:plan -->\nthe plan\n"])
    assert len(result.created) == 1
    assert hostile["body"] == HOSTILE
    assert [c["user"]["login"] for c in github.comments[6]] == ["Mallory", "github-actions[bot]"]


def test_our_comment_is_found_whatever_the_case_of_the_login(github: FakeGitHub) -> None:
    github.add_pull(7)
    ours = github.add_comment(7, "<!-- reconciler:plan -->\nold\n", user="GitHub-Actions[bot]")
    with client(github) as gh:
        result = upsert_sticky(gh, 7, ["<!-- reconciler:plan -->\nnew\n"])
    assert result.updated == [ours["html_url"]]
    assert len(github.comments[7]) == 1


# ---- the drift issue ----

def test_a_hostile_drift_issue_with_marker_and_label_is_not_edited_or_closed(
    github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    body = f"{DRIFT_MARKER}\nEverything is fine, [approve the fix](https://evil.example)\n"
    hostile = github.add_issue("reconciler: all good", body, [DRIFT_LABEL], user="mallory")
    out = [{"portfolio": "a", "status": "OutOfSync"}]
    synced = [{"portfolio": "a", "status": "Synced"}]
    with caplog.at_level(logging.WARNING, logger="reconciler.github"), client(github) as gh:
        opened = sync_drift_issue(gh, out, f"{DRIFT_MARKER}\nfirst\n", now=NOW)
        closed = sync_drift_issue(gh, synced, f"{DRIFT_MARKER}\nall good\n", now=NOW)
    assert (opened.action, opened.number) == ("opened", 2)
    assert (closed.action, closed.number) == ("closed", 2)
    assert hostile["state"] == "open"
    assert hostile["body"] == body
    assert hostile["title"] == "reconciler: all good"
    assert github.issues[2]["user"]["login"] == "github-actions[bot]"
    assert github.issues[2]["state"] == "closed"
    touched = [p for m, p in calls(github) if m == "PATCH"]
    assert touched == [f"/repos/{github.repo}/issues/2"]
    assert any("mallory" in r.getMessage() and "issue(s)" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_a_hostile_drift_issue_alone_is_not_closed(github: FakeGitHub) -> None:
    hostile = github.add_issue("x", f"{DRIFT_MARKER}\nhers\n", [DRIFT_LABEL], user="mallory")
    with client(github) as gh:
        outcome = sync_drift_issue(
            gh, [{"portfolio": "a", "status": "Synced"}], f"{DRIFT_MARKER}\nok\n", now=NOW
        )
    assert outcome.action == "none"
    assert hostile["state"] == "open"


# ---- the CLI ----

def test_bot_login_from_the_environment_skips_asking(
    workspace: Workspace, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan)).code == 0
    github.add_pull(3)
    hostile = github.add_comment(3, HOSTILE, user="mallory")
    github.login = "acme-reconciler[bot]"
    monkeypatch.setenv("RECONCILER_GITHUB_LOGIN", "acme-reconciler[bot]")
    r = workspace.run("github", "comment", "--pr", "3", "--plan", str(plan))
    assert r.code == 0, r.err
    assert ("GET", "/user") not in calls(github)
    assert hostile["body"] == HOSTILE
    assert [c["user"]["login"] for c in github.comments[3]] == ["mallory", "acme-reconciler[bot]"]


def test_bot_login_option_is_checked(workspace: Workspace, github: FakeGitHub) -> None:
    github.add_pull(3)
    r = workspace.run("github", "comment", "--pr", "3", "--bot-login", "evil\nlogin")
    assert r.code == 1
    assert "--bot-login" in r.err
    assert "is not a GitHub login" in r.err
    assert github.requests == []
    r = workspace.run("github", "drift-issue", "--status", "missing.json", "--bot-login", "")
    assert r.code == 1
    assert "is not a GitHub login" in r.err
