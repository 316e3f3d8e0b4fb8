"""Wrap the lines of Python files that are longer than a width, without changing what the code does.

    python -m tools.wrap_lines --width 110 reconciler tests bench tools    rewrite, list what is left
    python -m tools.wrap_lines --width 110 --check reconciler             exit 1 when a file would change

Only over-long lines are touched, so the house style (arguments packed on a line) stays as it is: `ruff
format` would rewrite every file's layout, and it never wraps a comment, a docstring or a string. What is
changed:

- a docstring's prose paragraph that holds an over-long line is filled again to the width (drawings, tables,
  lists and aligned text are left alone and reported);
- a block of comments that holds an over-long line is filled again the same way;
- a trailing comment that pushes a line over is moved above the line (a pragma such as `# noqa` or
  `# type: ignore[...]` stays where it is);
- a string that crosses the width is split in two adjacent literals (the same value: Python joins them), at a
  space outside f-string braces, in parentheses when it stood outside brackets;
- otherwise the line is broken after a comma inside brackets.

Each rewritten file is checked: its syntax tree must equal the original's, docstring whitespace and the split
of adjacent literals aside (`same_program`), or the file is left as it was and reported. Run it again: a file
already within the width is not changed (idempotent).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PRAGMA = re.compile(r"#\s*(noqa|type:|pragma|fmt:|pyright:|mypy:)")
STRUCTURE = ("|", "│", "├", "└", ">>>", "```", "$ ", "+--", "==")
ITEM = re.compile(r"^(?:[-*•]|\d+[.)]|\([a-z0-9]+\))\s+")
DEFINITION = re.compile(r"^(\S+(?:, \S+)*\s{2,})(\S(?:(?!  ).)*)$")  # a term, two spaces or more, its text
RULE = re.compile(r"^(?P<head>.*?)(?P<run>([-=~#*_])\3{9,})$")


@dataclass(frozen=True)
class Edit:
    """Replace lines [start, end) (0-based) with `lines`."""

    start: int
    end: int
    lines: list[str]


def wrap_source(source: str, width: int, *, code: bool = True) -> str:
    """The source with its over-long lines wrapped, as far as the rules allow; what is left stays over. A
    round whose result does not parse is dropped (and so is every later one). `code=False` breaks code only
    inside a bracket opened on an earlier line (`ruff format` does the rest better) and wraps text:
    docstrings, comments, strings."""
    for _ in range(60):
        changed = _round(source, width, code)
        if changed == source:
            break
        try:
            ast.parse(changed)
        except SyntaxError:
            break
        source = changed
    return source


def long_lines(source: str, width: int) -> list[int]:
    """1-based numbers of the lines longer than `width`."""
    return [n for n, line in enumerate(source.split("\n"), 1) if len(line) > width]


# ---- one round: at most one edit per region ----------------------------------------------------------------


def _round(source: str, width: int, code: bool) -> str:
    lines = source.split("\n")
    over = {i for i, line in enumerate(lines) if len(line) > width}
    if not over:
        return source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits: list[Edit] = []
    edits += _docstring_edits(source, lines, tokens, over, width)
    edits += _comment_block_edits(lines, tokens, over, width)
    taken = {i for e in edits for i in range(e.start, e.end)}
    rows: dict[int, list[tokenize.TokenInfo]] = {}
    inside: set[int] = set()
    for t in tokens:
        rows.setdefault(t.start[0], []).append(t)
        if t.type == tokenize.STRING:
            inside |= set(range(t.start[0] + 1, t.end[0] + 1))
    depth_at = _depths(tokens)
    for i in sorted(over - taken):
        edit = _line_edit(lines, rows, inside, depth_at, i, width, code)
        if edit is not None:
            edits.append(edit)
    chosen: list[Edit] = []
    used: set[int] = set()
    for e in edits:
        span = set(range(e.start, max(e.end, e.start + 1)))
        if span & used:
            continue
        used |= span
        chosen.append(e)
    for e in sorted(chosen, key=lambda e: e.start, reverse=True):
        lines[e.start:e.end] = e.lines
    return "\n".join(lines)


# ---- docstrings --------------------------------------------------------------------------------------------


def _docstring_nodes(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value


def _docstring_edits(
    source: str, lines: list[str], tokens: list[tokenize.TokenInfo], over: set[int], width: int
) -> list[Edit]:
    by_start = {t.start: t for t in tokens if t.type == tokenize.STRING}
    edits = []
    for node in _docstring_nodes(ast.parse(source)):
        tok = by_start.get((node.lineno, node.col_offset))
        if tok is None or not any(i in over for i in range(tok.start[0] - 1, tok.end[0])):
            continue
        new = _refill_docstring(tok, lines, width)
        if new is not None:
            edits.append(Edit(tok.start[0] - 1, tok.end[0], new))
    return edits


def _split_literal(text: str) -> tuple[str, str, str]:
    """(prefix, quote, body) of a string literal's source."""
    prefix = re.match(r"[A-Za-z]*", text).group(0)  # type: ignore[union-attr]
    rest = text[len(prefix):]
    quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[:1]
    return prefix, quote, rest[len(quote):len(rest) - len(quote)]


