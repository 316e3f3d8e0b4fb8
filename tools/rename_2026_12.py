"""The mechanical renames of issue 24 §5, run once every branch of the round has merged (idempotent: a second
run changes nothing):

    python -m tools.rename_2026_12                          all three steps, in this order
    python -m tools.rename_2026_12 configs|package|lines    one of them

- configs: a configuration class that shares its name with the thing it configures (`PaperBroker`,
  `AlpacaBroker`, `CcxtBroker`, `Journal`, and any other class of the models module whose name a class
  elsewhere in the package has) is renamed `<Name>Config`; imports that aliased it (`AlpacaBroker as
  AlpacaSpec`) import the new name, and the alias is replaced by it. Names are changed as tokens, never inside
  strings or comments, and never after a dot (an attribute), except after the models module itself
  (`models.Journal`).
- package: `reconciler/spec/` (which reads as "tests" to several tools) becomes `reconciler/workspace/`, what
  it holds: the workspace's YAML loaded into models; `tests/spec/` follows. Imports, paths in strings,
  comments and docs, the Makefile and pyproject.toml follow; the layering test's part name too.
- lines: ruff's line length goes from 120 to 110 and only the lines over it change: their text by
  tools/wrap_lines.py (docstrings and comments filled again, strings split), their code by `ruff format` on
  just the statements over (and ruff's import sorting), each file checked to parse to the same tree. What is
  left is listed for a person.

Afterwards: `pip install -e '.[dev]'` (module paths moved), the JSON schemas are written again (the configs'
names are their titles), then ruff, mypy and the tests.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ("reconciler", "tests", "bench", "tools")
SELF = Path(__file__).resolve()
NAMED = ("PaperBroker", "AlpacaBroker", "CcxtBroker", "Journal")
MODELS = ("reconciler.spec.models", "reconciler.workspace.models")
WIDTH = 110


def python_files() -> list[Path]:
    """Every .py file of the code folders, this script aside."""
    out = [p for d in CODE for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in out if p.resolve() != SELF and ".venv" not in p.parts and "__pycache__" not in p.parts]


def text_files() -> list[Path]:
    """Every tracked text file a rename may have to reach (code, docs, build and CI files), this script
    aside."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    suffixes = {".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".txt", ".j2", ".rego", ".tsv"}
    out = []
    for name in listed.splitlines():
        path = ROOT / name
        if path.resolve() == SELF or not path.is_file():
            continue
        if path.suffix in suffixes or path.name in ("Makefile", "Dockerfile"):
            out.append(path)
    return out


# ---- configs -----------------------------------------------------------------------------------------------


def models_path() -> Path:
    """The module of the configuration models, before or after the package step."""
    for name in MODELS:
        path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
        if path.is_file():
            return path
    raise SystemExit("no models module (reconciler/spec/models.py or reconciler/workspace/models.py)")


def config_renames() -> dict[str, str]:
    """Old → new for every configuration class named like the thing it configures."""
    models = models_path()
    defined = {n.name for n in ast.parse(models.read_text(encoding="utf-8")).body if isinstance(n,
        ast.ClassDef)}
    elsewhere: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if path != models:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            elsewhere |= {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    wanted = (set(NAMED) | (defined & elsewhere)) & defined
    return {old: old + "Config" for old in sorted(wanted) if old + "Config" not in defined}


def rename_configs() -> list[str]:
    """Rename the classes and every use of them; the files changed."""
    renames = config_renames()
    if not renames:
        return []
    models = models_path()
    changed = []
    for path in python_files():
        source = path.read_text(encoding="utf-8")
        new = _rename_in(source, renames, is_models=path == models)
        if new != source:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path.relative_to(ROOT)))
    for doc in (ROOT / "docs").glob("*.md"):
        text = doc.read_text(encoding="utf-8")
        new = text
        for old, to in renames.items():
            new = re.sub(rf"\bmodels\.{old}\b", f"models.{to}", new)
        if new != text:
            doc.write_text(new, encoding="utf-8")
            changed.append(str(doc.relative_to(ROOT)))
    return changed


