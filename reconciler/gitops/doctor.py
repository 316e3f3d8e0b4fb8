"""`reconciler github doctor`: the repository settings the credential boundary rests on, read through the REST
API.

Nothing in git says that the `observe` and `production` environments deploy from the default branch only, that
`production` has required reviewers, that no repository or organisation secret of an environment secret's name
is readable by every workflow, that branch protection requires the plan check and code-owner review, or that
CODEOWNERS covers `reconciler.yaml` and `policies/`. The doctor reads each (docs/gitops.md, "A setup that
checks itself"), and a setting it cannot read is a failure, never a pass: the apply job refuses to run on one.

Reading is the shell (`read_setup`, one GitHub request per fact); the checks are pure functions of what was
read, listed once in CHECKS, each with the fix to print.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from reconciler.gitops.github import GitHub, GitHubError
from reconciler.gitops.overrides import CODEOWNERS_PLACES, CodeOwners

OBSERVE, PRODUCTION = "observe", "production"
REQUIRED_CHECKS = ("plan", "validate")
SECRET_NAMES = frozenset({
    "RECONCILER_JOURNAL_URL", "RECONCILER_COMMENT_KEY", "RECONCILER_PLAN_KEY", "RECONCILER_DOCTOR_TOKEN",
})
OWNED = ("reconciler.yaml", "policies/")  # what a pull request that loosens the rules changes
PERMISSIONS = (
    "the doctor's token needs read access to the repository's administration (branch protection),"
    " environments, secrets, actions and contents: a fine-grained token or a GitHub App token with those read"
    " permissions (the Actions GITHUB_TOKEN cannot read branch protection or secrets), in secret"
    " RECONCILER_DOCTOR_TOKEN"
)
DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Unreadable:
    """A setting GitHub would not show: it counts as wrong."""

    what: str
    said: str

    def __str__(self) -> str:
        return f"cannot read {self.what} ({self.said})"


@dataclass(frozen=True)
class Environment:
    """A deployment environment's protection, as the doctor reads it from GitHub."""

    name: str
    branch_policy: dict[str, Any] | None  # GitHub's deployment_branch_policy; None: every branch may deploy
    branches: list[dict[str, Any]] | Unreadable  # the custom branch policies, when there are
    reviewers: list[str]  # required reviewers (users and teams)
    secrets: list[str] | Unreadable


@dataclass(frozen=True)
class Setup:
    """Everything the checks look at, as GitHub answered it."""

    default_branch: str
    environments: dict[str, Environment | Unreadable]
    repo_secrets: list[str] | Unreadable
    org_secrets: list[str] | Unreadable
    protection: dict[str, Any] | Unreadable | None  # classic branch protection; None: none
    rules: list[dict[str, Any]] | Unreadable  # rulesets' rules on the default branch
    codeowners: tuple[str, str] | Unreadable | None  # (path, text) on the default branch


@dataclass(frozen=True)
class Finding:
    """One of the doctor's checks: passed or not, what it saw, and the fix."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """A named check of the repository's settings that the doctor runs."""

    name: str
    title: str
    run: Callable[[Setup], Finding]


@dataclass
class Report:
    """Every finding of the doctor; it passes only when all do."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(f.ok for f in self.findings)


# ---- reading (one request per fact; a refusal is recorded, not raised) ----

def _read(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except GitHubError as exc:
        if exc.status in (401, 403, 404):  # GitHub answers 404 for what exists but the token may not see, too
            return Unreadable(
                what,
                f"HTTP {exc.status}" + (": missing, or hidden from the token" if exc.status == 404 else ""),
            )
        raise


def _listed(gh: GitHub, path: str, key: str) -> list[dict[str, Any]]:
    """A list GitHub wraps in an object with its total_count, every page."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = gh.get(path, {"per_page": "100", "page": str(page)})
        items = data.get(key)
        if not isinstance(items, list):
            raise GitHubError(
                f"unexpected answer (no {key})", where=f"GET {path}", fix="check GITHUB_API_URL"
            )
        out += [i for i in items if isinstance(i, dict)]
        if not items or len(out) >= int(data.get("total_count", 0)):
            return out
        page += 1


def _environment(gh: GitHub, name: str) -> Environment | Unreadable:
    base = f"/repos/{gh.settings.repo}/environments/{quote(name, safe='')}"
    found = _read(f"environment {name}", lambda: gh.get(base, None))
    if isinstance(found, Unreadable):
        return found
    policy = found.get("deployment_branch_policy")
    branches: list[dict[str, Any]] | Unreadable = []
    if isinstance(policy, dict) and policy.get("custom_branch_policies"):
        branches = _read(f"{name}'s deployment branch policies",
                         lambda: _listed(gh, f"{base}/deployment-branch-policies", "branch_policies"))
    reviewers = [
        str((r.get("reviewer") or {}).get("login") or (r.get("reviewer") or {}).get("slug") or "?")
        for rule in found.get("protection_rules") or [] if rule.get("type") == "required_reviewers"
        for r in rule.get("reviewers") or []
    ]
    secrets = _read(
        f"{name}'s secrets", lambda: [s["name"] for s in _listed(gh, f"{base}/secrets", "secrets")]
    )
    return Environment(name, policy if isinstance(policy, dict) else None, branches, reviewers, secrets)


