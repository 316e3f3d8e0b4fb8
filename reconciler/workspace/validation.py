"""A workspace document validated into its model: its `kind:`, and each of pydantic's errors turned into a
ReconcilerError naming the field, the file and line, and the fix (never echoing a pasted secret)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.errors import ReconcilerError
from reconciler.workspace.models import API_VERSION, SECRET_REF
from reconciler.workspace.yamlpos import RawDoc

_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against docs/configuration.md",
    "missing": "add this field",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "symbols are upper case (VTI, BRK.B); names are lower case letters, digits, -"
    " _ .",
    "less_than_equal": "weights and fractions are between 0 and 1 (0.25 means 25%)",
    "greater_than_equal": "use a value that is not negative",
    "greater_than": "use a positive value",
    "decimal_parsing": "write a plain number such as 0.25",
    "decimal_type": "write a plain number such as 0.25",
    "finite_number": "write a finite number",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "dict_type": "this must be a mapping (key: value lines)",
    "model_type": "this must be a mapping (key: value lines)",
    "list_type": "this must be a list",
    "string_type": "write text",
    "too_short": "list at least one entry",
}


def _validation_problems(raw: RawDoc, exc: ValidationError, broker_docs: str) -> list[ReconcilerError]:
    """Each of pydantic's errors as a ReconcilerError naming the field, its line and the fix."""
    problems: list[ReconcilerError] = []
    for err in exc.errors(include_url=False):
        loc = [
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "constrained-")))
        ]
        # a plug-in documents its own
        docs = broker_docs if loc and loc[0] == "broker" else "docs/configuration.md"
        # A key pasted from elsewhere can be thousands of characters: name it by its start and length.
        field_name = ".".join(
            str(p) if len(str(p)) <= 40 else f"{str(p)[:12]}…({len(str(p)):,} characters)" for p in loc
        ) or "(document)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and loc and loc[-1] == "apiVersion":
            fix = f"set apiVersion: {API_VERSION}"
        elif err["type"] == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == SECRET_REF:
            # Never echo the value: it may be the very secret that was pasted here.
            msg = "is not a secret reference"
            fix = (
                "write where the secret lives, never the secret itself: env:VAR_NAME, aws:SECRET_ID#field or"
                " vault:PATH#field (if a real secret was written here, rotate it and remove it from git"
                " history)"
            )
        else:
            fix = _FIXES.get(err["type"], f"see {docs}")
        if err["type"] == "value_error":
            fix = msg.split("; ", 1)[1] if "; " in msg else f"see {docs}"
            msg = msg.split("; ", 1)[0]
        problems.append(ReconcilerError(f"field {field_name}: {msg}", where=raw.where(loc), fix=fix))
    return problems


def parse_document(
    raw: RawDoc, model: type[BaseModel], problems: list[ReconcilerError], broker_docs: str = ""
) -> Any:
    """The document validated by `model`, or None with each problem added at its file and line."""
    try:
        return model.model_validate(raw.data)
    except ValidationError as exc:
        problems.extend(_validation_problems(raw, exc, broker_docs or "docs/configuration.md"))
        return None


def document_kind(raw: RawDoc, allowed: tuple[str, ...], problems: list[ReconcilerError]) -> str | None:
    """The document's `kind:` when it is one of `allowed`, else None with the problem added."""
    if not isinstance(raw.data, dict):
        problems.append(
            ReconcilerError(
                "document is not a mapping", where=raw.where(),
                fix="start with apiVersion:, kind:, metadata:, spec:"
            )
        )
        return None
    kind = raw.data.get("kind")
    if kind not in allowed:
        problems.append(
            ReconcilerError(
                "field kind: missing" if kind is None else f"field kind: unknown kind {kind!r}",
                where=raw.where(["kind"]),
                fix=f"use kind: {' or '.join(allowed)}",
            )
        )
        return None
    return str(kind)
