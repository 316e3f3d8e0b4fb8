"""One sticky plan comment per pull request, and one drift issue per repository, kept up to date in place.

Both are found by a hidden HTML marker on their first line AND by their author being the token's own login
(`GitHub.login`: the login given, else `GET /user`, else GraphQL `viewer` for an installation token such as
the Actions GITHUB_TOKEN, which comments as github-actions[bot]). Anyone can paste the marker into a comment
or an issue, and the token may edit or delete anything in the repository: a marked comment or issue by someone
else is left alone (never updated, deleted or closed) and a warning says so once per run.

Every workflow of a repository comments as the same `github-actions[bot]`, so with a key
(RECONCILER_COMMENT_KEY, a secret only the plan job has) the plan comment is bound to this workflow too: its
marker carries the pull request's head commit and an HMAC-SHA256 of the pull request number, the comment's own
id, the head commit and the part number. Another workflow cannot sign, and a marker copied into another
comment names the wrong comment id, so neither is ever adopted, edited or deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from reconciler.core.drift import StatusReport
from reconciler.errors import ReconcilerError
from reconciler.gitops.github import GitHub

log = logging.getLogger("reconciler.github")
PART = re.compile(r"<!-- reconciler:plan(?: part=(\d+)/(\d+))?(?: head=([0-9a-f]{40}) sig=([0-9a-f]{64}))?"
                  r" -->")
COMMENT_KEY_ENV = "RECONCILER_COMMENT_KEY"


@dataclass(frozen=True)
class Seal:
    """Binds plan comments to the workflow holding `key`: the marker is signed for the pull request, the
    comment and the head commit it was written for."""

    key: bytes = field(repr=False)
    head: str

    def sign(self, number: int, comment_id: int, part: int, head: str | None = None) -> str:
        """The HMAC that proves a plan comment is ours, for this pull request, comment and head."""
        message = f"reconciler-plan:{number}:{comment_id}:{head or self.head}:{part}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def marker(self, number: int, comment_id: int, part: int, parts: int) -> str:
        """The hidden marker carrying the signature, put in the comment."""
        shown = f" part={part}/{parts}" if parts > 1 else ""
        return f"<!-- reconciler:plan{shown} head={self.head} sig={self.sign(number, comment_id, part)} -->"

    def verifies(self, number: int, comment: dict[str, Any]) -> bool:
        """Whether this comment's marker was signed with the key, for this pull request and this very
        comment."""
        found = PART.fullmatch(str(comment.get("body") or "").split("\n", 1)[0].strip())
        if found is None or found.group(3) is None:
            return False
        part = int(found.group(1) or 1)
        expected = self.sign(number, int(comment["id"]), part, head=found.group(3))
        return hmac.compare_digest(expected, found.group(4))
DRIFT_MARKER = "<!-- reconciler:drift -->"
DRIFT_LABEL = "reconciler-drift"


@dataclass
class StickyResult:
    """Which comments a run created, updated, left alone or deleted, for its log line."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: int = 0

    def describe(self) -> str:
        """What was done to the comments, in one line."""
        said = [f"{len(v)} {k}" for k, v in (("created", self.created), ("updated", self.updated),
                                               ("unchanged", self.unchanged)) if v]
        if self.deleted:
            said.append(f"{self.deleted} left over deleted")
        return ", ".join(said) or "nothing to do"


def part_of(body: str) -> int | None:
    """The part number a plan comment's marker says (1 for a single comment), or None for a body without
    one."""
    found = PART.fullmatch(body.split("\n", 1)[0].strip())
    return int(found.group(1) or 1) if found else None


def author(item: dict[str, Any]) -> str:
    """The login of a comment's or an issue's author ("" for a deleted account)."""
    user = item.get("user")
    return str(user.get("login") or "") if isinstance(user, dict) else ""


def written_by(item: dict[str, Any], login: str) -> bool:
    """Whether `login` wrote this comment or issue (logins are unique regardless of case)."""
    return bool(login) and author(item).casefold() == login.casefold()