def _rename_in(source: str, renames: dict[str, str], *, is_models: bool) -> str:
    tree = ast.parse(source)
    names: dict[str, str] = dict(renames) if is_models else {}
    owners: set[str] = set()  # local names of the models module itself
    import_rows: set[int] = set()
    aliases: dict[tuple[int, str], str] = {}  # (row, old name) → alias dropped
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in MODELS:
            import_rows |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            for a in node.names:
                if a.name in renames:
                    names[a.asname or a.name] = renames[a.name]
                    if a.asname:
                        aliases[(node.lineno, a.name)] = a.asname
        elif isinstance(node, ast.ImportFrom) and node.module in ("reconciler.spec", "reconciler.workspace"):
            owners |= {a.asname or a.name for a in node.names if a.name == "models"}
        elif isinstance(node, ast.Import):
            owners |= {a.asname for a in node.names if a.name in MODELS and a.asname}
    if not names and not owners:
        return source
    lines = source.split("\n")
    edits: list[tuple[int, int, int, str]] = []  # row, start col, end col, text
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)]
    k = 0
    while k < len(tokens):
        t = tokens[k]
        prev = tokens[k - 1] if k else None
        before = tokens[k - 2] if k > 1 else None
        if t.type == tokenize.NAME and t.start[0] in import_rows and t.string in renames:
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            if nxt is not None and nxt.string == "as" and k + 2 < len(tokens):
                edits.append((t.start[0], t.start[1], tokens[k + 2].end[1], renames[t.string]))
                k += 3
                continue
            edits.append((t.start[0], t.start[1], t.end[1], renames[t.string]))
        elif t.type == tokenize.NAME and t.start[0] not in import_rows:
            dotted = prev is not None and prev.string == "."
            if not dotted and t.string in names:
                edits.append((t.start[0], t.start[1], t.end[1], names[t.string]))
            elif dotted and before is not None and before.string in owners and t.string in renames:
                edits.append((t.start[0], t.start[1], t.end[1], renames[t.string]))
        k += 1
    for row, start, end, text in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + text + line[end:]
    return "\n".join(lines)


# ---- package -----------------------------------------------------------------------------------------------

PATHS = [
    (re.compile(r"reconciler\.spec\b"), "reconciler.workspace"),
    (re.compile(r"reconciler/spec\b"), "reconciler/workspace"),
    (re.compile(r"tests\.spec\b"), "tests.workspace"),
    (re.compile(r"tests/spec\b"), "tests/workspace"),
    (re.compile(r"`spec` \(YAML → models\)"), "`workspace` (YAML → models)"),
    (re.compile(r"├── spec/      "), "├── workspace/ "),  # README's tree keeps its column
]
BARE = re.compile(r"(?<![\w/.-])spec/(?=\w)")  # "spec/plugins.py" in a docstring, a comment or a string


def move_package() -> list[str]:
    """Move the folders and rewrite every reference; the files changed."""
    changed = []
    for old, new in (("reconciler/spec", "reconciler/workspace"), ("tests/spec", "tests/workspace")):
        src, dst = ROOT / old, ROOT / new
        if src.is_dir() and any(src.rglob("*.py")):
            if dst.exists():
                raise SystemExit(f"{new} exists already: move {old} by hand")
            subprocess.run(["git", "mv", old, new], cwd=ROOT, check=True)
            changed.append(f"{old} → {new}")
        if src.is_dir() and not any(src.rglob("*.py")):
            shutil.rmtree(src)  # only caches were left behind
    for path in text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a test's deliberately broken file: no path of ours in it
            continue
        new = text
        for pattern, to in PATHS:
            new = pattern.sub(to, new)
        if path.suffix in (".py", ".md"):
            new = BARE.sub("workspace/", new)
        if path == ROOT / "tests" / "test_layers.py":
            new = new.replace('"spec"', '"workspace"')
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path.relative_to(ROOT)))
    return changed


# ---- lines -------------------------------------------------------------------------------------------------


def wrap_lines() -> list[str]:
    """Line length 110 in ruff's settings and in every file; what is still over, for a person."""
    sys.path.insert(0, str(ROOT))
    from tools.wrap_lines import long_lines, same_program, wrap_source

    pyproject = ROOT / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(re.sub(r"(?m)^line-length = \d+$", f"line-length = {WIDTH}", text), encoding="utf-8")
    ruff = str(Path(sys.executable).with_name("ruff"))
    equivalents = _equivalent_mutants()
    # Text first (docstrings, comments, strings), then ruff's formatter on each statement still over, which
    # may put a string on a line of its own that the next round splits; last, commas for what ruff left.
    for code in (False, False, False, True):
        refused = []
        for path in python_files():
            before = path.read_text(encoding="utf-8")
            after = wrap_source(before, WIDTH, code=code)
            if after != before:
                if same_program(before, after):
                    path.write_text(after, encoding="utf-8")
                else:
                    refused.append(f"{path.relative_to(ROOT)}: not wrapped (the tree would change)")
        if not code:
            subprocess.run([ruff, "check", "-q", "--select", "I", "--fix", *CODE], cwd=ROOT, check=False)
            for path in python_files():
                _format_statements_over(path, ruff, long_lines, same_program)
    _rewrite_equivalents(equivalents)
    left = [f"{p.relative_to(ROOT)}:{n}" for p in python_files() for n in long_lines(p.read_text("utf-8"),
        WIDTH)]
    return refused + [f"{entry}: still over {WIDTH}" for entry in left]


