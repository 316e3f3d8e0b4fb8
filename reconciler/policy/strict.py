"""Every call a policy makes to a built-in is checked when the policies load, against the evaluator's
capability table (policy/capabilities.py), so that no call can fail silently or take the process down:
- a call to a built-in rego-cpp does not offer evaluates to undefined: refused (in engine.py, by
  `is_builtin`);
- a call with fewer arguments than the built-in takes crashes rego-cpp (a segmentation fault) and one with
  more than it takes plus an output argument is an error at best: refused, with the arity;
- a built-in the table records as silent on some element types (`sum([1, "a"])` is undefined, not an error,
  even with strict built-in errors) is called through a generated function of the same package that checks
  every element first and fails with the call's file and line when one is of another type;
- an ordering comparison (`<`, `<=`, `>`, `>=`) goes through a generated function that refuses operands of two
  types (`compare_strictly`).
The generated functions fail by calling `to_number` on a marker naming the call's place, which the engine
reads back from rego-cpp's error (rego-cpp's own error for a failure inside one would name the generated
module).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from reconciler.errors import PolicyFileError
from reconciler.policy.builtins_table import TABLE

_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_HEAD = re.compile(r"^([A-Za-z_]\w*)\b", re.MULTILINE)  # rule and function heads start their line
_IMPORT = re.compile(r"^\s*import\s+([\w.]+)(?:\s+as\s+(\w+))?", re.MULTILINE)
# `contains` is a keyword only before a rule's value; followed by `(` it is the built-in.
_KEYWORDS = {"if", "else", "not", "some", "every", "in", "with", "as", "default", "set"}
MARK = "reconciler-strict"
MARKED = re.compile(MARK + r"\|(?P<where>[^|]*)\|(?P<name>[^|]*)\|(?P<position>\d+)\|(?P<types>[^|\"]*)")
_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Call:
    """A built-in call found in a policy's text, to check it against the allowed ones."""

    name: str
    start: int  # offset of the name in the module's text
    arguments: int


@dataclass
class Rewritten:
    """A module with its silent calls routed through checked functions, and how to place errors back."""

    text: str
    # a module of the same package defining the checked functions; empty when none is needed
    helpers: str = ""
    shifts: list[tuple[int, int]] = field(default_factory=list)  # (byte offset in the new text, bytes added)
    helper_sites: dict[int, str] = field(default_factory=dict)  # helper line -> FILE:LINE:COL of its call
    sites: list[tuple[str, str]] = field(default_factory=list)  # (built-in, FILE:LINE:COL) of every call

    def place(self, message: str) -> tuple[str, str] | None:
        """Where an error without a place (a built-in that failed on a value of the input) most likely is: the
        call to the built-in the message names, else the module's calls; None when it makes none."""
        named = [w for n, w in self.sites if re.search(rf"(?<![\w.]){re.escape(n)}\b", message)]
        candidates = named or [w for _, w in self.sites]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0], message
        lines = ", ".join(w.rsplit(":", 2)[-2] for w in candidates)
        return candidates[0], f"{message} (in one of the built-in calls at lines {lines})"

    passes: list[list[tuple[int, int]]] = field(default_factory=list)  # later rewrites' shifts, latest first

    def original_offset(self, offset: int) -> int:
        """A byte offset in `text` (where rego-cpp places errors) as one in the policy file as written."""
        for shifts in [*self.passes, self.shifts]:
            offset -= sum(added for at, added in shifts if at <= offset)
        return offset


def _arguments(code: str, open_at: int) -> int:
    """How many arguments the call whose `(` is at `open_at` passes (strings and comments are blanked)."""
    depth, count, seen = 0, 0, False
    for ch in code[open_at:]:
        if ch in "([{":
            depth += 1
            if depth > 1:
                seen = True
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return count + (1 if seen else 0)
        elif depth == 1 and ch == ",":
            count += 1
        elif depth == 1 and not ch.isspace():
            seen = True
    return count + (1 if seen else 0)


def calls(text: str, is_builtin: Callable[[str], bool]) -> Iterator[Call]:
    """Every call in the module to something that is neither its own function, an import, data nor input."""
    # Comments blanked and strings filled (not blanked: `f("a")` passes one argument), offsets kept.
    code = _NOT_CODE.sub(
        lambda m: " " * len(m.group(0)) if m.group(0)[0] == "#" else "x" * len(m.group(0)), text
    )
    own = {m.group(1) for m in _HEAD.finditer(code)}
    imported = {m.group(2) or m.group(1).rsplit(".", 1)[-1] for m in _IMPORT.finditer(code)}
    for m in _CALL.finditer(code):
        name = m.group(1)
        root = name.split(".", 1)[0]
        if name in _KEYWORDS or name in own or root in ("data", "input") or root in imported:
            continue
        yield Call(name, m.start(1), _arguments(code, m.end() - 1))


def check_arity(path: str, call: Call, where: str) -> None:
    """Refuse a call whose argument count the built-in cannot take; a built-in not in the table is refused
    too."""
    entry = TABLE.get(call.name)
    if entry is None:
        raise PolicyFileError(
            f"policy calls {call.name}, which this evaluator offers but its capability table does not"
            " describe",
            where=where,
            fix="run `python -m reconciler.policy.capabilities` after upgrading regopy (or avoid the"
            " built-in)",
        )
    arity = int(entry["arity"])
    # one more: Rego's output argument (`walk(x, [path, value])`)
    if not arity <= call.arguments <= arity + 1:
        raise PolicyFileError(
            f"policy calls {call.name} with {call.arguments} argument(s); it takes {arity}"
            " (fewer would crash the evaluator)", where=where, fix=f"pass {arity} argument(s) to {call.name}",
        )


