"""Load Rego modules once, evaluate `deny`/`warn` of every package against an input, apply levels.

The evaluator (rego-cpp, through regopy) fails open in three ways this module closes:
- a call to a built-in it does not implement evaluates to undefined, so the rule silently never denies: every
  call is checked against the evaluator's own list of built-ins when the policies load;
- a built-in that errors (`to_number("x")`) is undefined too unless strict built-in errors are on: they are,
  and an evaluation error is an error, never a pass;
- Rego v0 rule heads (`deny[msg] { … }`) parse into an object instead of a set: refused with the fix.
And one way policies could leak what they must not see: `opa.runtime()` returns the process environment, where
the broker and journal credentials live; a deny message quoting it would print them in a plan comment. Any use
of the `opa` namespace is refused when the policies load (policies are data a pull request may change). An
evaluation that runs past the time budget is an error naming the policy.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reconciler import files as gate
from reconciler.core.models import Level, PolicyResult
from reconciler.errors import PolicyFileError
from reconciler.policy import strict
from reconciler.policy.answers import ask, documents
from reconciler.policy.builtins_table import TABLE
from reconciler.policy.compiled import Compiled, compile_policies
from reconciler.policy.located import HELPERS, line_col, located, v0_rules
from reconciler.policy.messages import bounded, messages_of
from reconciler.policy.watchdog import Watchdog

T = TypeVar("T")

# The compiled bundle (policy/compiled.py) answers an evaluation in about half the CPU of the normal query.
# Off for stop 22: it answered 26 cases of the built-in probe (tests/policy/test_builtins.py) with rego-cpp's
# error term, which is not JSON, and its reader let regopy's JSONDecodeError escape. Every answer is now read
# by policy/answers.py (tests/policy/test_answers.py keeps it so): any answer of the bundle that is not a
# plain result is left to the normal query, which fails closed naming the file.
BUNDLE = True

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
# A string, a raw string or a comment: blanked out before looking for calls, keeping every offset in place.
_NOT_CODE = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')
# the namespace root, however it is then indexed (.runtime, ["runtime"])
_OPA = re.compile(r"(?<![\w.])opa(?!\w)")


@dataclass(frozen=True)
class PolicySet:
    """The compiled policies of one folder, with the level each package is enforced at."""

    interpreter: Any
    packages: dict[str, str]  # short name -> full package
    levels: dict[str, Level]
    files: dict[str, str] = field(default_factory=dict)  # short name -> file
    texts: dict[str, str] = field(default_factory=dict, repr=False)  # file -> source, to place errors
    timeout_seconds: float = 5.0
    # One evaluation at a time per interpreter: its input is state, and rego-cpp is not thread-safe.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    # Set when an evaluation overran its budget: that call may still be running, so the interpreter is not
    # used again (rego-cpp is not safe to share between two running evaluations).
    abandoned: list[str] = field(default_factory=list, compare=False, repr=False)
    rewrites: dict[str, strict.Rewritten] = field(default_factory=dict, compare=False, repr=False)
    compiled: Compiled | None = field(default=None, compare=False, repr=False)  # policy/compiled.py
    # The worker that runs evaluator calls within the budget (policy/watchdog.py), shared like the lock.
    watchdog: Watchdog = field(default_factory=Watchdog, compare=False, repr=False)

    def _bounded(self, what: str, where: str, call: Callable[[], T]) -> T:
        """Run one evaluator call within the time budget. rego-cpp cannot be interrupted: past the budget the
        call is abandoned on the watchdog's (daemon) worker and the command fails, which is what matters
        (nothing sent)."""
        if self.abandoned:
            raise PolicyFileError(
                f"policies are unusable in this process: {self.abandoned[0]} overran its time budget",
                where=where,
                fix="fix that policy, then run again",
            )
        return self.watchdog.within(
            self.timeout_seconds, call, on_deadline=lambda: self.abandoned.append(what),
            timeout=lambda: PolicyFileError(
                f"policy {what} took longer than {self.timeout_seconds:g}s to evaluate; treated as a failure",
                where=where,
                fix="simplify the rule (avoid iterating over large cross products), or raise"
                " policies.timeout_seconds in reconciler.yaml; no order is sent while a policy cannot be"
                " evaluated",
            ),
        )

    def check_overrides(self, names: Iterable[str]) -> None:
        """Refuse an --override that cannot mean what the user thinks: a typo must not let apply go on as if a
        denial had been waived, and only a soft-mandatory policy can be waived."""
        for name in names:
            level = self.levels.get(name)
            if level is None:
                raise PolicyFileError(
                    f"--override {name}: no policy of that name is loaded", where="command line",
                    fix="name a soft-mandatory policy"
                    f" ({', '.join(self.overridable()) or 'none is configured'})",
                )
            if level != "soft-mandatory":
                raise PolicyFileError(
                    f"--override {name}: the policy is {level}; only soft-mandatory policies can be"
                    f" overridden ({', '.join(self.overridable()) or 'none is configured'})",
                    where="command line",
                    fix="change the targets instead (or its level under policies.enforcement in"
                    " reconciler.yaml, which is itself a reviewed change)",
                )

    def overridable(self) -> list[str]:
        """The soft-mandatory policies, the only ones an override may name."""
        return sorted(p for p, level in self.levels.items() if level == "soft-mandatory")

    def document_of(self, short: str) -> dict[str, Any]:
        """Evaluate one package against the current input; a failing policy is an error, never a silent
        pass."""
        where = self.files.get(short, short)
        answer = self._bounded(
            short, where, lambda: ask(lambda: self.interpreter.query(f"data.{self.packages[short]}"))
        )
        if answer.error is not None:
            where, first = located(answer.error, self.texts, where, "evaluation error", self.rewrites)
            raise PolicyFileError(
                f"policy {short} failed to evaluate: {first}", where=where,
                fix="fix the Rego file (a built-in that fails, such as to_number on text, is an error here,"
                " not undefined); no order is sent while a policy is broken",
            )
        doc = answer.value if answer.values else {}
        if not isinstance(doc, dict):
            raise PolicyFileError(
                f"policy {short} evaluated to {type(doc).__name__}, not a package document", where=where,
                fix="declare deny and warn rules in the package",
            )
        return doc

    def query_all(self) -> dict[str, Any]:
        """Every package in one evaluation: rego-cpp's cost is mostly per query (measured: 4 ms for all five
        default packages at once against 13 ms one by one), and apply evaluates before every order."""
        combined = _combined(self.packages)
        answer = self._bounded("(all)", "policies", lambda: ask(lambda: self.interpreter.query(combined)))
        docs = documents(answer, set(self.packages))
        if docs is None:
            # One package failed: evaluate them one by one so the error names the file that is broken.
            return {short: self.document_of(short) for short in sorted(self.packages)}
        return docs

    def evaluate(self, document: dict[str, Any], portfolio: str) -> list[PolicyResult]:
        """Every deny and warn message of every package for one input document."""
        results: list[PolicyResult] = []
        text = json.dumps(document)
        with self.lock:
            compiled = self.compiled
            docs = (
                None
                if compiled is None
                else self._bounded("(all)", "policies", lambda: compiled.documents(text))
            )
            # no bundle, or no plain result from it: the normal query decides, naming any failure
            if docs is None:
                self.interpreter.set_input_term(text)
                docs = self.query_all() if self.packages else {}
        for short in sorted(self.packages):
            doc = docs.get(short, {})
            for kind in ("deny", "warn"):
                for msg in bounded(messages_of(doc.get(kind), short, kind, self.files.get(short, short))):
                    level = self.levels[short]
                    # Scrubbed here, at the source, so the plan file holds what every later evaluation says
                    # too.
                    results.append(
                        PolicyResult(policy=short, kind=kind, level=level, portfolio=portfolio, message=msg)
                    )
        return results



def _combined(packages: dict[str, str]) -> str:
    """One query for every package's document, keyed by short name."""
    return "{" + ", ".join(f'"{short}": data.{pkg}' for short, pkg in sorted(packages.items())) + "}"