def _refill_docstring(tok: tokenize.TokenInfo, lines: list[str], width: int) -> list[str] | None:
    prefix, quote, body = _split_literal(tok.string)
    if len(quote) != 3:
        return None
    col = tok.start[1]
    head = lines[tok.start[0] - 1][:col] + prefix + quote
    tail = quote + lines[tok.end[0] - 1][tok.end[1]:]
    if tail.rstrip() != quote:  # something after the closing quotes (a pragma): leave the docstring alone
        return None
    text = body.split("\n")
    indent = " " * col
    out: list[str] = []
    k = 0
    while k < len(text):
        if not text[k].strip():
            out.append(text[k])
            k += 1
            continue
        j = k
        while j < len(text) and text[j].strip():
            j += 1
        paragraph = text[k:j]
        first = k == 0
        last = j == len(text)
        src = [(head if first else "") + p for p in paragraph]
        if last:
            src[-1] += tail
        if any(len(s) > width for s in src):
            filled = _refill(paragraph, indent, width, first=head if first else None,
                             suffix=tail if last else "")
            if filled is None:
                out.extend(paragraph)
            else:
                if first:
                    filled[0] = filled[0][len(head):]
                if last:
                    filled[-1] = filled[-1][: len(filled[-1]) - len(tail)]
                out.extend(filled)
        else:
            out.extend(paragraph)
        k = j
    if out == text:
        return None
    joined = "\n".join(out)
    return (head + joined + tail).split("\n")


def _refill(
    paragraph: list[str], indent: str, width: int, *, first: str | None, suffix: str = ""
) -> list[str] | None:
    """The paragraph's lines filled to the width (with `first` before its first line and `suffix` after its
    last, both counted), or None when it is not prose: a drawing, a table, aligned columns, a literal block.
    List items (marked -, 1. or (a)) and definitions (a term, then its text in a column) are filled one by
    one, their continuation lines under their text."""
    items: list[tuple[str, str, list[str]]] = []  # (first line's lead and marker, continuation lead, words)
    for n, line in enumerate(paragraph):
        stripped = line.strip()
        lead = indent if (n == 0 and first is not None) else line[: len(line) - len(line.lstrip())]
        if stripped.startswith(STRUCTURE) or line.rstrip().endswith("\\") or len(lead) < len(indent):
            return None
        item = ITEM.match(stripped)
        term = DEFINITION.match(stripped)
        if item and "  " not in stripped:
            items.append((lead + item.group(0), lead + " " * item.end(), [stripped[item.end():]]))
        elif term:
            items.append((lead + term.group(1), lead + " " * len(term.group(1)), [term.group(2)]))
        elif "  " in stripped:
            return None
        elif items and lead == items[-1][1] and lead != indent:
            items[-1][2].append(stripped)
        elif lead == indent and (not items or items[-1][1] == indent):
            if items:
                items[-1][2].append(stripped)
            else:
                items.append((indent, indent, [stripped]))
        elif lead == indent:  # prose again after a list: its own item
            items.append((indent, indent, [stripped]))
        else:
            return None
    out: list[str] = []
    for n, (opening, hang, words) in enumerate(items):
        initial = opening
        if n == 0 and first is not None:
            initial = first + opening[len(indent):]
        tail = suffix if n == len(items) - 1 else ""
        wrapper = textwrap.TextWrapper(
            width=width, initial_indent=initial, subsequent_indent=hang, break_long_words=False,
            break_on_hyphens=False, expand_tabs=False, replace_whitespace=False,
        )
        filled = wrapper.wrap(" ".join(words) + tail)
        if not filled:
            return None
        out.extend(filled)
    return out


