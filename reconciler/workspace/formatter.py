"""`reconciler fmt`: normalise YAML files in place, keeping every comment (ruamel.yaml round-trip).

Normal form: two-space indentation (lists indented under their key), single spaces after colons and commas,
structural keys in the documented order (apiVersion, kind, metadata, spec; spec: account, model, targets,
cash, trading, symbols), no trailing blank lines, one newline at the end. Symbols and settings keep the order
they were written in: comments that group them (`# bonds`) belong to the lines around them, and sorting would
move them away. For the same reason a mapping whose keys have full-line comments between them keeps its key
order.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from reconciler import files
from reconciler.errors import ReconcilerError
from reconciler.workspace.yamlpos import load_all, parse_documents, read_text

ORDER: dict[str, dict[tuple[str, ...], list[str]]] = {
    "Portfolio": {
        (): ["apiVersion", "kind", "metadata", "spec"],
        ("metadata",): ["name", "description"],
        ("spec",): ["account", "model", "targets", "cash", "trading", "symbols", "tax"],
    },
    "Model": {
        (): ["apiVersion", "kind", "metadata", "spec"],
        ("metadata",): ["name", "description"],
        ("spec",): ["targets", "cash"],
    },
    "Config": {
        (): ["apiVersion", "kind", "portfolios_dir", "journal", "broker", "policies", "apply"],
    },
}
_START = re.compile(r"\A(?:\s*#[^\n]*\n|\s*\n)*---")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml


def _reorder(node: CommentedMap, order: list[str], *, root: bool) -> None:
    keys = [str(k) for k in node]
    wanted = [k for k in order if k in keys] + [k for k in keys if k not in order]
    # Above a document's first key is its header (`# yaml-language-server`, a title): it stays on top.
    first_moves = not root and wanted[0] != keys[0]
    if wanted != keys and not _comments_between_keys(node, first_moves=first_moves):
        _trim_end(node)  # blank lines at the end of the file belong to the end, not to the key moving up
        for key in wanted:
            node.move_to_end(key)


def _comments_between_keys(node: CommentedMap, *, first_moves: bool) -> bool:
    """Whether a full-line comment stands between two keys of `node` (or above its first key, when that one
    would move). ruamel keeps such a comment with the key *before* it, so reordering would put it above the
    wrong key: then the keys keep the order they were written in."""
    for key in node:
        if _full_line_comment(_tail_token(node, key)):
            return True
    if first_moves and node.ca.comment:
        tokens = [t for part in node.ca.comment if part for t in (part if isinstance(part, list) else [part])]
        return any(
            line.strip().startswith("#") for t in tokens if t is not None for line in str(t.value).split("\n")
        )
    return False


def _deepest(node: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """The mapping and key that own the comment after `key`'s value: the deepest last key when the value is
    itself a mapping (ruamel keeps what follows a nested mapping on its last key)."""
    value = node[key]
    while isinstance(value, CommentedMap) and value:
        node, key = value, list(value)[-1]
        value = node[key]
    return node, key


def _tail_token(node: CommentedMap, key: Any) -> Any:
    """The comment token after a key's value (after a list's last item, when the value is a list)."""
    owner, key = _deepest(node, key)
    value = owner[key]
    if isinstance(value, CommentedSeq) and value:
        last = value.ca.items.get(len(value) - 1)
        if last and last[0] is not None:
            return last[0]
    item = owner.ca.items.get(key)
    return item[2] if item and len(item) > 2 else None


def _full_line_comment(token: Any) -> bool:
    """A comment on a line of its own (not only the end-of-line comment of the value before it)."""
    return token is not None and any(
        line.strip().startswith("#") for line in str(token.value).split("\n")[1:]
    )


def _trim_end(node: CommentedMap) -> None:
    """Drop blank lines after the last value of `node` (found on its deepest last key), keeping comments."""
    if not node:
        return
    owner, last = _deepest(node, list(node)[-1])
    item = owner.ca.items.get(last)
    token = item[2] if item and len(item) > 2 else None
    if token is not None:
        text = token.value.rstrip("\n")
        if text.strip():
            token.value = text + "\n"
        else:
            owner.ca.items.pop(last)


_BLOCK = re.compile(r"^(\s*)(?:-\s+)?[^#\s][^#]*:\s*[|>][-+0-9]*\s*(?:#.*)?$")


def _indent_comments(text: str) -> str:
    """Full-line comments take the indentation of the line they stand above (outside block scalars)."""
    lines = text.split("\n")
    block_indent: int | None = None  # inside a block scalar: its key's indentation
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if _BLOCK.match(line):
            block_indent = indent
            continue
        if stripped.startswith("#"):
            following = next((x for x in lines[i + 1:] if x.strip() and not x.lstrip().startswith("#")), "")
            lines[i] = " " * (len(following) - len(following.lstrip())) + stripped
    return "\n".join(lines)


def _normalise(doc: Any) -> None:
    if not isinstance(doc, CommentedMap):
        return
    for path, order in ORDER.get(str(doc.get("kind")), {}).items():
        node: Any = doc
        for part in path:
            node = node.get(part) if isinstance(node, CommentedMap) else None
        if isinstance(node, CommentedMap):
            _reorder(node, order, root=not path)


def format_text(text: str, where: str) -> str:
    """The normal form of one YAML file's text; a syntax error is raised with its position."""
    for _ in parse_documents(text, Path(where)):  # the loader's precise syntax errors, before ruamel's own
        pass
    yaml = _yaml()
    try:
        docs = load_all(yaml, text, Path(where))
    except YAMLError as exc:
        raise ReconcilerError(f"YAML error: {exc}", where=where, fix="fix the YAML syntax") from None
    for doc in docs:
        _normalise(doc)
    yaml.explicit_start = bool(_START.match(text)) or None
    buf = io.StringIO()
    yaml.dump_all(docs, buf)
    out = _indent_comments(buf.getvalue())
    return out.rstrip("\n") + "\n" if out.strip() else ""


def format_file(path: Path, *, write: bool = True) -> bool:
    """Normalise one file; True when it was (or, with write=False, would be) changed."""
    text = read_text(path, missing_fix="pass an existing YAML file", kind=files.PORTFOLIO)
    formatted = format_text(text, str(path))
    if formatted == text:
        return False
    if write:
        files.write_text(path, formatted, files.PORTFOLIO, "this file")  # a link is refused, not replaced
    return True
