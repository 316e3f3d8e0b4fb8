"""The valid workspace the proof mutates, and a harness that runs the CLI on it in process, case after case.

Small on purpose (two portfolios, one through a model; static and CSV prices; two policies): a case costs one
CLI run, and thousands run per CI job. Each case starts from the template restored in place (every file
compared, anything else removed) and a fresh journal copied from one migrated once, so a case never sees
another's state.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from reconciler.cli.main import main
from reconciler.journal.store import Journal

CONFIG = """\
apiVersion: reconciler.dev/v1
kind: Config
portfolios_dir: portfolios
journal:
  url: sqlite:///journal.db
broker:
  kind: paper
  prices:
    csv: prices.csv
    static:
      VTI: {price: 289.41, previous_close: 288.90}
      BND: {price: 72.85, previous_close: 72.80}
  accounts:
    acct-a:
      cash: 10000
    acct-b:
      cash: 500
      positions: {VTI: 20, GLD: 10}
policies:
  dir: policies
  params:
    max_order_fraction: 0.9
    max_turnover: 2.0
    deny_symbols: [XOM]
apply:
  max_plan_age_seconds: 86400   # a long local run applies the plan made at its start
"""

PORTFOLIO_A = """\
apiVersion: reconciler.dev/v1
kind: Portfolio
metadata:
  name: alpha
  description: direct targets
spec:
  account: acct-a
  targets:
    VTI: 0.6
    BND: 0.4
"""

PORTFOLIO_B = """\
apiVersion: reconciler.dev/v1
kind: Portfolio
metadata:
  name: beta
spec:
  account: acct-b
  model: mixed
"""

MODEL = """\
apiVersion: reconciler.dev/v1
kind: Model
metadata:
  name: mixed
spec:
  targets:
    VTI: 0.5
    GLD: 0.3
    BND: 0.2
"""

PRICES = """\
date,GLD
2024-01-02,240.00
2024-01-03,241.75
2024-01-04,243.10
"""

KILL_SWITCH = """\
package reconciler.kill_switch

import rego.v1

deny contains msg if {
	some a in input.actions
	a.price <= 0
	msg := sprintf("%s price is %v", [a.symbol, a.price])
}
"""

DENY_LIST = """\
package reconciler.deny_list

import rego.v1

deny contains msg if {
	some a in input.actions
	a.symbol in input.params.deny_symbols
	msg := sprintf("%s is on the deny list", [a.symbol])
}
"""

TEMPLATE: dict[str, str] = {
    "reconciler.yaml": CONFIG,
    "portfolios/alpha.yaml": PORTFOLIO_A,
    "portfolios/beta.yaml": PORTFOLIO_B,
    "portfolios/models/mixed.yaml": MODEL,
    "prices.csv": PRICES,
    "policies/kill_switch.rego": KILL_SWITCH,
    "policies/deny_list.rego": DENY_LIST,
}
# Portfolio -> account, and which symbols each holds or targets (a quote of one of them concerns the
# portfolio).
ACCOUNTS = {"alpha": "acct-a", "beta": "acct-b"}
SYMBOLS = {"alpha": frozenset({"VTI", "BND"}), "beta": frozenset({"VTI", "GLD", "BND"})}
# outside the template: the plan the plan-file axes edit, made from the template
PLAN_FILE = "saved-plan.json"
HANG_SECONDS = 60.0

APPLY = ("apply", "--auto-approve")
APPLY_PLAN = ("apply", PLAN_FILE, "--auto-approve")

Orders = dict[str, list[tuple[str, str, str]]]  # account -> sorted (symbol, side, quantity)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    sent: Orders
    hung: bool


@dataclass(frozen=True)
class Mutation:
    """One edit of the workspace, what it may change, and the command the case runs."""

    axis: str
    label: str  # what was done, shown when the invariant fails
    edit: Callable[[Path], None] = field(repr=False)
    affected: frozenset[str]
    command: tuple[str, ...] = APPLY
    # the edit means nothing (a comment, a quoted key): the outcome must be the unmutated one
    same: bool = False


@dataclass(frozen=True)
class Axis:
    name: str
    section: str  # of issue 19
    files: tuple[str, ...]
    strategy: st.SearchStrategy[Mutation]


class Harness:
    """One workspace folder restored before every case, and a folder of per-case journals."""

    def __init__(self, base: Path) -> None:
        self.root = base / "ws"
        self.journals = base / "journals"
        self.journals.mkdir(parents=True)
        self.plan_bytes = b""  # set once the reference plan is made: restored like a template file after that
        self.restore()
        self.template_journal = self.journals / "template.db"
        Journal.open(f"sqlite:///{self.template_journal}").engine.dispose()  # migrated once, copied per case
        self._n = 0

    def restore(self) -> None:
        """Make the folder the template again, whatever the last case made of it (links, FIFOs, folders)."""
        wanted = {self.root / rel: text.encode() for rel, text in TEMPLATE.items()}
        if self.plan_bytes:
            wanted[self.root / PLAN_FILE] = self.plan_bytes
        for path in sorted(_walk(self.root), key=lambda p: len(p.parts), reverse=True):
            if path in wanted and _same_file(path, wanted[path]):
                continue
            if path.is_dir() and not path.is_symlink():
                if path in wanted or not any(w.is_relative_to(path) for w in wanted):
                    shutil.rmtree(path)
                continue
            path.unlink()
        for path, data in wanted.items():
            if not _is_plain_file(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

    def run(self, *argv: str) -> Outcome:
        """The CLI on the workspace, in process, with a fresh journal; what it said and what reached the
        broker."""
        self._n += 1
        journal = self.journals / f"case-{self._n}.db"
        shutil.copyfile(self.template_journal, journal)
        argv = tuple(str(self.root / a) if a == PLAN_FILE else a for a in argv)
        out, err = io.StringIO(), io.StringIO()
        with _watchdog(self.root) as hung, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(self.root / "reconciler.yaml"), "--journal", f"sqlite:///{journal}",
                         "--no-color", *argv])
        sent = _sent(journal)
        for leftover in self.journals.glob(f"case-{self._n}.db*"):
            leftover.unlink()
        return Outcome(code, out.getvalue(), err.getvalue(), sent, bool(hung))


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(dirpath) / name


def _is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def _same_file(path: Path, data: bytes) -> bool:
    """A regular file holding these bytes (its size compared first: a case may leave a sparse 512 MiB
    file)."""
    info = path.lstat()
    return stat.S_ISREG(info.st_mode) and info.st_size == len(data) and path.read_bytes() == data


def _sent(journal: Path) -> Orders:
    """Every order the paper broker received, by account (its books live in the journal database)."""
    db = sqlite3.connect(journal)
    try:
        rows = db.execute("select account, symbol, side, quantity from paper_orders").fetchall()
    finally:
        db.close()
    orders: Orders = {}
    for account, symbol, side, quantity in rows:
        orders.setdefault(account, []).append((symbol, side, str(quantity)))
    return {a: sorted(o) for a, o in orders.items()}


@contextlib.contextmanager
def _watchdog(root: Path) -> Iterator[list[bool]]:
    """A run that blocks (reading a FIFO the workspace holds) is a failure, not a stuck suite: after
    HANG_SECONDS every FIFO in the workspace is opened for writing and closed, which ends any read waiting on
    one."""
    hung: list[bool] = []

    def release() -> None:
        hung.append(True)
        for path in _walk(root):
            with contextlib.suppress(OSError):
                if stat.S_ISFIFO(path.lstat().st_mode):
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(HANG_SECONDS, release)
    timer.start()
    try:
        yield hung
    finally:
        timer.cancel()
