"""`reconciler github doctor` against the fake GitHub: all good passes; each setting wrong in turn fails
exactly its check, with the fix, exit 1; a setting the token may not read fails too; the token is never
printed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.gitops.doctor import CHECKS
from tests.conftest import Workspace
from tests.gitops.fake_github import FakeGitHub

Breakage = Callable[[FakeGitHub], None]


def _env(name: str, **policy: bool) -> Breakage:
    def breaks(gh: FakeGitHub) -> None:
        gh.environments[name]["deployment_branch_policy"] = policy or None
    return breaks


def _rule(name: str, rule_name: str, kind: str = "branch") -> Breakage:
    def breaks(gh: FakeGitHub) -> None:
        gh.branch_policies[name] = [{"id": 9, "name": rule_name, "type": kind}]
    return breaks


def _drop_rule(kind: str, field: str) -> Breakage:
    def breaks(gh: FakeGitHub) -> None:
        for rule in gh.rules:
            if rule["type"] == kind:
                rule["parameters"][field] = (
                    [{"context": "validate"}] if kind == "required_status_checks" else False
                )

    return breaks


def _no_reviewers(gh: FakeGitHub) -> None:
    gh.environments["production"]["protection_rules"] = [{"id": 1, "type": "branch_policy"}]


def _codeowners(text: str | None) -> Breakage:
    def breaks(gh: FakeGitHub) -> None:
        if text is None:
            del gh.files[".github/CODEOWNERS"]
        else:
            gh.files[".github/CODEOWNERS"] = text
    return breaks


def _forbid(path: str) -> Breakage:
    def breaks(gh: FakeGitHub) -> None:
        gh.forbidden.add(path)
    return breaks


# (the checks that must fail, what is wrong, how to make it so). Every check of CHECKS has at least one row.
BREAKAGES: list[tuple[str, str, Breakage]] = [
    ("observe-branches", "no observe environment", lambda gh: gh.environments.pop("observe")),
    ("observe-branches", "every branch deploys", _env("observe")),
    (
        "observe-branches",
        "protected branches deploy",
        _env("observe", protected_branches=True, custom_branch_policies=False),
    ),
    ("observe-branches", "a wildcard rule", _rule("observe", "*")),
    ("observe-branches", "a tag rule", _rule("observe", "main", "tag")),
    ("observe-branches", "its rules unreadable", _forbid("/environments/observe/deployment-branch-policies")),
    ("production-branches", "every branch deploys", _env("production")),
    ("production-branches", "a queue branch may deploy", _rule("production", "gh-readonly-queue/main/*")),
    ("production-reviewers", "no required reviewer", _no_reviewers),
    (
        "secrets-in-environments",
        "journal URL at repository level",
        lambda gh: gh.repo_secrets.append("RECONCILER_JOURNAL_URL"),
    ),
    (
        "secrets-in-environments",
        "the doctor's own token at repository level",
        lambda gh: gh.repo_secrets.append("RECONCILER_DOCTOR_TOKEN"),
    ),
    (
        "secrets-in-environments",
        "a broker key shared by the organisation",
        lambda gh: gh.org_secrets.append("ALPACA_API_KEY"),
    ),
    ("secrets-in-environments", "repository secrets unreadable", _forbid("/actions/secrets")),
    (
        "secrets-in-environments",
        "environment secrets unreadable",
        _forbid("/environments/production/secrets"),
    ),
    ("required-checks", "plan not required", _drop_rule("required_status_checks", "required_status_checks")),
    ("required-checks,code-owner-review", "rulesets unreadable", _forbid("/rules/")),
    (
        "required-checks",
        "branch protection unreadable and no ruleset",
        lambda gh: (gh.forbidden.add("/branches/main/protection"), gh.rules.pop(0)),
    ),
    (
        "code-owner-review",
        "code owners' review not required",
        _drop_rule("pull_request", "require_code_owner_review"),
    ),
    ("codeowners", "no CODEOWNERS", _codeowners(None)),
    (
        "codeowners",
        "policies/ not owned",
        _codeowners("/reconciler.yaml @acme/risk\n/portfolios/ @acme/team\n"),
    ),
    ("codeowners", "reconciler.yaml not owned", _codeowners("/policies/ @acme/risk\n")),
    ("codeowners", "CODEOWNERS unreadable", _forbid("/contents/")),
]


@pytest.fixture
def well(github: FakeGitHub) -> FakeGitHub:
    github.set_up_well()
    return github


def lines(out: str) -> dict[str, str]:
    """Each check's line, by its title."""
    titles = {c.title: c.name for c in CHECKS}
    found = {}
    for line in out.splitlines():
        for title, name in titles.items():
            if f"  {title}: " in line:
                found[name] = line.strip()
    return found


def test_every_check_is_broken_by_some_row() -> None:
    assert {c.name for c in CHECKS} == {name for names, _, _ in BREAKAGES for name in names.split(",")}


def test_a_repository_set_up_well_passes(workspace: Workspace, well: FakeGitHub) -> None:
    r = workspace.run("github", "doctor")
    assert r.code == 0, r.out + r.err
    assert all(line.startswith("PASS") for line in lines(r.out).values())
    assert len(lines(r.out)) == len(CHECKS)


@pytest.mark.parametrize(("check", "wrong", "breaks"), BREAKAGES, ids=[f"{c}:{w}" for c, w, _ in BREAKAGES])
def test_each_setting_wrong_fails_its_check(
    workspace: Workspace, well: FakeGitHub, check: str, wrong: str, breaks: Breakage
) -> None:
    breaks(well)
    r = workspace.run("github", "doctor")
    assert r.code == 1, r.out + r.err
    failed = {n for n, line in lines(r.out).items() if line.startswith("FAIL")}
    assert failed == set(check.split(",")), r.out
    assert well.token not in r.out + r.err


def test_a_failure_says_how_to_fix_it(workspace: Workspace, well: FakeGitHub) -> None:
    _env("observe")(well)
    r = workspace.run("github", "doctor")
    assert "fix: Settings → Environments → observe → Deployment branches and tags" in r.out


def test_a_setting_the_token_may_not_read_names_the_permissions(
    workspace: Workspace, well: FakeGitHub
) -> None:
    well.forbidden.add("/actions/secrets")
    r = workspace.run("github", "doctor")
    assert "cannot read repository secrets (HTTP 403)" in r.out
    assert "RECONCILER_DOCTOR_TOKEN" in r.out


def test_a_repository_nobody_set_up_fails(workspace: Workspace, github: FakeGitHub) -> None:
    """No environment, no protection, no CODEOWNERS: every check fails but the secrets one (there are
    none)."""
    r = workspace.run("github", "doctor")
    assert r.code == 1
    failed = {n for n, line in lines(r.out).items() if line.startswith("FAIL")}
    assert failed == {c.name for c in CHECKS} - {"secrets-in-environments"}


def test_the_token_is_never_printed_even_when_github_refuses_it(
    workspace: Workspace, well: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not-the-right-one-0123456789")
    r = workspace.run("github", "doctor", "--log-level", "debug")
    assert r.code == 1
    assert "ghp_not-the-right-one-0123456789" not in r.out + r.err


def test_without_a_token_it_says_which_secret_to_map(
    workspace: Workspace, well: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "")  # the secret RECONCILER_DOCTOR_TOKEN was never created
    r = workspace.run("github", "doctor")
    assert r.code == 1
    assert "RECONCILER_DOCTOR_TOKEN" in r.err
