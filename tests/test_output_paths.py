"""Every path by which text leaves the process is enumerated here, with the escaper of its kind
(reconciler/shown.py), so a new output cannot skip it:
- terminal: `print`, `sys.stdout/stderr.write` and rich consoles write to `sys.stdout`/`sys.stderr`, which the
  CLI wraps in `ScrubbedStream` (scrub, then `shown.terminal`); nothing writes to the process's streams
  another way;
- log: handlers and formatters are made in `reconciler/logs.py` only (`TextFormatter` shows text, JSON
  escapes);
- GitHub: every request goes through `GitHub._request`, which passes the body and title through
  `shown.markdown`;
- files: every file the product writes is listed with what guards its text; a markdown one calls
  `shown.markdown`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
STREAMS = {"sys.stdout", "sys.stderr"}

# Every file write, by module and function, with the guard of its text. A new one fails the test until it is
# routed through its escaper and listed here.
FILE_WRITES = {
    ("cli/apply_cmd.py", "write"): "job summary: shown.markdown",
    ("render/outcomes.py", "_print"): "apply's outcome lines off a terminal: the rich console's own file, the"
    " CLI's ScrubbedStream (scrub, then shown.terminal), the bytes rich would write",
    ("execution/planfile.py", "write_plan"): "plan file: planning._without_secrets refuses a credential",
    ("cli/status_cmd.py", "run"): "status --out: JSON (every control escaped by json.dumps), scrubbed",
    ("execution/importing.py", "import_portfolio"): "a portfolio YAML written by `import` (values"
    " YAML-quoted)",
    ("backtest/report.py", "write_chart_report"): "the backtest report: HTML autoescaped by jinja2, or a PNG",
    ("cli/backtest_cmd.py", "_sweep"): "a sweep's heatmap: a PNG rendered in memory (sweep.heatmap_png)",
    ("gitops/refs.py", "_extract"): "a blob of the repository itself, copied as it is",
    ("workspace/formatter.py", "format_file"): "`fmt`: the user's own YAML file, reformatted",
    ("workspace/schema.py", "write_schemas"): "the JSON schemas of the configuration (no outside text)",
    ("cli/github_cmd.py", "_overrides"): "the overrides read from reviews, as JSON for the apply job (not"
    " shown)",
    ("gitops/reviewed.py", "reviewed_entry"): "a reviewed plan file, copied byte for byte (its seal is"
    " checked when read)",
    ("cli/github_cmd.py", "_merge_group"): "job summary of a merge queue batch: shown.markdown",
    ("gitops/sequence.py", "write_manifest"): "the reviewed plans' manifest, JSON for the apply job (not"
    " shown)",
    ("gitops/proposed.py", "read_proposed"): "a blob of the proposed commit, copied as it is",
    ("files.py", "write_text"): "the file gate itself (reconciler/files.py); its callers are each listed"
    " here",
    ("files.py", "write_bytes"): "the file gate itself (reconciler/files.py); its callers are each listed"
    " here",
    ("cli/main.py", "main"): "os.write of our own fixed message when stdout or stderr is closed",
    ("policy/capabilities.py", "main"): "the built-in capability table, a developer's tool (regopy's own"
    " words)",
    ("emulator/server.py", "_send"): "the emulator's HTTP answers (a test double, not the product's output)",
    ("brokers/refusals.py", "_keep"): "--broker-bodies: broker error bodies the user opted into,"
    " redact.untrusted",
}
MARKDOWN_WRITERS = {("cli/apply_cmd.py", "write"), ("cli/github_cmd.py", "_merge_group")}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield str(path.relative_to(PACKAGE)), ast.parse(path.read_text(), str(path))


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """(enclosing function name, node) for every node; module level is ''."""
    def walk(node: ast.AST, name: str) -> Iterator[tuple[str, ast.AST]]:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else name
            yield inner, child
            yield from walk(child, inner)
    yield from walk(tree, "")


def calls(name: str) -> list[tuple[str, str, ast.Call]]:
    """(module, function, call) of every call whose callee is named `name` (`f(...)` or `x.f(...)`)."""
    out = []
    for module, tree in modules():
        for function, node in functions(tree):
            if isinstance(node, ast.Call):
                callee = node.func
                called = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
                if called == name:
                    out.append((module, function, node))
    return out


def stream_names(tree: ast.Module) -> set[str]:
    """Names bound only to sys.stdout or sys.stderr (`where = sys.stderr if … else sys.stdout`)."""
    bound: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)

    def only_streams(value: ast.expr) -> bool:
        leaves = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
        return all(ast.unparse(leaf) in STREAMS for leaf in leaves)

    return {name for name, values in bound.items() if all(only_streams(v) for v in values)}


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_every_print_writes_to_a_wrapped_stream() -> None:
    trees = dict(modules())
    bad = []
    for module, function, call in calls("print"):
        target = keyword(call, "file")
        if isinstance(call.func, ast.Attribute) or target is None:
            continue  # console.print (checked below), or print to sys.stdout
        if ast.unparse(target) not in STREAMS | stream_names(trees[module]):
            bad.append(f"{module}:{call.lineno} ({function})")
    assert bad == []


def test_every_console_writes_to_a_wrapped_stream() -> None:
    trees = dict(modules())
    bad = []
    for module, _, call in calls("Console"):
        target = keyword(call, "file")
        if target is not None and ast.unparse(target) not in STREAMS | stream_names(trees[module]):
            bad.append(f"{module}:{call.lineno}")
    assert bad == []


@pytest.mark.parametrize("attribute", ["__stdout__", "__stderr__", "buffer"])
def test_nothing_writes_around_the_wrapped_streams(attribute: str) -> None:
    found = [f"{module}:{node.lineno}" for module, tree in modules() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == attribute
             and (attribute != "buffer" or ast.unparse(node.value) in STREAMS)]
    assert found == []


def test_nothing_writes_to_a_file_descriptor() -> None:
    """But main's fixed message when the streams are closed (no outside text in it)."""
    found = [(m, f) for m, f, c in calls("write") if ast.unparse(c.func) == "os.write"]
    assert found == [("cli/main.py", "main")]


