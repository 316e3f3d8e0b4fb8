"""The targets a pull request proposes, read as data by a job that holds credentials.

The job that plans a pull request observes the accounts, so it holds the observe credentials; it therefore
runs the default branch's code and workflow only, and reads the pull request's `reconciler.yaml`, portfolios
and policies from git objects into a temporary folder: regular files only (a symbolic link to
/proc/self/environ would otherwise be read, and quoted in an error), nothing executed. Where the credentials
go is not the pull request's to choose: its `broker`, `journal` and `notifications` settings must equal the
trusted checkout's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.errors import ReconcilerError
from reconciler.gitops.refs import _extract, _join, at_ref, relocated
from reconciler.workspace.loader import load_config
from reconciler.workspace.models import ConfigDoc

# The settings that decide where credentials are sent and which are read (the notification URLs and the plan
# signing key are secrets too): the trusted checkout's, never a pull request's. Everything else (targets,
# policies, their parameters and levels, apply settings) is what a pull request proposes and a reviewer reads.
PRIVILEGED = ("broker", "journal", "notifications", "plan")


@dataclass(frozen=True)
class Proposed:
    """The proposed files, extracted: `config_path` is inside a temporary folder that lives as long as the
    context; `label` (REF:) replaces that folder in messages."""

    config_path: Path
    folder: Path
    commit: str
    label: str


@contextmanager
def read_proposed(trusted_config: Path, ref: str) -> Iterator[Proposed]:
    """Extract what `ref` proposes (reconciler.yaml, the portfolios and policies folders) beside the trusted
    configuration's own relative path, after checking its privileged settings equal the trusted ones."""
    sha, rel, tree = at_ref(trusted_config, ref, "--proposed")
    trusted = load_config(trusted_config)
    label = f"{ref}:"
    with tempfile.TemporaryDirectory(prefix="reconciler-proposed-") as tmp:
        folder = Path(tmp)
        try:
            if not _extract(tree, rel, folder, strict=True):
                raise ReconcilerError(
                    f"{rel} does not exist at {ref} ({sha[:12]})", where="--proposed",
                    fix="propose a commit of the targets repository that has the configuration",
                )
            proposed = load_config(folder / rel)
            changed = privileged_changes(trusted, proposed)
            if changed:
                raise ReconcilerError(
                    f"{ref} ({sha[:12]}) changes settings only the default branch may set:"
                    f" {', '.join(changed)}."
                    " They decide where credentials are sent, so a plan job holding them never takes them"
                    " from a pull request",
                    where=f"{label}{rel}",
                    fix="change broker, journal and notification settings in a pull request of their own"
                    " (reviewed by the code owners, no target changes), merge it, then propose the targets",
                )
            for folder_name in (proposed.portfolios_dir, proposed.policies.dir):
                _extract(tree, _join(rel.parent, folder_name), folder, strict=True)
            for name in trusted.broker.workspace_files().values():
                # Files the broker reads (the paper broker's price CSV) belong to the (trusted, unchanged)
                # broker: the checkout's file, not the proposal's.
                source = trusted_config.parent / name
                target = folder / _join(rel.parent, name)
                if source.is_file():
                    data = files.read_bytes(source, files.PRICES, workspace=trusted_config.parent)
                    files.write_bytes(target, data, files.EXTRACTED, str(target), parents=True)
        except ReconcilerError as exc:
            raise relocated(exc, folder, label) from None
        yield Proposed(folder / rel, folder, sha, label)


def privileged_changes(trusted: ConfigDoc, proposed: ConfigDoc) -> list[str]:
    """The dotted paths of every privileged setting that differs (broker.trading_url, broker.accounts.x,
    ...)."""
    found: list[str] = []
    for name in PRIVILEGED:
        found += _differences(
            getattr(trusted, name).model_dump(mode="json"), getattr(proposed, name).model_dump(mode="json"),
            name
        )
    return found


def _differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}")
        return out
    return [] if a == b else [path]