def short_name(package: str) -> str:
    """A policy's package without the common prefix, as plans and messages show it."""
    return package.removeprefix("reconciler.")


def _new_interpreter() -> Any:
    from regopy import Interpreter, LogLevel  # the native module is not needed for --help

    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE  # rego-cpp would print diagnostics on stdout; errors carry them
    interpreter.strict_built_in_errors = True
    return interpreter


def load_policies(
    directory: Path, levels: dict[str, Level], default_level: Level, timeout_seconds: float = 5.0,
    workspace: Path | None = None,
) -> PolicySet:
    """Compile every `*.rego` file (tests excluded) in the folder; every problem names file, line and column.
    With `workspace`, the folder and every file in it must resolve inside it (the file gate refuses the
    rest)."""
    if workspace is not None:
        gate.inside(directory, workspace, gate.POLICY)
    if not directory.is_dir():
        raise PolicyFileError(
            "policies folder does not exist", where=str(directory), fix="create it or set policies.dir"
        )
    interpreter = _new_interpreter()
    interpreter.set_input_term("{}")
    packages: dict[str, str] = {}
    files: dict[str, str] = {}
    texts: dict[str, str] = {}
    rewrites: dict[str, strict.Rewritten] = {}
    paths = sorted(p for p in directory.rglob("*.rego") if not p.name.endswith("_test.rego"))
    for path in paths:
        text = gate.read_text(path, gate.POLICY, workspace=workspace)  # regular, bounded, UTF-8, inside
        match = _PACKAGE.search(text)
        if not match:
            raise PolicyFileError(
                "no package declaration", where=f"{path}:1:1",
                fix="start the file with `package reconciler.NAME`"
            )
        texts[str(path)] = text
        # strings and comments blanked, offsets kept
        code = _NOT_CODE.sub(lambda m: " " * len(m.group(0)), text)
        v0 = v0_rules(str(path), text, code)
        if v0:
            raise PolicyFileError(
                "rule written in Rego v0 syntax (`deny[msg] { … }`), which this evaluator reads differently",
                where=v0[0],
                fix="add `import rego.v1` and write `deny contains msg if { … }` (a value rule: `name := … if"
                " { … }`)",
            )
        opa = _OPA.search(code)
        if opa:
            line, col = line_col(text, len(text[: opa.start()].encode()))
            raise PolicyFileError(
                "policy uses the opa namespace (opa.runtime() returns the process environment, where the"
                " broker and journal credentials are): a policy must never see them",
                where=f"{path}:{line}:{col}",
                fix="decide from `input` and `data` only (policies.params reach the policy as input.params)",
            )
        package = match.group(1)

        def at(offset: int, path: Path = path, text: str = text) -> str:
            line, col = line_col(text, len(text[:offset].encode()))
            return f"{path}:{line}:{col}"

        # Which calls are built-ins is read from the capability table, never by asking rego-cpp about a name
        # the policy wrote: its is_builtin aborts the process on some (`uuid.x`, `crypto.x`).
        calls = list(strict.calls(text, lambda name: True))
        builtins = [c for c in calls if c.name in TABLE]
        rewritten = strict.rewrite(str(path), package, text, code, at, builtins)

        def placed(
            offset: int, path: Path = path, text: str = text, rewritten: strict.Rewritten = rewritten
        ) -> str:
            line, col = line_col(text, rewritten.original_offset(offset))
            return f"{path}:{line}:{col}"

        strict.compare_strictly(rewritten, package, placed)
        rewrites[str(path)] = rewritten
        try:
            interpreter.add_module(str(path), rewritten.text)
        except Exception as exc:  # regopy raises its own RegoError type; anything here is a bad module
            where, first = located(str(exc), texts, str(path), "invalid Rego", rewrites)
            raise PolicyFileError(
                f"policy does not compile: {first}", where=where, fix="fix the Rego syntax (see opa check)"
            ) from None
        for call in calls:
            if call.name not in TABLE:
                raise PolicyFileError(
                    f"policy calls {call.name}, which is not a built-in this evaluator (rego-cpp) implements:"
                    " it"
                    " would evaluate to undefined and never deny",
                    where=at(call.start),
                    fix=f"rewrite the rule without {call.name} (or define it in the policy); a policy that"
                    " cannot"
                    " be evaluated is refused, never passed",
                )
            strict.check_arity(str(path), call, at(call.start))
        if rewritten.helpers:
            interpreter.add_module(str(path) + HELPERS, rewritten.helpers)
        short = short_name(package)
        if short in packages:
            raise PolicyFileError(
                f"package {package} is declared in two files", where=str(path), fix="use one package per file"
            )
        packages[short] = package
        files[short] = str(path)
        # Evaluated at once (on an empty input), so an error rego-cpp reports only when evaluating names this
        # file, not the next package queried.
        PolicySet(
            interpreter, {short: package}, {short: default_level}, files, texts, timeout_seconds,
            rewrites=rewrites
        ).document_of(short)
    unknown = sorted(set(levels) - set(packages))
    if unknown:
        raise PolicyFileError(
            f"enforcement names unknown policies: {', '.join(unknown)}",
            where="reconciler.yaml: policies.enforcement",
            fix=f"use the package names of the files in {directory}"
            f" ({', '.join(sorted(packages)) or 'none'})",
        )
    resolved: dict[str, Level] = {p: levels.get(p, default_level) for p in packages}
    return PolicySet(
        interpreter=interpreter,
        packages=packages,
        levels=resolved,
        files=files,
        texts=texts,
        timeout_seconds=timeout_seconds,
        rewrites=rewrites,
        compiled=compile_policies(rewrites, _combined(packages), set(packages))
        if packages and BUNDLE
        else None,
    )
