"""The commits of main since the last applied one, what each changed, and the folder of their reviewed plans.

`reconciler github reviewed-plans` writes the folder (a manifest and one plan file per commit that has one);
`reconciler apply --envelope FOLDER` reads it. Both compute the sequence from git and the journal themselves,
so a commit the manifest does not list is a commit without a reviewed plan, never one that is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler import files, strict_json

# defined with every other error; importable here too
from reconciler.errors import SequenceError as SequenceError
from reconciler.gitops.refs import open_repo, resolve, targets_at
from reconciler.journal.commits import last_completed_commit
from reconciler.journal.store import Journal
from reconciler.workspace.loader import portfolio_hash

MANIFEST = "reviewed.json"
MAX_COMMITS = 200  # more unapplied merges than this is not a sequence to apply unattended
_SHA = re.compile(r"[0-9a-f]{40}")


_MANIFEST_FILE = files.Kind(
    "manifest", 16 * files.MIB, "write it with `reconciler github reviewed-plans --out FOLDER`", SequenceError
)


class ReviewedEntry(BaseModel):
    """One commit of the sequence: its pull request and the file of the plan reviewed on it, or why there is
    none."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    commit: str
    pr: int | None = None
    plan: str | None = None  # a file name inside the folder
    why: str = ""


class ReviewedManifest(BaseModel):
    """The reviewed plans fetched for apply on merge, with the commits they belong to."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    tip: str
    since: str | None
    commits: list[ReviewedEntry]


def unapplied(journal: Journal, root: Path, tip: str = "HEAD") -> tuple[str | None, str, list[str]]:
    """(last commit applied in full, the tip's sha, the first-parent commits after the one up to the
    other)."""
    last = last_completed_commit(journal)
    head = resolve(open_repo(root), tip)
    since = last.commit if last is not None else None
    return since, head, sequence(root, since, head)


def sequence(root: Path, since: str | None, tip: str = "HEAD") -> list[str]:
    """First-parent commits after `since` up to `tip`, oldest first; just the tip when nothing was applied yet
    (or the tip itself was, when a re-run checks it again)."""
    repo = open_repo(root)
    head = resolve(repo, tip)
    if since is None or since == head:
        return [head]
    import git

    try:
        older = bool(repo.is_ancestor(repo.commit(since), repo.commit(head)))
    except (ValueError, git.GitCommandError, git.BadName, git.BadObject):
        raise SequenceError(
            f"the last applied commit {since[:12]} is not in this history", where=f"commit {since[:12]}",
            fix="check out the full history (actions/checkout with fetch-depth: 0); if main was rewritten,"
            " apply by hand after checking the accounts",
        ) from None
    if not older:
        raise SequenceError(
            f"the last applied commit {since[:12]} is not an ancestor of {head[:12]}: main's history was"
            " rewritten,"
            " or this is not main", where=f"commit {head[:12]}",
            fix="apply the tip of main; if main was rewritten, check the accounts and apply by hand",
        )
    commits = str(repo.git.rev_list("--first-parent", "--reverse", f"{since}..{head}")).split()
    if len(commits) > MAX_COMMITS:
        raise SequenceError(
            f"{len(commits)} commits were merged since the last applied commit {since[:12]}; at most"
            f" {MAX_COMMITS}"
            " are applied in one sequence", where=f"commit {head[:12]}",
            fix="find out why applies stopped, then apply from a shell with a plan reviewed for the tip",
        )
    return commits


def changed_portfolios(config_path: Path, commit: str) -> frozenset[str]:
    """Portfolios whose resolved targets `commit` changed against its first parent (all of them at a root
    commit)."""
    after = {p.name: portfolio_hash(p) for p in targets_at(config_path, commit).portfolios}
    repo = open_repo(config_path.resolve().parent)
    parents = repo.commit(commit).parents
    if not parents:
        return frozenset(after)
    before = {p.name: portfolio_hash(p) for p in targets_at(config_path, parents[0].hexsha).portfolios}
    return frozenset(n for n in set(before) | set(after) if before.get(n) != after.get(n))


def read_manifest(folder: Path) -> ReviewedManifest:
    """The manifest `github reviewed-plans` wrote, checked: plan files stay inside the folder."""
    path = folder / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise SequenceError(
            f"no {MANIFEST} in the folder", where=str(folder),
            fix="write the folder with `reconciler github reviewed-plans --out FOLDER`, or pass a plan file",
        )
    text = files.read_text(path, _MANIFEST_FILE)  # regular, bounded, UTF-8: named on the command line
    # the one strict JSON reader, as for plan and status files: a duplicated key is refused, never resolved
    try:
        manifest = ReviewedManifest.model_validate(strict_json.loads(text))
    except (strict_json.JSONError, ValidationError) as exc:
        raise SequenceError(
            f"cannot read the manifest: {str(exc).splitlines()[0]}", where=str(path),
            fix="write it again with `reconciler github reviewed-plans --out FOLDER`",
        ) from None
    for entry in manifest.commits:
        if not _SHA.fullmatch(entry.commit) or (
            entry.plan is not None and not re.fullmatch(r"[\w.-]+", entry.plan)
        ):
            raise SequenceError(
                f"the manifest names {entry.commit!r} / {entry.plan!r}", where=str(path),
                fix="write it again with `reconciler github reviewed-plans --out FOLDER`",
            )
    return manifest


def write_manifest(folder: Path, manifest: ReviewedManifest) -> Path:
    """Write the reviewed plans' manifest next to them, for apply on merge to check what it applies against.
    Write the reviewed plans' manifest next to them, for apply on merge to check what it applies against."""
    path = folder / MANIFEST
    files.write_text(path, manifest.model_dump_json(indent=2) + "\n", _MANIFEST_FILE, "--out", parents=True)
    return path