# ---- comment blocks ----------------------------------------------------------------------------------------


def _comment_block_edits(
    lines: list[str], tokens: list[tokenize.TokenInfo], over: set[int], width: int
) -> list[Edit]:
    alone = {t.start[0] - 1: t.start[1] for t in tokens
             if t.type == tokenize.COMMENT and not lines[t.start[0] - 1][: t.start[1]].strip()}
    edits = []
    done: set[int] = set()
    for i in sorted(over):
        if i not in alone or i in done:
            continue
        col = alone[i]
        rule = RULE.match(lines[i].rstrip())
        if rule:
            keep = width - len(rule.group("head"))
            if keep >= 3:
                edits.append(Edit(i, i + 1, [rule.group("head") + rule.group("run")[:keep]]))
            done.add(i)
            continue
        start = i
        while start - 1 in alone and alone[start - 1] == col and _prose_comment(lines[start - 1]):
            start -= 1
        end = i + 1
        while end in alone and alone[end] == col and _prose_comment(lines[end]):
            end += 1
        done |= set(range(start, end))
        block = lines[start:end]
        if any(PRAGMA.match(b.strip()) for b in block):
            continue
        new = _refill_comments(block, col, width)
        if new is not None and new != block:
            edits.append(Edit(start, end, new))
    return edits


def _prose_comment(line: str) -> bool:
    text = line.strip()
    return text.startswith("#") and not text.startswith("#!") and not PRAGMA.match(text) and text != "#"


def _refill_comments(block: list[str], col: int, width: int) -> list[str] | None:
    indent = " " * col + "# "
    texts = []
    for line in block:
        text = line.strip()[1:]
        if text and not text.startswith(" "):
            return None
        texts.append(" " * col + text[1:])
    filled = _refill(texts, " " * col, width - 2, first=None)
    if filled is None:
        return None
    return [indent + f[col:] for f in filled]


# ---- one line: a trailing comment, a string across the width, a comma --------------------------------------


def _line_edit(
    lines: list[str], rows: dict[int, list[tokenize.TokenInfo]], inside: set[int],
    depth_at: dict[tuple[int, int], list[tuple[int, int]]], i: int, width: int, code: bool,
) -> Edit | None:
    row = i + 1
    line = lines[i]
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    on_line = [t for t in rows.get(row, []) if t.type not in skip]
    if not on_line or row in inside:
        return None
    comment = next((t for t in on_line if t.type == tokenize.COMMENT), None)
    if comment is not None and comment.start[1] > 0 and line[: comment.start[1]].strip():
        edit = _move_comment(lines, i, comment, width)
        if edit is not None:
            return edit
    indent = len(line) - len(line.lstrip())
    crossing = [
        t for t in on_line if t.type == tokenize.STRING and t.end[0] == row and t.start[1] < width - 12
        and t.end[1] > width - _closing(line[t.end[1]:])
    ]
    if crossing and crossing[0].start[1] <= indent + 8:
        edit = _split_string(lines, i, crossing[0], depth_at, width, rows)
        if edit is not None:
            return edit
    edit = _break_at_comma(lines, i, on_line, depth_at, width, hanging_only=not code)
    if edit is not None:
        return edit
    if crossing:
        return _split_string(lines, i, crossing[0], depth_at, width, rows)
    return None


def _closing(after: str) -> int:
    """How much of what follows a string has to stay on its line: closing brackets and a comma only, or
    all."""
    return len(after) if not after.strip(" ,)]}:") else 0


