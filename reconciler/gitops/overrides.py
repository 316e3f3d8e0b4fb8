"""Overriding a soft-mandatory denial as a reviewed act: `/reconciler override POLICY: reason` on the pull
request.

The plan job reads the pull request's comments; a line `/reconciler override max_turnover: reason` counts when
its author is a code owner of the policy's file in the default branch's CODEOWNERS (the pull request's own
CODEOWNERS is never read: it could name its author). Teams are asked of GitHub (`GET
/orgs/{org}/teams/{slug}/memberships/ {login}`); a team the token may not read counts as not allowed. Accepted
overrides are recorded in the reviewed plan with who, why and where; the rest are listed with the reason they
were refused. Apply on merge honours the reviewed plan's overrides, and the journal records them
(docs/gitops.md, "Overriding a soft-mandatory denial").
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler.core.models import Override
from reconciler.errors import ReconcilerError
from reconciler.gitops.github import GitHub, GitHubError
from reconciler.workspace.yamlpos import read_text

COMMAND = re.compile(r"^/reconciler override ([A-Za-z0-9_.-]+)\s*:\s*(\S.*?)\s*$", re.MULTILINE)
CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's order of precedence


class OverridesFile(BaseModel):
    """What `github overrides` writes and `plan --overrides` / `github comment --overrides` read."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    pull_request: int
    accepted: list[Override]
    refused: list[str]


@dataclass(frozen=True)
class CodeOwners:
    """CODEOWNERS rules, in file order; the last rule matching a path names its owners."""

    rules: list[tuple[str, list[str]]]

    @classmethod
    def parse(cls, text: str) -> CodeOwners:
        """Read a CODEOWNERS file."""
        rules = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                pattern, *owners = line.split()
                rules.append((pattern, owners))
        return cls(rules)

    def owners(self, path: str) -> list[str]:
        """The owners of a path (the last matching rule wins, as on GitHub)."""
        found: list[str] = []
        for pattern, owners in self.rules:
            if _matches(pattern, path):
                found = owners
        return found


def _matches(pattern: str, path: str) -> bool:
    """gitignore-style matching, as CODEOWNERS uses it: `/x` anchored, `x/` a folder and what is below it."""
    anchored = pattern.startswith("/")
    pat = pattern.strip("/")
    folder = pattern.endswith("/")
    # An unanchored name without a slash matches at any depth; anything else from the repository's root.
    depth = path.count("/")
    candidates = [path] if anchored or "/" in pat else [path.split("/", i)[-1] for i in range(depth + 1)]
    for candidate in candidates:
        if folder and (candidate.startswith(pat + "/") or fnmatch.fnmatch(candidate.split("/")[0], pat)):
            return True
        if not folder and (fnmatch.fnmatch(candidate, pat) or candidate.startswith(pat + "/")):
            return True
    return False


def read_codeowners(root: Path) -> CodeOwners:
    """The trusted checkout's CODEOWNERS; none is an error (no one could override)."""
    for place in CODEOWNERS_PLACES:
        if (root / place).is_file():
            return CodeOwners.parse(read_text(root / place))
    raise ReconcilerError(
        "no CODEOWNERS file: nobody may override a policy", where=str(root),
        fix="add .github/CODEOWNERS (see .github/CODEOWNERS.example) naming the owners of the policies",
    )


def _allowed(gh: GitHub, login: str, owners: list[str]) -> tuple[bool, str]:
    for owner in owners:
        name = owner.removeprefix("@")
        if "/" not in name:
            if name.casefold() == login.casefold():
                return True, owner
            continue
        org, team = name.split("/", 1)
        try:
            membership = gh.team_membership(org, team, login)
        except GitHubError as exc:
            if exc.status in (403, 404):
                continue  # not a member, or a team the token may not read: not allowed
            raise
        if membership.get("state") == "active":
            return True, owner
    return False, ""


def find_overrides(
    gh: GitHub, number: int, codeowners: CodeOwners, policies_dir: str, overridable: list[str]
) -> OverridesFile:
    """Every override command on the pull request, accepted (by a code owner of the policy's file, of a
    soft-mandatory policy) or refused, with why."""
    accepted: dict[str, Override] = {}
    refused: list[str] = []
    for comment in sorted(gh.list_comments(number), key=lambda c: int(c["id"])):
        body = str(comment.get("body") or "")
        login = str((comment.get("user") or {}).get("login") or "")
        for policy, reason in COMMAND.findall(body):
            path = f"{policies_dir.strip('/')}/{policy}.rego"
            if policy not in overridable:
                refused.append(
                    f"{policy} by @{login or 'a deleted account'}: not a soft-mandatory policy (overridable:"
                    f" {', '.join(overridable) or 'none'})"
                )
                continue
            owners = codeowners.owners(path)
            ok, _ = _allowed(gh, login, owners) if login else (False, "")
            if not ok:
                who = ", ".join(owners) or "nobody"
                refused.append(f"{policy} by @{login or 'a deleted account'}: not a code owner of {path}"
                               f" ({who})")
                continue
            accepted[policy] = Override(  # a later override of the same policy replaces the earlier one
                policy=policy, reason=reason, login=login, source=str(comment.get("html_url", "")),
                pull_request=number,
            )
    return OverridesFile(pull_request=number, accepted=sorted(accepted.values(), key=lambda o: o.policy),
                         refused=refused)


def read_overrides(path: Path) -> OverridesFile:
    """The file `github overrides --out` wrote."""
    try:
        return OverridesFile.model_validate_json(read_text(path, "write it with `reconciler github"
                                                           " overrides`"))
    except ValidationError as exc:
        raise ReconcilerError(
            f"not an overrides file: {str(exc).splitlines()[0]}", where=str(path),
            fix="write it with `reconciler github overrides --pr N --out FILE`",
        ) from None
