"""Fixtures for the GitOps loop: a fake GitHub on loopback and a real git repository of the example
targets."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.gitops.fake_github import FakeGitHub, serve


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub, with the environment GitHub Actions would set pointing at it."""
    fake = FakeGitHub()
    server = serve(fake)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_REPOSITORY", fake.repo)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Git:
    """Real git commands in a temporary repository."""

    root: Path

    def __call__(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        }
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args], cwd=self.root, env=env, capture_output=True,
            text=True
        )
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def commit_all(self, message: str) -> str:
        self("add", "-A")
        self("commit", "-q", "-m", message)
        return self("rev-parse", "HEAD")

    def sha(self, ref: str) -> str:
        return self("rev-parse", ref)


@pytest.fixture
def git_repo(workspace: Workspace) -> Git:
    """The example workspace as a git repository with one commit on main (the journal is ignored, as in a
    clone)."""
    (workspace.root / ".gitignore").write_text(".reconciler/\n")
    git = Git(workspace.root)
    git("init", "-q", "-b", "main")
    git.commit_all("targets")
    return git
