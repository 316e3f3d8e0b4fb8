"""Reading and writing the saved plan artifact; a plan that fails its seal is never applied."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from reconciler.core.models import FORMAT_VERSION, Plan
from reconciler.core.plan import compute_hash
from reconciler.errors import PlanFileError


def write_plan(plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_plan(path: Path) -> Plan:
    """Parse and verify a plan file: JSON, known format version, schema, and an intact content hash."""
    where = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanFileError("plan file not found", where=where, fix="run `reconciler plan --out FILE` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read plan file: {exc}", where=where, fix="pass a plan JSON file") from None
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
