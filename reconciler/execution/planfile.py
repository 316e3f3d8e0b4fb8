"""Reading and writing the saved plan artifact; a plan that fails its seal is never applied."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from reconciler import files, strict_json
from reconciler.core.models import FORMAT_VERSION, Plan
from reconciler.core.plan import compute_hash
from reconciler.errors import PlanFileError


def write_plan(plan: Plan, path: Path) -> None:
    """Write atomically through the file gate, so a reader never sees half a plan."""
    files.write_text(path, plan.model_dump_json(indent=2) + "\n", files.PLAN, "--out", parents=True)


# A plan is at most a few levels deep (plan → portfolios → observation → quotes → quote); JSON nested deeper
# is not a plan, and parsing 100k levels would exhaust the stack.
MAX_PLAN_DEPTH = 32


def read_plan(path: Path) -> Plan:
    """Parse and verify a plan file: JSON, known format version, schema, and an intact content hash."""
    where = str(path)
    raw = files.read_text(path, files.PLAN, missing_fix="run `reconciler plan --out FILE` first")
    try:
        data = strict_json.loads(raw, MAX_PLAN_DEPTH)
    except strict_json.JSONError as exc:
        what = exc.message if exc.message.startswith("JSON") else f"not valid JSON: {exc.message}"
        raise PlanFileError(
            f"{what}{': not a plan' if 'nested' in what else ''}",
            where=f"{where}:{exc.line}:{exc.column}" if exc.line else where,
            fix="pass a file written by `reconciler plan --out` (never edit a plan: re-plan)",
        ) from None
    if not isinstance(data, dict):
        raise PlanFileError("plan file is not a JSON object", where=where, fix="pass a file written by plan"
                            " --out")
    version = data.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # true == 1 in Python; not in a plan file
        raise PlanFileError(
            f"field format_version: unsupported plan format {version!r} (this reconciler reads"
            f" {FORMAT_VERSION})",
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
    mistyped = strict_json.same_types(data, json.loads(plan.model_dump_json()))
    if mistyped:
        path_to, what = mistyped
        raise PlanFileError(
            f"field {'.'.join(str(p) for p in path_to)}: {what}", where=where,
            fix="never edit a plan; re-plan",
        )
    if not plan.content_hash or compute_hash(plan) != plan.content_hash:
        raise PlanFileError(
            "field content_hash: the plan's content does not match its hash (edited or damaged)",
            where=where,
            fix="never edit a plan; re-plan and review the new one",
        )
    return plan
