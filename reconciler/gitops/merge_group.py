"""A merge queue's batch, read as data: which pull request each commit of the queue's temporary branch comes
from, and the plan plan.yml reviewed on it (docs/gitops.md, "Merge queues").

GitHub's merge queue builds a temporary branch (`gh-readonly-queue/<base>/…`) with one commit per queued pull
request on top of the base branch, requires its checks on the branch's tip, then moves the base branch to it.
Each commit names its pull request as GitHub writes it: "Merge pull request #N from …" (merge commits, whose
second parent is the pull request's head) or "… (#N)" (squash). The pull request is asked of GitHub: open,
into the queue's base branch, and for a merge commit its head must be the commit's second parent. Its reviewed
plan is found like apply on merge finds it (reviewed.reviewed_entry: plan.yml on pull_request_target, digest
checked).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from reconciler.gitops.github import GitHub, GitHubError
from reconciler.gitops.refs import open_repo
from reconciler.gitops.reviewed import reviewed_entry
from reconciler.gitops.sequence import ReviewedEntry, ReviewedManifest, sequence, write_manifest

_MERGED = re.compile(r"^Merge pull request #(\d+) from \S+")
_SQUASHED = re.compile(r"\(#(\d+)\)$")


def pull_number(subject: str) -> int | None:
    """The pull request a queue commit's subject names, as GitHub writes it for a merge or a squash."""
    found = _MERGED.match(subject) or _SQUASHED.search(subject.strip())
    return int(found.group(1)) if found else None


def fetch_batch(
    gh: GitHub, root: Path, base: str, head: str, base_branch: str, out: Path,
    say: Callable[[str], None] = lambda _: None,
) -> ReviewedManifest:
    """Every commit of the batch (first parents after `base` up to `head`) with its reviewed plan, kept in
    `out` in the folder format `apply --envelope FOLDER` reads."""
    repo = open_repo(root)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for sha in sequence(root, base, head):
        commit = repo.commit(sha)
        subject = str(commit.message).splitlines()[0] if commit.message else ""
        entry = _entry(gh, sha, pull_number(subject), [p.hexsha for p in commit.parents], base_branch, out)
        say(f"{sha[:12]} " + (f"#{entry.pr} " if entry.pr else "") + (entry.plan or "no reviewed plan:"
            f" {entry.why}"))
        entries.append(entry)
    manifest = ReviewedManifest(tip=head, since=base, commits=entries)
    write_manifest(out, manifest)
    return manifest


def _entry(
    gh: GitHub, sha: str, number: int | None, parents: list[str], base_branch: str, out: Path
) -> ReviewedEntry:
    if number is None:
        return ReviewedEntry(commit=sha, why="its message names no pull request (not a commit the merge queue"
                             " made)")
    try:
        pull = gh.pull(number)
    except GitHubError as exc:
        if exc.status == 404:
            return ReviewedEntry(commit=sha, why=f"its message names pull request #{number}, which does not"
                                 " exist")
        raise
    head = str((pull.get("head") or {}).get("sha") or "")
    into = str((pull.get("base") or {}).get("ref") or "")
    if pull.get("state") != "open" or into != base_branch:
        return ReviewedEntry(commit=sha, why=f"pull request #{number} is not an open pull request into"
                             f" {base_branch}")
    if len(parents) == 2 and parents[1] != head:
        return ReviewedEntry(
            commit=sha,
            why=f"its second parent {parents[1][:12]} is not pull request #{number}'s head {head[:12]}",
        )
    return reviewed_entry(gh, sha, number, head, out)