def _move_comment(lines: list[str], i: int, comment: tokenize.TokenInfo, width: int) -> Edit | None:
    line = lines[i]
    code = line[: comment.start[1]].rstrip()
    text = comment.string
    pragma = PRAGMA.search(text)
    keep = ""
    if pragma:
        if pragma.start() == 0:
            rest = re.search(r"\s+#\s", text[1:])
            if rest is None:
                return None
            keep, text = text[: rest.start() + 1].rstrip(), text[rest.end() - 1:]
        else:
            keep, text = text[pragma.start():], text[: pragma.start()].rstrip()
    if i > 0 and lines[i - 1].rstrip().endswith("\\"):
        return None
    col = len(line) - len(line.lstrip())
    words = text.lstrip("#").strip()
    if not words:
        return None
    above = textwrap.wrap(words, width=width - col - 2, break_long_words=False, break_on_hyphens=False)
    new_line = code + (f"  {keep}" if keep else "")
    return Edit(i, i + 1, [" " * col + "# " + a for a in above] + [new_line])


def _depths(tokens: list[tokenize.TokenInfo]) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Each token's start → the stack of open brackets (their start positions) just before it."""
    stack: list[tuple[int, int]] = []
    out: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for t in tokens:
        out[t.start] = list(stack)
        if t.type == tokenize.OP and t.string in "([{":
            stack.append(t.start)
        elif t.type == tokenize.OP and t.string in ")]}" and stack:
            stack.pop()
    return out


def _continuation(lines: list[str], i: int, opened: list[tuple[int, int]], first_col: int) -> int:
    """Where a continuation of line i starts: after its innermost bracket when that opened on this line (and
    not far right), else at the line's own indentation (the hanging indent of the bracket opened above)."""
    if opened and opened[-1][0] == i + 1:
        col = opened[-1][1] + 1
        after = lines[i][col:col + 1]
        if col <= 64 and after not in ("", "\n"):
            return col
        return first_col + 4
    return first_col


def _split_string(
    lines: list[str], i: int, tok: tokenize.TokenInfo, depth_at: dict[tuple[int, int], list[tuple[int, int]]],
    width: int, rows: dict[int, list[tokenize.TokenInfo]],
) -> Edit | None:
    prefix, quote, body = _split_literal(tok.string)
    fstring = "f" in prefix.lower()
    col = tok.start[1]
    opened = depth_at.get(tok.start, [])
    line = lines[i]
    wrap = not opened
    if wrap and (line.rstrip().endswith("\\") or (i > 0 and lines[i - 1].rstrip().endswith("\\"))):
        return None  # part of a statement continued by backslashes: parentheses would cut it
    budget = width - col - len(prefix) - 2 * len(quote) - (1 if wrap else 0)
    cut = _cut(body, budget, fstring)
    if cut is None:
        return None
    first, second = body[:cut], body[cut:]

    def piece(text: str) -> str:
        p = prefix
        if fstring and "{" not in text and "}" not in text:
            p = p.replace("f", "").replace("F", "")
        return p + quote + text + quote

    first_col = len(line) - len(line.lstrip())
    cont = col if tok.start[1] == first_col else _continuation(lines, i, opened, first_col)
    following = [t for t in rows.get(i + 2, []) if t.type not in (tokenize.NL, tokenize.COMMENT)]
    nxt = following[0] if following else None
    if not wrap and not line[tok.end[1]:].strip() and nxt is not None and nxt.type == tokenize.STRING:
        n_prefix, n_quote, n_body = _split_literal(nxt.string)
        if n_prefix == prefix and n_quote == quote and len(quote) == 1:
            # The literal goes on in the next line: the cut-off words open that line's literal, which a later
            # round splits again if it is now too long (a run of literals is filled like a paragraph).
            moved = " " * nxt.start[1] + piece(second + n_body) + lines[i + 1][nxt.end[1]:]
            return Edit(i, i + 2, [line[:col] + piece(first), moved])
    if wrap:
        head = line[:col] + "(" + piece(first)
        rest = " " * (col + 1) + piece(second) + ")" + line[tok.end[1]:]
    else:
        head = line[:col] + piece(first)
        rest = " " * cont + piece(second) + line[tok.end[1]:]
    return Edit(i, i + 1, [head, rest])