def _codeowners(gh: GitHub, branch: str) -> tuple[str, str] | Unreadable | None:
    for place in CODEOWNERS_PLACES:
        try:
            data = gh.get(f"/repos/{gh.settings.repo}/contents/{place}", {"ref": branch})
        except GitHubError as exc:
            if exc.status == 404:
                continue
            if exc.status in (401, 403):
                return Unreadable(place, f"HTTP {exc.status}")
            raise
        try:
            return place, base64.b64decode(str(data.get("content", "")), validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Unreadable(place, "not UTF-8 text")
    return None


def _protection(gh: GitHub, branch: str) -> dict[str, Any] | Unreadable | None:
    try:
        return gh.get(f"/repos/{gh.settings.repo}/branches/{quote(branch, safe='')}/protection", None)
    except GitHubError as exc:
        if exc.status == 404 and "not protected" in exc.message.lower():
            return None
        if exc.status in (401, 403, 404):
            return Unreadable(f"{branch}'s branch protection", f"HTTP {exc.status}")
        raise


def read_setup(gh: GitHub) -> Setup:
    """Read every setting the checks need (GitHub REST API, docs.github.com/rest)."""
    repo = gh.settings.repo
    branch = str(gh.get(f"/repos/{repo}", None).get("default_branch") or "main")
    secrets = f"/repos/{repo}/actions"
    return Setup(
        default_branch=branch,
        environments={name: _environment(gh, name) for name in (OBSERVE, PRODUCTION)},
        repo_secrets=_read(
            "repository secrets", lambda: [s["name"] for s in _listed(gh, f"{secrets}/secrets", "secrets")]
        ),
        org_secrets=_read(
            "organisation secrets shared with the repository",
            lambda: [s["name"] for s in _listed(gh, f"{secrets}/organization-secrets", "secrets")],
        ),
        protection=_protection(gh, branch),
        rules=_read(
            f"{branch}'s rulesets", lambda: gh.get_list(f"/repos/{repo}/rules/branches/{quote(branch)}")
        ),
        codeowners=_codeowners(gh, branch),
    )


# ---- the checks (pure) ----

def _env(setup: Setup, name: str) -> Environment | str:
    env = setup.environments.get(name)
    if env is None or isinstance(env, Unreadable):
        return str(env or f"no environment {name}")
    return env


def _branches_only_default(name: str) -> Callable[[Setup], Finding]:
    def check(setup: Setup) -> Finding:
        check_name = f"{name}-branches"
        fix = (f"Settings → Environments → {name} → Deployment branches and tags: \"Selected branches and"
               f" tags\", with the one rule `{setup.default_branch}` (a branch, no wildcard)")
        env = _env(setup, name)
        if isinstance(env, str):
            return Finding(check_name, False, env, f"create the environment {name}; " + fix)
        policy = env.branch_policy
        if policy is None:
            return Finding(check_name, False, "every branch may deploy to it, a pull request's own workflow"
                           " too", fix)
        if policy.get("protected_branches"):
            return Finding(check_name, False, "every protected branch may deploy to it, not only"
                           f" {setup.default_branch}", fix)
        if isinstance(env.branches, Unreadable):
            return Finding(check_name, False, str(env.branches), PERMISSIONS)
        rules = sorted(f"{b.get('type') or 'branch'}:{b.get('name')}" for b in env.branches)
        if rules != [f"branch:{setup.default_branch}"]:
            return Finding(
                check_name, False, f"its deployment branch rules are {', '.join(rules) or 'none'}", fix
            )
        return Finding(check_name, True, f"deploys from {setup.default_branch} only")
    return check


def _production_reviewers(setup: Setup) -> Finding:
    fix = "Settings → Environments → production → Required reviewers: name the people who approve an apply"
    env = _env(setup, PRODUCTION)
    if isinstance(env, str):
        return Finding("production-reviewers", False, env, fix)
    if not env.reviewers:
        return Finding("production-reviewers", False, "no required reviewer: an apply runs unapproved", fix)
    return Finding("production-reviewers", True, f"{', '.join(env.reviewers)} must approve each apply")


def _no_shadowing_secret(setup: Setup) -> Finding:
    """A repository or organisation secret is readable by every workflow, a pull request's own included."""
    name = "secrets-in-environments"
    env_secrets: set[str] = set(SECRET_NAMES)
    for env in setup.environments.values():
        if isinstance(env, Environment) and isinstance(env.secrets, Unreadable):
            return Finding(name, False, str(env.secrets), PERMISSIONS)
        if isinstance(env, Environment) and isinstance(env.secrets, list):
            env_secrets |= set(env.secrets)
    for level, listed in (("repository", setup.repo_secrets), ("organisation", setup.org_secrets)):
        if isinstance(listed, Unreadable):
            return Finding(name, False, str(listed), PERMISSIONS)
        shadow = sorted(env_secrets & set(listed))
        if shadow:
            return Finding(
                name, False,
                f"{level} secret(s) {', '.join(shadow)} share(s) a name with the environments' secrets:"
                " any workflow, a pull request's own included, can read them",
                f"delete them at {level} level (Settings → Secrets and variables → Actions) and keep them"
                " only in"
                " the observe and production environments",
            )
    return Finding(name, True, "no repository or organisation secret of an environment secret's name")


def _rules_of(setup: Setup, kind: str) -> list[dict[str, Any]] | Unreadable:
    if isinstance(setup.rules, Unreadable):
        return setup.rules
    return [dict(r.get("parameters") or {}) for r in setup.rules if r.get("type") == kind]


def _required_checks(setup: Setup) -> Finding:
    name = "required-checks"
    found: set[str] = set()
    protection = setup.protection
    if isinstance(protection, dict):
        status = protection.get("required_status_checks") or {}
        found |= set(status.get("contexts") or []) | {
            str(c.get("context")) for c in status.get("checks") or []
        }
    rules = _rules_of(setup, "required_status_checks")
    if not isinstance(rules, Unreadable):
        found |= {str(c.get("context")) for r in rules for c in r.get("required_status_checks") or []}
    missing = [c for c in REQUIRED_CHECKS if c not in found]
    if not missing:
        return Finding(name, True, f"{setup.default_branch} requires the checks {', '.join(REQUIRED_CHECKS)}")
    return _unprotected(
        name, setup, f"the checks {', '.join(missing)}", rules,
        f"require the status checks {', '.join(REQUIRED_CHECKS)} (Require status checks to pass)",
    )


def _code_owner_review(setup: Setup) -> Finding:
    name = "code-owner-review"
    protection = setup.protection
    classic = isinstance(protection, dict) and bool(
        (protection.get("required_pull_request_reviews") or {}).get("require_code_owner_reviews"))
    rules = _rules_of(setup, "pull_request")
    ruled = not isinstance(rules, Unreadable) and any(r.get("require_code_owner_review") for r in rules)
    if classic or ruled:
        return Finding(name, True, f"{setup.default_branch} requires code owners' review")
    return _unprotected(name, setup, "code owners' review", rules, "require review from Code Owners")


def _unprotected(name: str, setup: Setup, what: str, rules: object, fix: str) -> Finding:
    """The default branch does not require `what`, as far as branch protection and rulesets could be read."""
    unread = [str(x) for x in (setup.protection, rules) if isinstance(x, Unreadable)]
    return Finding(
        name, False, f"{setup.default_branch} does not require {what}"
        + (f" as far as could be read: {'; '.join(unread)}" if unread else ""),
        (PERMISSIONS + "; and " if unread else "") + f"{fix} on {setup.default_branch}, in a branch ruleset"
        " or its"
        " branch protection",
    )


def _codeowners_cover(setup: Setup) -> Finding:
    name = "codeowners"
    found = setup.codeowners
    if isinstance(found, Unreadable):
        return Finding(name, False, str(found), PERMISSIONS)
    if found is None:
        return Finding(name, False, f"no CODEOWNERS on {setup.default_branch}",
                       "copy .github/CODEOWNERS.example to .github/CODEOWNERS and name your owners")
    place, text = found
    owners = CodeOwners.parse(text)
    lines = {path: owners.owners(path if not path.endswith("/") else path + "x.rego") for path in OWNED}
    bare = [path for path, who in lines.items() if not who]
    if bare:
        return Finding(name, False, f"{place} names no owner for {', '.join(bare)}",
                       f"add to {place}: " + "; ".join(f"/{p} @your-org/reconciler-owners" for p in bare))
    return Finding(name, True, f"{place}: " + "; ".join(f"{p} → {' '.join(w)}" for p, w in lines.items()))


CHECKS: tuple[Check, ...] = (
    Check("observe-branches", "observe environment: default branch only", _branches_only_default(OBSERVE)),
    Check(
        "production-branches",
        "production environment: default branch only",
        _branches_only_default(PRODUCTION),
    ),
    Check("production-reviewers", "production environment: required reviewers", _production_reviewers),
    Check("secrets-in-environments", "secrets: in the environments only", _no_shadowing_secret),
    Check("required-checks", "branch protection: plan and validate required", _required_checks),
    Check("code-owner-review", "branch protection: code owners' review required", _code_owner_review),
    Check("codeowners", "CODEOWNERS: reconciler.yaml and policies/ owned", _codeowners_cover),
)


def diagnose(setup: Setup) -> Report:
    """Every check over what was read."""
    return Report([c.run(setup) for c in CHECKS])