def _leave_alone(what: str, others: list[dict[str, Any]], login: str, **fields: object) -> None:
    """Say once, in one warning, which marked comments or issues someone else wrote: they are never
    touched."""
    if others:
        log.warning(
            "left alone: %d %s carrying reconciler's marker but not written by %s (%s)", len(others), what,
            login,
            ", ".join(sorted({author(o) or "a deleted account" for o in others})),
            extra={**fields, "login": login, "authors": sorted({author(o) for o in others}),
                   "ids": [o.get("number", o.get("id")) for o in others]},
        )


def upsert_sticky(gh: GitHub, number: int, bodies: list[str], seal: Seal | None = None) -> StickyResult:
    """Make the pull request's plan comments equal `bodies`: update in place, create what is missing, delete
    extras.

    Only the token's own marked comments count as the plan's (with a seal: only those signed for this pull
    request and comment); anyone else's are left as they are.
    """
    me = gh.login()
    mine: dict[int, dict[str, Any]] = {}
    extras: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for c in sorted(gh.list_comments(number), key=lambda c: int(c["id"])):
        k = part_of(str(c.get("body") or ""))
        if k is None:
            continue
        if not written_by(c, me) or (seal is not None and not seal.verifies(number, c)):
            others.append(c)
        elif k in mine:  # two runs raced and both created: keep the oldest
            extras.append(c)
        else:
            mine[k] = c
    _leave_alone("comment(s)", others, me, pull_request=number)
    result = StickyResult()
    for k, body in enumerate(bodies, start=1):
        existing = mine.pop(k, None)
        if existing is None and seal is not None:
            # The signature covers the comment's id, which GitHub gives only on creation: create, then sign. A
            # comment left unsigned by a failure in between is never adopted; the next run creates another.
            made = gh.create_comment(number, body)
            signed = _sealed(body, seal.marker(number, int(made["id"]), k, len(bodies)))
            result.created.append(str(gh.update_comment(int(made["id"]), signed).get("html_url", "")))
            continue
        if existing is not None and seal is not None:
            body = _sealed(body, seal.marker(number, int(existing["id"]), k, len(bodies)))
        if existing is None:
            result.created.append(str(gh.create_comment(number, body).get("html_url", "")))
        elif existing.get("body") != body:
            result.updated.append(str(gh.update_comment(int(existing["id"]), body).get("html_url", "")))
        else:
            result.unchanged.append(str(existing.get("html_url", "")))
    for c in [*mine.values(), *extras]:  # the plan got shorter: fewer parts than last time
        gh.delete_comment(int(c["id"]))
        result.deleted += 1
    return result


def _sealed(body: str, marker: str) -> str:
    """The body with its first line (the plan marker) replaced by the signed marker."""
    return marker + "\n" + body.split("\n", 1)[1] if "\n" in body else marker


# ---- the apply result ----

APPLY_MARKER = "<!-- reconciler:apply -->"
MAX_COMMENT = 65_536  # GitHub's limit on a comment's body, in characters


def apply_result_body(summary: str, run_url: str | None) -> str:
    """The apply's job summary as the pull request's apply comment: marker first, a link to the run last."""
    link = f"\n\n[The apply run]({run_url})\n" if run_url else "\n"
    room = MAX_COMMENT - len(APPLY_MARKER) - len(link) - 80
    text = summary.strip()
    if len(text) > room:
        text = text[:room].rsplit("\n", 1)[0] + "\n\n… (cut: the rest is in the run's job summary)"
    return f"{APPLY_MARKER}\n{text}{link}"