def _equivalent_mutants() -> dict[int, tuple[str, int]]:
    """tools/equivalent-mutants.tsv matches a mutant by its source lines' text, which wrapping changes: each
    entry's mutant by number (row of the file → module, mutant index), numbers a wrap keeps (same tree)."""
    from tools.mutants import CORE, EQUIVALENT, describe

    found: dict[int, tuple[str, int]] = {}
    described: dict[str, list[Any]] = {}
    for row, line in enumerate(EQUIVALENT.read_text(encoding="utf-8").split("\n")):
        parts = line.split("\t")
        if line.startswith("#") or len(parts) != 4:
            continue
        module = parts[0].strip()
        if module not in described:
            described[module] = describe(CORE / f"{module}.py", module)
        lines = (parts[1].strip(), parts[2].strip())
        match = [m.index for m in described[module] if (m.original, m.mutated) == lines]
        if len(match) == 1:
            found[row] = (module, match[0])
    return found


def _rewrite_equivalents(found: dict[int, tuple[str, int]]) -> None:
    """Each entry's lines as its mutant reads now (its reason kept)."""
    from tools.mutants import CORE, EQUIVALENT, describe

    rows = EQUIVALENT.read_text(encoding="utf-8").split("\n")
    described = {module: describe(CORE / f"{module}.py", module) for module, _ in found.values()}
    for row, (module, index) in found.items():
        parts = rows[row].split("\t")
        mutant = described[module][index]
        rows[row] = "\t".join([parts[0], mutant.original, mutant.mutated, parts[3]])
    EQUIVALENT.write_text("\n".join(rows), encoding="utf-8")


def _format_statements_over(path: Path, ruff: str, long_lines: Any, same_program: Any) -> None:
    """`ruff format` on each statement still over the width (code, not text: a comment or a string that spans
    lines is left for a person), kept only when the file's tree is the same."""
    source = path.read_text(encoding="utf-8")
    lines = source.split("\n")
    in_text = {r for t in tokenize.generate_tokens(io.StringIO(source).readline)
               if t.type == tokenize.STRING and t.end[0] > t.start[0] for r in range(t.start[0],
                   t.end[0] + 1)}
    for row in sorted(long_lines(source, WIDTH), reverse=True):
        if lines[row - 1].lstrip().startswith("#") or row in in_text:
            continue
        before = path.read_text(encoding="utf-8")
        subprocess.run([ruff, "format", "-q", f"--line-length={WIDTH}", f"--range={row}:1-{row + 1}:1",
                        str(path)],
                       cwd=ROOT, check=False)
        after = path.read_text(encoding="utf-8")
        if after != before and not same_program(before, after):
            path.write_text(before, encoding="utf-8")


def write_schemas() -> None:
    """The JSON schemas again (`make schema`): the configuration models' names are their titles."""
    python = sys.executable
    plan = subprocess.run(
        [python, "-c", "import json; from reconciler.core.models import Plan; "
         "print(json.dumps(Plan.model_json_schema(mode='serialization'), indent=2, sort_keys=True))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    (ROOT / "docs" / "plan.schema.json").write_text(plan, encoding="utf-8")
    package = "workspace" if (ROOT / "reconciler" / "workspace").is_dir() else "spec"
    subprocess.run(
        [python, "-c", f"from pathlib import Path; from reconciler.{package}.schema import write_schemas; "
         "write_schemas(Path('docs'))"],
        cwd=ROOT, check=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the steps asked for (all by default) and say what each changed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="*", metavar="STEP", help="configs, package or lines (default: all three)")
    steps = ap.parse_args(argv).steps or ["configs", "package", "lines"]
    unknown = set(steps) - {"configs", "package", "lines"}
    if unknown:
        ap.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    if "configs" in steps:
        done = rename_configs()
        ruff = str(Path(sys.executable).with_name("ruff"))  # a dropped alias may move an import in its block
        subprocess.run([ruff, "check", "-q", "--select", "I", "--fix", *CODE], cwd=ROOT, check=False)
        print(f"configs: {len(done)} file(s) changed")
    if "package" in steps:
        done = move_package()
        ruff = str(Path(sys.executable).with_name("ruff"))  # reconciler.workspace sorts where .spec did not
        subprocess.run([ruff, "check", "-q", "--select", "I", "--fix", *CODE], cwd=ROOT, check=False)
        print(f"package: {len(done)} change(s)")
    if "lines" in steps:
        left = wrap_lines()
        print(f"lines: {len(left)} left for a person")
        for entry in left:
            print(f"  {entry}")
    write_schemas()  # last: pydantic takes a model's docstring, filled again by `lines`, as its description
    print("schemas written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
