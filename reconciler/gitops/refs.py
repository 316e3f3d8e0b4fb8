"""The targets at any git ref: the blobs are read with gitpython into a temporary folder and loaded as
usual."""

from __future__ import annotations

import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from reconciler import files
from reconciler.core.changes import diff_targets
from reconciler.core.models import Desired, Plan
from reconciler.core.plan import reseal
from reconciler.errors import GitError as GitError  # defined with every other error; importable here too
from reconciler.errors import ReconcilerError, SpecError

if TYPE_CHECKING:
    from git import Repo
    from git.objects import Tree


@dataclass(frozen=True)
class TargetsAtRef:
    """The resolved targets of every portfolio at one commit (empty when the files did not exist there)."""

    ref: str
    commit: str
    portfolios: list[Desired] = field(default_factory=list)
    note: str = ""


def open_repo(path: Path) -> Repo:
    """The repository holding `path`, with a clear error outside one."""
    try:
        import git  # gitpython is slow to import: only the git-aware commands pay for it
    except ImportError as exc:  # gitpython raises ImportError when no git executable is found
        raise GitError(
            f"cannot use git: {str(exc).splitlines()[0]}", where="git", fix="install git and put it on PATH"
        ) from None
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(
            "not a git repository (or any parent folder)", where=str(path),
            fix="run inside a clone of the targets repository, or leave out the git option (--base)",
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        raise GitError("the repository has no working tree", where=str(path), fix="use a normal (non-bare)"
                       " clone")
    return repo


def resolve(repo: Repo, ref: str) -> str:
    """The full commit sha a branch, tag, sha or expression (HEAD~1, origin/main) names."""
    import git

    try:
        if ref.startswith("-"):  # never let a ref be read as an option
            raise ValueError(ref)
        # --verify with ^{commit} checks the object exists; a well-formed but unknown sha is refused here.
        return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")).strip()
    except (git.BadName, git.BadObject, ValueError, IndexError, git.GitCommandError):
        raise GitError(
            f"unknown git ref {ref!r}", where=str(repo.working_tree_dir),
            fix="pass a branch, tag or commit that exists here (fetch it first: git fetch origin main; in"
            " GitHub Actions check out with fetch-depth: 0)",
        ) from None


def at_ref(config_path: Path, ref: str, option: str) -> tuple[str, PurePosixPath, Tree]:
    """(commit sha, the configuration's path in the repository, the commit's tree) for reading files at
    `ref`."""
    repo = open_repo(config_path.resolve().parent)
    sha = resolve(repo, ref)
    root = Path(str(repo.working_tree_dir)).resolve()
    try:
        rel = PurePosixPath(config_path.resolve().relative_to(root).as_posix())
    except ValueError:
        raise GitError(
            "the configuration is outside the git repository", where=str(config_path),
            fix=f"keep reconciler.yaml inside the repository whose history {option} refers to",
        ) from None
    return sha, rel, repo.commit(sha).tree


def targets_at(config_path: Path, ref: str) -> TargetsAtRef:
    """Load reconciler.yaml and the portfolio files as they are at `ref`, without touching the working
    tree."""
    from reconciler.workspace.loader import load_config, load_workspace

    sha, rel, tree = at_ref(config_path, ref, "--base")
    with tempfile.TemporaryDirectory(prefix="reconciler-ref-") as tmp:
        base = Path(tmp)
        if not _extract(tree, rel, base):
            return TargetsAtRef(ref, sha, [], note=f"{rel} does not exist at {ref}: every portfolio is new")
        try:
            config = load_config(base / rel)
            pdir = _join(rel.parent, config.portfolios_dir)
            if _subtree(tree, pdir) is None:
                return TargetsAtRef(ref, sha, [], note=f"{pdir}/ does not exist at {ref}: every portfolio is"
                                    " new")
            _extract(tree, pdir, base)
            for name in config.broker.workspace_files().values():  # the paper broker's price CSV, say
                _extract(tree, _join(rel.parent, name), base)
            ws = load_workspace(base / rel)
        except SpecError as exc:
            raise _at_ref(exc, base, ref, sha) from None
        except ReconcilerError as exc:
            raise _at_ref(SpecError([exc]), base, ref, sha) from None
        # The folder goes away: name the files as the repository does, beside the configuration.
        portfolios = [relative_files(d, (base / rel).parent) for d in ws.portfolios]
    return TargetsAtRef(ref, sha, portfolios)


def relative_files(d: Desired, folder: Path) -> Desired:
    """The portfolio with its file and Model file named relative to `folder` (the configuration's)."""

    def rel(path: str | None) -> str | None:
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            return path

    return d.model_copy(update={"source": rel(d.source) or d.source, "model": rel(d.model)})


def with_base(plan: Plan, base: TargetsAtRef, current: list[Desired]) -> Plan:
    """The plan with the base commit and the target changes since it recorded (and sealed again)."""
    return reseal(
        plan, base_ref=base.ref, base_commit=base.commit,
        target_changes=diff_targets(base.portfolios, current)
    )


def _join(parent: PurePosixPath, child: str) -> PurePosixPath:
    return PurePosixPath(posixpath.normpath(str(parent / child)))


def _subtree(tree: Tree, path: PurePosixPath) -> Tree | None:
    from git import Tree

    if str(path) in ("", "."):
        return tree
    try:
        obj = tree / str(path)
    except KeyError:
        return None
    return obj if isinstance(obj, Tree) else None


def _extract(tree: Tree, path: PurePosixPath, dest: Path, *, strict: bool = False) -> bool:
    """Write the blob or folder at `path` under `dest`; False when it does not exist at that commit.

    Symbolic links and submodules are not targets: skipped, or with `strict` (a pull request's files, which
    must not point the trusted job at a file outside them, such as /proc/self/environ) refused."""
    from git import Blob, Tree

    if str(path).startswith(".."):
        if strict:
            raise GitError(f"{path} is outside the repository", where=str(path), fix="keep it inside the"
                           " repository")
        return False
    try:
        obj = tree / str(path) if str(path) not in ("", ".") else tree
    except KeyError:
        return False
    entries: list[object]
    if isinstance(obj, Blob):
        entries = [obj]
    elif isinstance(obj, Tree):
        entries = [o for o in obj.traverse() if not isinstance(o, Tree)]
    elif strict:
        entries = [obj]
    else:
        return False
    blobs: list[Blob] = []
    for entry in entries:
        if isinstance(entry, Blob) and entry.mode & 0o170000 == 0o100000:
            blobs.append(entry)
        elif strict:
            what = "a symbolic link" if isinstance(entry, Blob) else "a submodule"
            name = getattr(entry, "path", str(path))
            raise GitError(
                f"{name} is {what}: the files a pull request proposes are read as data, regular files only",
                where=str(name), fix=f"replace {name} by a regular file",
            )
    for blob in blobs:
        target = (dest / str(blob.path)).resolve()
        if not target.is_relative_to(dest.resolve()):
            continue
        files.write_bytes(target, blob.data_stream.read(), files.EXTRACTED, str(blob.path), parents=True)
    return True


def _at_ref(exc: SpecError, base: Path, ref: str, sha: str) -> SpecError:
    """The same problems, pointing at REF:path instead of the temporary folder, after one that says which
    ref."""
    header = ReconcilerError(
        f"the targets at {ref} ({sha[:12]}) do not validate", where="--base",
        fix="fix them on that ref, or pass a --base whose targets validate",
    )
    moved = relocated(exc, base, f"{ref}:")
    return SpecError([header, *(moved.problems if isinstance(moved, SpecError) else [moved])])


def relocated(exc: ReconcilerError, folder: Path, label: str) -> ReconcilerError:
    """The same error, naming REF:path instead of the temporary folder the proposal was read into."""

    def fix(text: str | None) -> str | None:
        if text is None:
            return None
        for prefix in (str(folder.resolve()) + "/", str(folder) + "/"):
            text = text.replace(prefix, label)
        return text

    if isinstance(exc, SpecError):
        return SpecError([relocated(p, folder, label) for p in exc.problems])
    out = ReconcilerError(fix(exc.message) or "", where=fix(exc.where), fix=fix(exc.fix))
    out.exit_code = exc.exit_code
    return out