def upsert_apply_result(gh: GitHub, number: int, body: str) -> StickyResult:
    """One apply comment per pull request, beside the plan comment (which stays as reviewed): a re-run of the
    apply job updates it in place. Only the token's own marked comments count."""
    me = gh.login()
    marked = [
        c for c in sorted(gh.list_comments(number), key=lambda c: int(c["id"]))
        if str(c.get("body") or "").split("\n", 1)[0].strip() == APPLY_MARKER
    ]
    mine = [c for c in marked if written_by(c, me)]
    _leave_alone("comment(s)", [c for c in marked if not written_by(c, me)], me, pull_request=number)
    result = StickyResult()
    if not mine:
        result.created.append(str(gh.create_comment(number, body).get("html_url", "")))
        return result
    first, *extras = mine
    if first.get("body") != body:
        result.updated.append(str(gh.update_comment(int(first["id"]), body).get("html_url", "")))
    else:
        result.unchanged.append(str(first.get("html_url", "")))
    for c in extras:  # two jobs raced and both created: keep the oldest
        gh.delete_comment(int(c["id"]))
        result.deleted += 1
    return result


# ---- the drift issue ----

def read_status(doc: object, where: str) -> list[dict[str, Any]]:
    """The portfolios of a `reconciler status --format json` document, checked against the model that wrote
    it."""
    try:
        report = StatusReport.model_validate(doc)
    except ValidationError:
        raise ReconcilerError(
            "not a status file", where=where, fix="pass the output of `reconciler status --format json`"
        ) from None
    return [row.model_dump(mode="json") for row in report.portfolios]


@dataclass(frozen=True)
class DriftOutcome:
    """What `github drift-issue` did to the drift issue."""

    action: str  # opened | updated | closed | none
    number: int | None = None
    url: str = ""

    def describe(self) -> str:
        """What was done to the drift issue, in one line."""
        if self.action == "none":
            return "no drift issue needed"
        return f"drift issue #{self.number} {self.action}" + (f": {self.url}" if self.url else "")


def sync_drift_issue(
    gh: GitHub, rows: list[dict[str, Any]], body: str, *, label: str = DRIFT_LABEL, now: datetime
) -> DriftOutcome:
    """Open or update one issue while any portfolio is OutOfSync; close it once every portfolio is Synced.

    Progressing (cash settling), Locked (an apply is running) and Unknown (not observed) neither open nor
    close it: an open issue is kept up to date until every portfolio is Synced, and none is opened for them.

    Only an issue the token itself opened counts; a marked and labelled issue by anyone else is left as it is.
    """
    me = gh.login()
    marked = [i for i in gh.list_issues(label=label) if str(i.get("body") or "").startswith(DRIFT_MARKER)]
    open_issues = [i for i in marked if written_by(i, me)]
    _leave_alone("issue(s)", [i for i in marked if not written_by(i, me)], me, label=label)
    issue = min(open_issues, key=lambda i: int(i["number"])) if open_issues else None
    out_of_sync = [r for r in rows if r["status"] == "OutOfSync"]
    synced = all(r["status"] == "Synced" for r in rows)
    if out_of_sync:
        title = f"reconciler: {len(out_of_sync)} portfolio(s) out of sync with their targets"
        if issue is None:
            made = gh.create_issue(title, body, [label])
            return DriftOutcome("opened", int(made["number"]), str(made.get("html_url", "")))
        if issue.get("body") != body or issue.get("title") != title:
            gh.update_issue(int(issue["number"]), title=title, body=body)
        return DriftOutcome("updated", int(issue["number"]), str(issue.get("html_url", "")))
    if issue is None:
        return DriftOutcome("none")
    # settling, locked or not observed: not back in sync yet, and nothing to alarm about either
    if not synced:
        if issue.get("body") != body:
            gh.update_issue(int(issue["number"]), body=body)
        return DriftOutcome("updated", int(issue["number"]), str(issue.get("html_url", "")))
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    rest = body.removeprefix(DRIFT_MARKER + "\n")
    closed_body = f"{DRIFT_MARKER}\n**Every portfolio is back in sync with its targets** ({stamp}).\n\n{rest}"
    gh.update_issue(int(issue["number"]), body=closed_body, state="closed", state_reason="completed")
    return DriftOutcome("closed", int(issue["number"]), str(issue.get("html_url", "")))