def rewrite(path: str, package: str, text: str, code: str, located: Callable[[int], str],
            builtins: list[Call]) -> Rewritten:
    """`text` with each call to a silent built-in renamed to a checked function, and the module defining
    them."""
    out = Rewritten(text, sites=[(c.name, located(c.start)) for c in builtins])
    pieces, last, helpers = [], 0, [f"package {package}", "import rego.v1", ""]
    for k, call in enumerate(c for c in builtins if TABLE[c.name]["silent_elements"] and c.arguments
                             == TABLE[c.name]["arity"]):
        helper = f"__reconciler_strict_{k}"
        pieces += [text[last:call.start], helper]
        last = call.start + len(call.name)
        out.shifts.append((sum(len(piece.encode()) for piece in pieces), len(helper) - len(call.name)))
        site = located(call.start)
        params = [f"a{i}" for i in range(call.arguments)]
        silent: dict[int, list[str]] = TABLE[call.name]["silent_elements"]
        checks = sorted(silent.items())
        for position, types in checks:
            helpers += [f"{helper}_ok{position}(x) if {{ is_{t}(x) }}" for t in types]
        body = "; ".join(f"every x in {params[p]} {{ {helper}_ok{p}(x) }}" for p, _ in checks)
        args = ", ".join(params)
        first = len(helpers)
        for p, types in checks:
            marker = f"{MARK}|{site}|{call.name}|{p}|{','.join(types)}"
            helpers.append(
                f'{helper}({args}) := to_number("{marker}") if {{ some x in {params[p]}; not'
                f' {helper}_ok{p}(x) }}'
            )
        for kind in ("array", "set"):
            guards = "; ".join(f"is_{kind}({params[p]})" for p, _ in checks)
            helpers.append(f"{helper}({args}) := v if {{ {guards}; {body}; v := {call.name}({args}) }}")
        plain = "; ".join(f"not is_array({params[p]}); not is_set({params[p]})" for p, _ in checks)
        helpers.append(f"{helper}({args}) := v if {{ {plain}; v := {call.name}({args}) }}")
        for line in range(first, len(helpers)):
            out.helper_sites[line + 1] = site
    if pieces:
        out.text = "".join(pieces) + text[last:]
        out.helpers = "\n".join(helpers) + "\n"
    return out


_COMPARE = re.compile(r"(?<![<>=!:])(<=|>=|<|>)(?!=)")
_LEAD = re.compile(r"^\s*(?:(?:not|if|else|contains|default)\s+)*")
_ASSIGN = re.compile(r":=|(?<![=!<>:])=(?!=)")
_RIGHT_STOP = re.compile(r"\s(?:if|with|else)\s")


def _operand_start(code: str, op: int) -> int | None:
    depth = 0
    i = op - 1
    while i >= 0:
        ch = code[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and ch in ";,|\n":
            break
        i -= 1
    start = i + 1
    segment = code[start:op]
    assigned = list(_ASSIGN.finditer(segment))
    if assigned:
        start += assigned[-1].end()
        segment = code[start:op]
    start += _LEAD.match(segment).end()  # type: ignore[union-attr]  # the pattern matches every string
    return start if code[start:op].strip() else None


def _operand_end(code: str, after: int) -> int | None:
    depth = 0
    i = after
    while i < len(code):
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and ch in ";,|\n":
            break
        i += 1
    stop = _RIGHT_STOP.search(code, after, i)
    end = stop.start() if stop else i
    while end > after and code[end - 1].isspace():
        end -= 1
    return end if code[after:end].strip() else None


def compare_strictly(source: Rewritten, package: str, place: Callable[[int], str]) -> None:
    """Route every ordering comparison (`a < b`, …) of `source.text` through a generated function that
    refuses, with the comparison's file and line, two operands of different types: rego-cpp orders numbers,
    strings and collections against each other its own way (`1 < "a"` is undefined, `"a" < 1` true), so a
    limit written as text, or a number read as text, silently decides a deny rule. `place` takes a byte offset
    of `source.text`."""
    text = source.text
    code = _NOT_CODE.sub(lambda m: " " * len(m.group(0)), text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in text, in order
    helpers = [] if source.helpers else [f"package {package}", "import rego.v1", ""]
    taken_until = -1
    for k, m in enumerate(_COMPARE.finditer(code)):
        left, right = _operand_start(code, m.start()), _operand_end(code, m.end())
        if left is None or right is None or left <= taken_until:
            continue
        if _COMPARE.search(code, m.end(), right) or _COMPARE.search(code, left, m.start()):
            continue  # a chain or an operand we cannot delimit: left as written
        name = f"__reconciler_compare_{k}"
        site = place(len(text[: m.start()].encode()))
        edits += [(left, left, f"{name}("), (m.start(), m.end(), ","), (right, right, ")")]
        taken_until = right
        first = len(source.helpers.splitlines()) + len(helpers)
        marker = f"{MARK}|{site}|{m.group(1)}|0|"
        helpers += [
            f"{name}(a, b) if {{ type_name(a) == type_name(b); a {m.group(1)} b }}",
            f'{name}(a, b) := to_number("{marker}") if {{ type_name(a) != type_name(b) }}',
        ]
        for line in range(first, first + 2):
            source.helper_sites[line + 1] = site
    if not edits:
        return
    pieces, last, shifts = [], 0, []
    for start, end, replacement in edits:
        pieces += [text[last:start], replacement]
        last = end
        added = len(replacement.encode()) - len(text[start:end].encode())
        shifts.append((sum(len(p.encode()) for p in pieces), added))
    source.text = "".join(pieces) + text[last:]
    source.passes.insert(0, shifts)
    source.helpers = (source.helpers or "") + "\n".join(helpers) + "\n"


_NOT_CODE = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')
