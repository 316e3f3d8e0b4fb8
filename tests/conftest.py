"""Shared fixtures: a real workspace on disk (copied from the repository's examples) and the CLI."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli.main import main

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Workspace:
    """A copy of the example repository in a temporary folder, with its own SQLite journal."""

    root: Path
    run: Callable[..., CliResult]

    @property
    def config(self) -> Path:
        return self.root / "reconciler.yaml"

    @property
    def journal(self) -> Path:
        return self.root / ".reconciler" / "journal.db"

    def paper_order_count(self) -> int:
        """Orders the paper broker received (its books live in the journal database)."""
        if not self.journal.exists():
            return 0
        with sqlite3.connect(self.journal) as db:
            if not db.execute("select 1 from sqlite_master where name='paper_orders'").fetchone():
                return 0
            return int(db.execute("select count(*) from paper_orders").fetchone()[0])


@pytest.fixture
def workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "reconciler.yaml", root / "reconciler.yaml")
    shutil.copytree(REPO / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(["--config", str(root / "reconciler.yaml"), "--no-color", *argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return Workspace(root=root, run=run)
