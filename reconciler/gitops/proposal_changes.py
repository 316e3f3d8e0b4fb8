"""What a pull request changes besides the targets: every setting of reconciler.yaml and every policy file.

A pull request that loosens policy or apply settings (`default_level`, a policy's parameters, the envelope
bands, `market_hours`, `limit_band`, an enforcement level) changes how every later plan is checked and
applied, while its own plan may well say "all policies passed". The plan comment therefore lists these changes
before the orders, and CODEOWNERS puts `reconciler.yaml` and `policies/` under their owners' review
(docs/gitops.md).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from reconciler.core.changes import PolicyFileChange, SettingChange
from reconciler.workspace.models import ConfigDoc
from reconciler.workspace.yamlpos import read_text


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, inner in value.items():
            out |= _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return out or ({prefix: "{}"} if prefix else {})
    return {prefix: "—" if value is None else str(value)}


def setting_changes(before: ConfigDoc, after: ConfigDoc) -> list[SettingChange]:
    """Every setting whose value differs, defaults included: removing a line that set a default is a change
    too."""
    a = _flatten(before.model_dump(mode="json"))
    b = _flatten(after.model_dump(mode="json"))
    return [
        SettingChange(k, a.get(k, "—"), b.get(k, "—"))
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def _rego_files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): read_text(p) for p in sorted(folder.rglob("*.rego")) if p.is_file()
    }


def policy_file_changes(before_dir: Path, after_dir: Path, shown_as: str) -> list[PolicyFileChange]:
    """The .rego files that differ between the two folders, named `shown_as/relative path`."""
    a, b = _rego_files(before_dir), _rego_files(after_dir)
    out = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            continue
        path = f"{shown_as}/{name}"
        if name not in a:
            out.append(PolicyFileChange(path, "added", added=len(b[name].splitlines())))
        elif name not in b:
            out.append(PolicyFileChange(path, "removed", removed=len(a[name].splitlines())))
        else:
            diff = list(difflib.unified_diff(a[name].splitlines(), b[name].splitlines(), lineterm="", n=0))
            plus = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            minus = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            out.append(PolicyFileChange(path, "changed", added=plus, removed=minus))
    return out
