"""Every answer the evaluator gives is read here, and only here (tests/policy/test_answers.py walks the code
to keep it so): a plain query's and the compiled bundle's alike.

rego-cpp answers in three shapes, and only one is a result:
- a result: regopy parses rego-cpp's JSON text into `Output.results`;
- an error sequence (`ok()` is false): a policy error, its first error term read as text to place it;
- a single error node from a C++ exception inside a built-in (`array.slice` with a string index: `stoll`,
  `base64.decode("a")`: `basic_string::at`). rego-cpp's `regoOutputOk` only tests for an error *sequence*,
  so this answer counts as ok, its text is an S-expression `(error (errormsg …) …)`, and regopy's `Output`
  raises `json.JSONDecodeError` while reading it. The normal query caught that; the bundle's reader did not,
  which is what the built-in probe found with the bundle on (stop 22).
Anything else (an exception of another type, several results, expressions that are not a list) is malformed
and is an error too: an answer is a result only when it is one, never by default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UNREADABLE = "(errormsg evaluation error)"


@dataclass(frozen=True, slots=True)
class Answer:
    """One evaluator answer: the result's expressions, or the error as rego-cpp's text (never both)."""

    values: list[Any] | None
    error: str | None = None

    @property
    def value(self) -> Any:
        """The first expression's value, None when the answer is an error or undefined (no expression)."""
        return self.values[0] if self.values else None


def ask(call: Callable[[], Any]) -> Answer:
    """Run one regopy query (`query` or `query_bundle`) and read its answer; nothing it returns or raises
    escapes as anything but an `Answer`."""
    try:
        out = call()
    except json.JSONDecodeError as exc:  # rego-cpp's single error node, not JSON (module docstring)
        return Answer(None, exc.doc or UNREADABLE)
    except Exception as exc:  # regopy's own error types
        return Answer(None, f"(errormsg {type(exc).__name__}: {exc})")
    try:
        if not out.ok():
            return Answer(None, _error_text(out))
        results = out.results
        if len(results) != 1 or not isinstance(results[0].expressions, list):
            return Answer(None, f"(errormsg unexpected answer: {len(results)} results)")
        return Answer(list(results[0].expressions))
    except Exception as exc:  # an answer object of another shape than regopy's: malformed, an error
        return Answer(None, f"(errormsg malformed answer: {type(exc).__name__})")


def _error_text(out: Any) -> str:
    try:
        return str(out.node().at(0).json())
    except Exception:  # the error term's shape is rego-cpp's; its text is a courtesy
        return UNREADABLE


def documents(answer: Answer, packages: set[str]) -> dict[str, dict[str, Any]] | None:
    """Every package's document from one combined query's answer; None unless it is exactly that: an object
    keyed by every package and no other."""
    value = answer.value
    if answer.error is not None or not isinstance(value, dict) or set(value) != packages:
        return None
    return {short: doc if isinstance(doc, dict) else {} for short, doc in value.items()}
