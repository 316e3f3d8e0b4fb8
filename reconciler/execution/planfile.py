"""Reading and writing the saved plan artifact; a plan that fails its seal is never applied."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from pydantic import ValidationError

from reconciler.core.models import FORMAT_VERSION, Plan
from reconciler.core.plan import compute_hash
from reconciler.errors import PlanFileError


def write_plan(plan: Plan, path: Path) -> None:
    """Write atomically (a temporary file renamed over the target), so a reader never sees half a plan."""
    where = str(path)
    if path.is_dir():
        raise PlanFileError("this is a folder; --out takes a file name", where=where, fix=f"use {path / 'plan.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise PlanFileError(
            f"cannot write the plan: {exc.strerror or exc}", where=where, fix="choose a writable path for --out"
        ) from None


# A plan of 1,000 accounts with 10 orders each is about 40 MB; nothing a reviewer applies is near 256 MB.
MAX_PLAN_BYTES = 256 * 1024 * 1024
# A plan is at most a few levels deep (plan → portfolios → observation → quotes → quote); JSON nested deeper is
# not a plan, and parsing 100k levels would exhaust the stack.
MAX_PLAN_DEPTH = 32


def _depth(raw: str) -> int:
    """How deeply brackets nest outside strings, without parsing (a cheap guard before json.loads)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_PLAN_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _unreadable(exc: OSError, where: str) -> PlanFileError:
    if isinstance(exc, FileNotFoundError):
        return PlanFileError("plan file not found", where=where, fix="run `reconciler plan --out FILE` first")
    if isinstance(exc, PermissionError):
        return PlanFileError("cannot read plan file: permission denied", where=where, fix="check its permissions")
    return PlanFileError(f"cannot read plan file: {exc.strerror}", where=where, fix="pass a plan JSON file")


def _read_text(path: Path, where: str) -> str:
    """The file's text, refusing anything that is not a regular file of sane size before reading a byte (a FIFO
    or /dev/zero would block or never end)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise PlanFileError("this is a folder, not a plan file", where=where, fix="pass the file plan --out wrote")
        if not stat.S_ISREG(info.st_mode):
            raise PlanFileError(
                "not a regular file (a device, FIFO or socket)", where=where, fix="pass the file `plan --out` wrote"
            )
        if info.st_size > MAX_PLAN_BYTES:
            raise PlanFileError(
                f"plan file is {info.st_size:,} bytes, above the {MAX_PLAN_BYTES:,}-byte limit", where=where,
                fix="pass the file `plan --out` wrote",
            )
        with path.open("rb") as fh:
            data = fh.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise _unreadable(exc, where) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(
            f"plan file is not UTF-8 text (byte {exc.start})", where=where, fix="pass the JSON file `plan --out` wrote"
        ) from None


def read_plan(path: Path) -> Plan:
    """Parse and verify a plan file: JSON, known format version, schema, and an intact content hash."""
    where = str(path)
    raw = _read_text(path, where)
    if _depth(raw) > MAX_PLAN_DEPTH:
        raise PlanFileError(
            f"JSON nested deeper than {MAX_PLAN_DEPTH} levels: not a plan", where=where,
            fix="pass the file `plan --out` wrote",
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"not valid JSON: {exc.msg}", where=f"{where}:{exc.lineno}:{exc.colno}",
            fix="pass a file written by `reconciler plan --out`",
        ) from None
    if not isinstance(data, dict):
        raise PlanFileError("plan file is not a JSON object", where=where, fix="pass a file written by plan --out")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"field format_version: unsupported plan format {version!r} (this reconciler reads {FORMAT_VERSION})",
            where=where,
            fix="re-plan with this version of reconciler",
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PlanFileError(
            f"field {loc}: {first['msg']} ({exc.error_count()} problem(s))", where=where,
            fix="the plan file is damaged; re-plan",
        ) from None
    if not plan.content_hash or compute_hash(plan) != plan.content_hash:
        raise PlanFileError(
            "field content_hash: the plan's content does not match its hash (edited or damaged)",
            where=where,
            fix="never edit a plan; re-plan and review the new one",
        )
    return plan
