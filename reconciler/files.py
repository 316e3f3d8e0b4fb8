"""The one gate for files: every file the product reads or writes goes through `read_bytes`/`read_text` and
`write_text`/`write_bytes` here (tests/test_files_gate.py walks the package's AST to keep it so).

Reading takes a regular file only (a FIFO would block, a device never ends, a socket is not a file), under a
size cap per kind, decoded once. Where a file is reached matters:

- a path the user names on the command line (`-c`, a plan file, `--prices`, `--seed`, `--summary`) may be
  anywhere and may be a symbolic link: the user chose it;
- a path the product finds on its own (named in reconciler.yaml, found by walking `portfolios_dir` or
  `policies.dir`) is read only when it resolves, symbolic links followed, inside the workspace
  (reconciler.yaml's folder): a portfolio that links to /proc/self/environ or ~/.aws/credentials is refused,
  not read.

Writing is atomic (a temporary file in the target's folder, renamed over it), and refuses a target that is a
folder, a FIFO, a device, a socket or a symbolic link (renaming over a link would replace the link, not write
where it points). `check_writable` runs the same checks without writing, so `apply` can refuse an output it
could not write before it sends its first order.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import FileError, PlanFileError, PolicyFileError, ReconcilerError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """What a file is for: its name in messages, its size cap, the error it raises and the usual fix."""

    name: str
    max_bytes: int
    fix: str
    error: type[ReconcilerError] = FileError


# Caps: each is far above any real file of its kind and far below what would exhaust memory.
CONFIG = Kind("configuration file", 10 * MIB, "pass the reconciler.yaml of your repository (-c FILE)")
PORTFOLIO = Kind("portfolio file", 10 * MIB, "a portfolio or model file is a few KB: check that this is the"
                 " right file")
YAML = Kind("file", 10 * MIB, "pass a YAML file")
POLICY = Kind(
    "policy file", 4 * MIB, "a Rego policy is a few KB: check the files in policies.dir", PolicyFileError
)
# A plan of 1,000 accounts with 10 orders each is about 40 MB.
PLAN = Kind("plan file", 256 * MIB, "pass the file `reconciler plan --out FILE` wrote", PlanFileError)
PRICES = Kind("price file", 512 * MIB, "pass a CSV or Parquet file of daily closes")
LOTS = Kind("lots file", 64 * MIB, "pass a CSV of symbol,acquired,quantity,cost_basis"
            " (docs/configuration.md)")
SEED = Kind("emulator file", 10 * MIB, "pass a YAML or JSON file (see reconciler/emulator/faults.py)")
SUMMARY = Kind("summary file", 16 * MIB, "pass the file `reconciler apply --summary-file FILE` wrote")
STATUS = Kind("status file", 64 * MIB, "pass the output of `reconciler status --format json --out FILE`")
REPORT = Kind("report", 512 * MIB, "choose a writable path")
SCHEMA = Kind("schema", 10 * MIB, "choose a writable folder")
BODIES = Kind("broker bodies file", 64 * MIB, "choose a writable path for --broker-bodies, or a new file")
PROC = Kind("process status", 64 * 1024, "none: a process's /proc entry")  # /proc/PID/stat, to tell a zombie
# written to a temporary folder
EXTRACTED = Kind("file at a git ref", 64 * MIB, "check the files at that ref")


def _fail(kind: Kind, message: str, where: Path | str, fix: str | None = None) -> ReconcilerError:
    return kind.error(message, where=str(where), fix=fix or kind.fix)


def workspace_of(config_folder: Path) -> Path:
    """The workspace a configuration's files must stay in: the git repository that holds reconciler.yaml (so
    an example's `policies.dir: ../../policies` shares the repository's rules), else reconciler.yaml's own
    folder. A proposal's `policies.dir` is held inside the repository where it is read from git
    (workspace/loader)."""
    folder = Path(os.path.realpath(config_folder))
    return next((d for d in (folder, *folder.parents) if (d / ".git").exists()), folder)


def inside(path: Path, workspace: Path, kind: Kind) -> Path:
    """The path with every symbolic link resolved, refused unless it stays inside the workspace."""
    real = Path(os.path.realpath(path))
    top = Path(os.path.realpath(workspace))
    if real != top and top not in real.parents:
        raise _fail(
            kind, f"resolves to {real}, outside the workspace {top}", path,
            fix="keep the files reconciler.yaml names inside its repository, or its folder outside one (a"
            " symbolic link must point inside it too)",
        )
    return real


def _os_error(exc: OSError, kind: Kind, path: Path, missing_fix: str | None) -> ReconcilerError:
    if isinstance(exc, FileNotFoundError):
        return _fail(kind, f"{kind.name} not found", path, missing_fix or "create it or pass the right path")
    if isinstance(exc, IsADirectoryError):
        return _fail(kind, "this is a folder, not a file", path, "give the file's path")
    if isinstance(exc, PermissionError):
        return _fail(kind, "cannot read file: permission denied", path, "make it readable by this user"
                     " (chmod)")
    return _fail(kind, f"cannot read file: {exc.strerror or exc}", path)


def read_bytes(
    path: Path, kind: Kind, *, workspace: Path | None = None, missing_fix: str | None = None
) -> bytes:
    """The bytes of a regular file of at most `kind.max_bytes`; inside `workspace` (links resolved) when
    given."""
    target = inside(path, workspace, kind) if workspace is not None else path
    try:
        _regular(os.stat(target), kind, path)  # before opening: opening a FIFO blocks, a tape rewinds
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        try:
            _regular(os.fstat(fd), kind, path)  # what was opened, should the path have changed in between
            chunks: list[bytes] = []
            size = 0
            while size <= kind.max_bytes:
                chunk = os.read(fd, min(MIB, kind.max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, kind, path, missing_fix) from None
    if size > kind.max_bytes:  # grew while read
        raise _too_big(size, kind, path)
    return b"".join(chunks)


def _regular(info: os.stat_result, kind: Kind, path: Path) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise _fail(kind, "this is a folder, not a file", path, "give the file's path")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(kind, "not a regular file (a device, FIFO or socket)", path)
    if info.st_size > kind.max_bytes:
        raise _too_big(info.st_size, kind, path)


def _too_big(size: int, kind: Kind, path: Path) -> ReconcilerError:
    return _fail(kind, f"{kind.name} is {size:,} bytes, above the {kind.max_bytes:,}-byte limit", path)


def read_text(
    path: Path, kind: Kind, *, workspace: Path | None = None, missing_fix: str | None = None
) -> str:
    """A regular file's UTF-8 text (see read_bytes), decoded once."""
    data = read_bytes(path, kind, workspace=workspace, missing_fix=missing_fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            kind, f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})", path,
            "save it as UTF-8 text"
        ) from None


