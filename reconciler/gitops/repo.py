"""Read the commit the working tree is at, with gitpython; outside a repository there is simply none."""

from __future__ import annotations

from pathlib import Path


def head_commit(path: Path, watched: list[Path] | None = None) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the repository containing `path`, or (None, None) outside one.

    `watched` limits "dirty" to the files that make the targets (config, portfolios, policies): a journal
    database or a plan file written inside the repository does not make a plan's targets uncommitted.
    """
    try:
        import git  # gitpython is slow to import; only plan needs it
    except ImportError:
        return None, None
    try:
        repo = git.Repo(path, search_parent_directories=True)
        sha = repo.head.commit.hexsha
        if watched is None:
            dirty = repo.is_dirty(untracked_files=True)
        else:
            top = Path(repo.working_tree_dir or path).resolve()
            inside = [str(w.resolve().relative_to(top)) for w in watched if w.resolve().is_relative_to(top)]
            dirty = any(repo.is_dirty(untracked_files=True, path=w) for w in inside)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
        return None, None
    return sha, dirty


def is_ancestor(path: Path, older: str, newer: str) -> bool | None:
    """Whether commit `older` is an ancestor of `newer` in the repository containing `path`; None when that
    cannot be told (no repository, or a commit missing from a shallow clone). A commit missing from a full
    clone is not in this history (it was rewritten): not an ancestor."""
    try:
        import git
    except ImportError:
        return None
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        return bool(repo.is_ancestor(repo.commit(older), repo.commit(newer)))
    except (ValueError, git.GitCommandError, git.BadName):
        try:
            shallow = repo.git.rev_parse("--is-shallow-repository").strip() == "true"
        except git.GitCommandError:
            return None
        return None if shallow else False

