"""Every file the product reads or writes goes through reconciler/files.py, and every YAML text through the
one guarded loader (reconciler/workspace/yamlpos.py): read from the package's AST, so a new path that opens,
reads, writes or YAML-loads a file on its own fails here, naming the file and line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "reconciler"
GATE = "files.py"
YAML_LOADER = "workspace/yamlpos.py"

# Method names that read or write a file by path, whatever the object (Path, pandas, shutil, a figure, ...).
FILE_METHODS = {
    "read_text", "read_bytes", "write_text", "write_bytes", "open", "read_csv", "read_parquet", "read_table",
    "read_json", "read_excel", "to_csv", "to_parquet", "to_json", "copyfile", "copy", "copy2", "copytree",
    "move", "savefig", "mkfifo", "fdopen", "symlink_to", "hardlink_to", "touch", "rename", "replace",
    "unlink",
}
# Calls by plain name that open files: the open() built-in, os.open, io.open, tempfile's files.
FILE_FUNCTIONS = {"open", "mkstemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"}
# YAML parsing entry points, whatever the YAML object.
YAML_METHODS = {
    "load",
    "load_all",
    "parse",
    "compose",
    "compose_all",
    "safe_load",
    "full_load",
    "unsafe_load",
}

# The only exceptions, each with its reason. (relative file, call name) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    # A lock file, never read or written: flock() needs an open descriptor, and the file's content is empty.
    ("journal/database.py", "open"): "the SQLite migration lock: a descriptor for flock, no data read or"
    " written",
    ("backtest/data.py", "read_csv"): "parses the bytes the gate read (io.BytesIO), never a path",
    ("backtest/data.py", "read_parquet"): "parses the bytes the gate read (io.BytesIO), never a path",
    ("backtest/charts.py", "savefig"): "renders into an in-memory buffer, which the gate writes",
    ("backtest/sweep.py", "savefig"): "the sweep's heatmap, into an in-memory buffer, which the gate writes",
    ("policy/capabilities.py", "read_bytes"): "a developer command scanning regopy's own installed binary for"
    " built-in names: no input of a user's, and larger than any kind's cap",
    ("cli/main.py", "open"): "points stdout at os.devnull once its reader has gone: nothing is read or"
    " written",
}
# Receivers whose methods of these names are not file I/O (str.replace, dict.copy, Journal.open, ...).
NOT_FILES = {"str", "text", "raw", "value", "message", "name", "s", "line", "dict", "Journal", "cls", "node",
             "interpreter", "self", "frame", "out", "data", "plan", "doc", "spec", "state", "cell", "row",
             "settings", "held", "quotes", "positions", "other", "copy", "targets", "key", "fields", "reason",
             "url", "body", "header", "query", "where", "part", "word", "symbol", "ref", "path_text", "kind",
             "expected", "current", "result", "item", "entry", "template", "env", "mapping", "names", "tag"}


def _receiver(node: ast.expr) -> str:
    """The name a method is called on: `Path(x).open` -> Path, `self.path.open` -> path, `"a".replace` ->
    str."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _receiver(node.func)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "str"
    if isinstance(node, ast.JoinedStr):
        return "str"
    return type(node).__name__


def _string_method(call: ast.Call, name: str) -> bool:
    """`x.replace(a, b)` with two arguments is str.replace (Path.replace takes one); `x.copy()` with none is a
    dict or model copy (shutil.copy takes two)."""
    # str.replace(a, b), datetime.replace(tzinfo=)
    if name == "replace" and (len(call.args) != 1 or call.keywords):
        return True
    if name in ("to_json", "to_csv") and not call.args and not call.keywords:  # no path: returns the text
        return True
    return name == "copy" and not call.args


GATE_NAMES = {"files", "gate"}  # how modules import the gate: `from reconciler import files [as gate]`


def violations(root: Path = ROOT) -> list[str]:
    """Every file or YAML call outside its gate, as `file:line: call`."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in FILE_FUNCTIONS:
                name, receiver = func.id, ""
            elif isinstance(func, ast.Attribute):
                name, receiver = func.attr, _receiver(func.value)
            else:
                continue
            is_yaml = name in YAML_METHODS and receiver.lower() in {"yaml", "yaml()", "call"} | {
                "YAML".lower()
            }
            # json.load(fh) reads a file; json.loads is text
            is_json_file = name == "load" and receiver == "json"
            is_file = (
                name in FILE_METHODS or name in FILE_FUNCTIONS
            ) and receiver not in NOT_FILES | GATE_NAMES
            if is_file and _string_method(node, name):
                is_file = False
            if (name, receiver) in {("open", "os"), ("open", "io")}:
                is_file = True
            if is_yaml and rel != YAML_LOADER:
                found.append(f"reconciler/{rel}:{node.lineno}: YAML {receiver}.{name}() outside"
                             f" {YAML_LOADER}")
            elif (is_file or is_json_file) and rel != GATE and (rel, name) not in ALLOWED:
                shown = f"{receiver}.{name}" if receiver else name
                found.append(f"reconciler/{rel}:{node.lineno}: {shown}() outside the file gate ({GATE})")
    return found


def test_every_file_read_and_write_goes_through_the_gate() -> None:
    found = violations()
    assert found == [], "\n".join(found)


def test_the_walk_finds_each_kind_of_call_it_looks_for(tmp_path: Path) -> None:
    """The walk is not vacuous: a module written with each forbidden call is reported once per call."""
    fake = tmp_path / "reconciler"
    (fake / "spec").mkdir(parents=True)
    calls = [
        'open("x")', 'Path("x").read_text()', 'Path("x").read_bytes()', 'Path("x").open()',
        'p.write_text("a")',
        'p.write_bytes(b"a")', 'os.open("x", 0)', 'YAML().load("a: 1")', 'yaml.load_all(text)',
        'json.load(fh)',
        'pd.read_csv("x.csv")', 'shutil.copyfile("a", "b")', 'tempfile.mkstemp()',
    ]
    (fake / "module.py").write_text("\n".join(calls) + "\n")
    (fake / "files.py").write_text('open("allowed here")\n')
    (fake / "fine.py").write_text(
        '"a".replace("b",'
        ' "c")\nd.copy()\njson.loads(s)\nts.replace(tzinfo=UTC)\nm.to_json()\nfiles.read_text(p, k)\n'
    )
    found = violations(fake)
    assert len(found) == len(calls), found
    assert all(f.startswith("reconciler/module.py") for f in found), found