def check_writable(path: Path, kind: Kind, option: str) -> None:
    """Refuse, without writing, an output `write_bytes` would refuse or could not write: a folder, FIFO,
    device, socket or symbolic link, or a folder that does not exist or is not writable."""
    where = str(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _fail(
            kind, f"cannot write {option}: {exc.strerror or exc}", where,
            f"choose a writable path for {option}"
        ) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise _fail(kind, f"this is a folder; {option} takes a file name", where, f"use {path / 'out'}")
        if stat.S_ISLNK(info.st_mode):
            raise _fail(
                kind, f"{option} is a symbolic link (writing would replace the link)", where,
                "name the file it points to, or another file",
            )
        if not stat.S_ISREG(info.st_mode):
            raise _fail(
                kind, f"{option} is not a regular file (a device, FIFO or socket)", where,
                "name a regular file"
            )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise _fail(
            kind, f"cannot write {option}: the folder does not exist", where,
            f"create {folder} or choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _fail(
            kind, f"cannot write {option}: the folder is not writable (permission denied)", where,
            f"choose a writable path for {option}",
        )


def write_bytes(
    path: Path, data: bytes, kind: Kind, option: str, *, append: bool = False, parents: bool = False
) -> None:
    """Write atomically: a temporary file in the target's folder, renamed over it, so no reader ever sees half
    a file. With `append`, the new file is the old content followed by `data` (the old read through the gate);
    with `parents`, missing folders are created first."""
    if parents and not path.parent.is_dir() and not path.parent.is_symlink():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(
                kind, f"cannot write {option}: {exc.strerror or exc}", path,
                f"choose a writable path for {option}"
            ) from None
    check_writable(path, kind, option)
    if append and path.exists():
        data = read_bytes(path, kind) + data
    folder = path.parent if str(path.parent) else Path(".")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)  # keep the old file's permissions
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise _fail(
            kind, f"cannot write {option}: {exc.strerror or exc}", path,
            f"choose a writable path for {option}"
        ) from None
    finally:
        if tmp is not None:
            # The write failed already and says so; a leftover temporary file is named like the target.
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_text(
    path: Path, text: str, kind: Kind, option: str, *, append: bool = False, parents: bool = False
) -> None:
    """Write UTF-8 text atomically (see write_bytes)."""
    write_bytes(path, text.encode("utf-8"), kind, option, append=append, parents=parents)
