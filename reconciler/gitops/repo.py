"""Read the commit the working tree is at, with gitpython; outside a repository there is simply none."""

from __future__ import annotations

from pathlib import Path


def head_commit(path: Path) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the repository containing `path`, or (None, None) outside one."""
    try:
        import git  # gitpython is slow to import; only plan needs it
    except ImportError:
        return None, None
    try:
        repo = git.Repo(path, search_parent_directories=True)
        sha = repo.head.commit.hexsha
        dirty = repo.is_dirty(untracked_files=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
        return None, None
    return sha, dirty