def test_log_handlers_and_formatters_are_made_in_one_place() -> None:
    made = {module for name in ("StreamHandler", "FileHandler", "Handler", "setFormatter", "basicConfig")
            for module, _, _ in calls(name)}
    assert made <= {"logs.py"}


def test_text_logs_use_the_escaping_formatter() -> None:
    formatters = {ast.unparse(c.args[0]) for _, _, c in calls("setFormatter")}
    assert all("TextFormatter(" in f and "logging.Formatter(" not in f for f in formatters)


def test_the_cli_wraps_both_streams_around_every_command() -> None:
    main = dict(modules())["cli/main.py"]
    assert "sys.stdout, sys.stderr = (ScrubbedStream(sys.stdout), ScrubbedStream(sys.stderr))" in ast.unparse(
        main
    )


def test_github_requests_go_through_the_markdown_gate() -> None:
    tree = dict(modules())["gitops/github.py"]
    senders = {f for f, node in functions(tree) if isinstance(node, ast.Call)
               and ast.unparse(node.func) in ("bounded_http.exchange", "httpx.request", "httpx.post")}
    callers = {f for f, node in functions(tree) if isinstance(node, ast.Call)
               and ast.unparse(node.func).endswith("._once")}
    assert (senders, callers) == ({"_once"}, {"_request"})


def test_the_github_gate_applies_the_markdown_escaper() -> None:
    tree = dict(modules())["gitops/github.py"]
    request = next(n for _, n in functions(tree) if isinstance(n, ast.FunctionDef) and n.name == "_request")
    assert "shown.markdown(" in ast.unparse(request)


def file_writes() -> set[tuple[str, str]]:
    found = set()
    for name in ("write", "write_text", "write_bytes", "writelines"):
        for module, function, call in calls(name):
            receiver = ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else ""
            if receiver in STREAMS or receiver in ("summary", "self._stream"):
                continue  # the wrapped streams; _Summary.write is its own (listed) writer
            found.add((module, function))
    return found


def test_every_file_write_is_listed_with_its_guard() -> None:
    assert file_writes() == set(FILE_WRITES)


def test_every_markdown_file_write_applies_the_markdown_escaper() -> None:
    trees = dict(modules())
    for module, function in MARKDOWN_WRITERS:
        body = next(
            n for _, n in functions(trees[module]) if isinstance(n, ast.FunctionDef) and n.name == function
        )
        assert "shown.markdown(" in ast.unparse(body)