def _cut(body: str, budget: int, fstring: bool) -> int | None:
    """The index in the literal's body to split at (the space starts the second piece): the last that fits."""
    best = None
    depth = 0
    k = 0
    slashes = 0
    while k < len(body) and k <= budget:
        ch = body[k]
        if fstring and ch in "{}":
            if k + 1 < len(body) and body[k + 1] == ch and depth == 0:
                k += 2
                slashes = 0
                continue
            depth += 1 if ch == "{" else -1
        if ch == " " and depth == 0 and slashes % 2 == 0 and k >= 10:
            best = k
        slashes = slashes + 1 if ch == "\\" else 0
        k += 1
    return best


def _break_at_comma(
    lines: list[str], i: int, on_line: list[tokenize.TokenInfo],
    depth_at: dict[tuple[int, int], list[tuple[int, int]]], width: int, *, hanging_only: bool = False,
) -> Edit | None:
    """Break after the last comma that fits, inside brackets. `hanging_only`: only inside a bracket opened on
    an earlier line, where the rest continues at the line's own indentation (the house's packed style); a
    bracket opened on this line is left to `ruff format`."""
    line = lines[i]
    first_col = len(line) - len(line.lstrip())
    best = None
    for n, t in enumerate(on_line[:-1]):
        opened = depth_at.get(t.start)
        if hanging_only and opened and opened[-1][0] == i + 1:
            continue
        if t.type == tokenize.OP and t.string == "," and t.end[1] <= width and opened:
            nxt = on_line[n + 1]
            if nxt.type == tokenize.COMMENT:
                continue
            best = (t, nxt)
    if best is None:
        return None
    comma, nxt = best
    cont = _continuation(lines, i, depth_at[comma.start], first_col)
    if cont >= nxt.start[1]:
        return None
    return Edit(i, i + 1, [line[: comma.end[1]], " " * cont + line[nxt.start[1]:]])


# ---- the check: the same program ---------------------------------------------------------------------------


class _Normal(ast.NodeTransformer):
    """Docstrings with their whitespace collapsed, and each f-string's adjacent literal parts merged."""

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        merged: list[ast.expr] = []
        for v in node.values:
            v = self.visit(v)
            if merged and isinstance(v, ast.Constant) and isinstance(merged[-1], ast.Constant):
                merged[-1] = ast.Constant(merged[-1].value + v.value)
            else:
                merged.append(v)
        if all(isinstance(v, ast.Constant) for v in merged):
            return ast.Constant("".join(v.value for v in merged))  # type: ignore[attr-defined]
        node.values = merged
        return node


def same_program(before: str, after: str) -> bool:
    """Whether two sources parse to the same tree, docstring whitespace and the split of literals aside."""
    trees = []
    for source in (before, after):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return False
        for doc in _docstring_nodes(tree):
            doc.value = " ".join(doc.value.split())
        trees.append(ast.dump(_Normal().visit(tree), include_attributes=False))
    return trees[0] == trees[1]


# ---- the command -------------------------------------------------------------------------------------------


def python_files(paths: Iterable[str]) -> list[Path]:
    """The .py files under the paths, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return [p for p in out if ".venv" not in p.parts]


def main(argv: list[str] | None = None) -> int:
    """Wrap the files in place (or `--check`), then list every line still over the width."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--width", type=int, default=110)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file would change")
    args = ap.parse_args(argv)
    changed, refused, left = [], [], []
    for path in python_files(args.paths):
        before = path.read_text(encoding="utf-8")
        after = wrap_source(before, args.width)
        if after != before:
            if not same_program(before, after):
                refused.append(str(path))
                after = before
            else:
                changed.append(str(path))
                if not args.check:
                    path.write_text(after, encoding="utf-8")
        left += [f"{path}:{n}" for n in long_lines(after, args.width)]
    print(f"{len(changed)} file(s) {'would change' if args.check else 'changed'}")
    for r in refused:
        print(f"refused (the tree would change): {r}")
    for entry in left:
        print(f"still over {args.width}: {entry}")
    if args.check:
        return 1 if changed else 0
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
