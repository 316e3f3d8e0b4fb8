"""Malformed input never crashes and never trades: a clear `Error:` that says where and how to fix, exit code
1.

Each case copies one file from tests/corpus/ into a fresh copy of the example repository and runs the CLI on
it. The message must name the file (and the field, where one is involved), give `FILE:LINE:COL` for YAML and
schema errors, say `fix:`, and the paper broker must have received no order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import CliResult, Workspace, edit_yaml

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@dataclass(frozen=True)
class Case:
    """One malformed input: which corpus file goes where, and what the error message must contain."""

    id: str
    corpus: str | None  # file under tests/corpus/, or None when `prepare` builds the input
    dest: str  # where it is copied in the workspace (relative to the workspace root)
    names: str  # the file name the message must mention
    position: bool = True  # the message must contain NAME:LINE:COL
    line: int | None = None  # ...and at this line, when the line is unambiguous
    fields: tuple[str, ...] = ()  # field names (or keys) the message must mention
    says: tuple[str, ...] = ()  # further phrases the message must contain
    remove: tuple[str, ...] = ()  # workspace files deleted before the corpus file is copied in
    prepare: Callable[[Path], None] | None = None  # extra setup on the workspace root


def portfolio(
    name: str, *, replaces: str | None = "portfolios/college-fund.yaml", sub: str = "", **kw: object
) -> Case:
    """A portfolio or model file; by default it takes the place of college-fund.yaml (account
    paper-college)."""
    path = f"portfolios/{sub}{name}.yaml"
    return Case(
        id=f"portfolio-{name}",
        corpus=path,
        dest=path,
        names=f"{name}.yaml",
        remove=(replaces,) if replaces else (),
        **kw,  # type: ignore[arg-type]
    )


def config(name: str, **kw: object) -> Case:
    """A whole reconciler.yaml."""
    return Case(
        id=f"config-{name}",
        corpus=f"config/{name}.yaml",
        dest="reconciler.yaml",
        names="reconciler.yaml",
        **kw,  # type: ignore[arg-type]
    )


def policy(name: str, **kw: object) -> Case:
    """An extra .rego file dropped into policies/."""
    return Case(
        id=f"policy-{name}",
        corpus=f"policies/{name}.rego",
        dest=f"policies/{name}.rego",
        names=f"{name}.rego",
        **kw,  # type: ignore[arg-type]
    )


def _policy_budget_one_second(root: Path) -> None:
    edit_yaml(root / "reconciler.yaml", lambda d: d["policies"].__setitem__("timeout_seconds", 1))


def _folder_named_like_a_portfolio(root: Path) -> None:
    """Found by tests/proof's file-kind axis: the walk skipped folders, so the portfolio vanished from the
    plan."""
    (root / "portfolios" / "college-fund.yaml").unlink()
    (root / "portfolios" / "college-fund.yaml").mkdir()


def _renamed(suffix: str) -> Callable[[Path], None]:
    """Found by the unnamed-inputs trial: a portfolio saved as .YAML or .json was not read, and its account
    left the plan with exit 0."""
    def prepare(root: Path) -> None:
        (root / "portfolios" / "college-fund.yaml").rename(root / "portfolios" / f"college-fund{suffix}")
    return prepare


def _empty_portfolios_dir(root: Path) -> None:
    shutil.rmtree(root / "portfolios")
    (root / "portfolios").mkdir()


YAML_SYNTAX = [
    portfolio("yaml-bad-indent", says=("YAML",)),
    portfolio("yaml-unclosed-quote", line=6, says=("YAML",)),  # must point at the opening quote
    portfolio("yaml-unclosed-bracket", line=7, says=("YAML",)),  # ...and at the opening brace
    portfolio("yaml-tab", line=8, says=("YAML",)),
    portfolio("only-comments", line=1, says=("holds no YAML document",)),
    portfolio("yaml-duplicate-key", line=7, fields=("account",), says=("duplicate",)),
    portfolio("yaml-duplicate-symbol", line=10, fields=("VTI",), says=("duplicate",)),
    config("yaml-bad-indent", says=("YAML",)),
    config("yaml-unclosed-quote", line=3, says=("YAML",)),
    config("yaml-unclosed-bracket", line=5, says=("YAML",)),
    config("yaml-tab", line=4, says=("YAML",)),
    config("yaml-duplicate-key", line=8, fields=("paper-ira",), says=("duplicate",)),
]

SCHEMA = [
    portfolio("missing-apiversion", fields=("apiVersion",)),
    portfolio("wrong-apiversion", line=1, fields=("apiVersion",), says=("reconciler.dev/v1",)),
    portfolio("unknown-kind", line=2, fields=("kind",), says=("Portfollio",)),
    portfolio("missing-name", line=3, fields=("metadata.name",)),
    portfolio("bad-name", line=4, fields=("metadata.name",)),
    portfolio("misspelled-field", line=9, fields=("spec.trading.min_trade_notionel",)),
    portfolio("weight-text", line=8, fields=("spec.targets.VTI",)),
    portfolio("weight-negative", line=9, fields=("spec.targets.BND",)),
    portfolio("weight-over-one", line=8, fields=("spec.targets.VTI",)),
    portfolio("lowercase-symbol", line=8, fields=("vti",)),
    portfolio("bool-weight", line=8, fields=("spec.targets.VTI",)),
    portfolio("bool-notional", line=9, fields=("spec.trading.min_trade_notional",)),
    portfolio("band-absolute-over-one", line=9, fields=("spec.trading.bands.absolute",)),
    portfolio("step-without-fractional", fields=("quantity_step", "fractional")),
    portfolio("model-and-targets", fields=("model", "targets")),
    portfolio("neither-model-nor-targets", fields=("model", "targets")),
    portfolio("list-document", line=1, says=("mapping",)),
    Case(
        id="portfolios-dir-empty",
        corpus=None,
        dest="",
        names="portfolios",
        position=False,
        says=("no portfolio files",),
        prepare=_empty_portfolios_dir,
    ),
    config("wrong-kind", line=2, fields=("kind",)),
    config("empty", position=False),
]

WEIGHTS = [
    portfolio("weights-sum-099", fields=("targets", "cash"), says=("0.99",)),
    portfolio("weights-sum-101", fields=("targets", "cash"), says=("1.01",)),
    portfolio(
        "weights-model-sum-101", sub="models/", replaces=None, fields=("targets", "cash"), says=("1.01",)
    ),
]

REFERENCES = [
    portfolio(
        "unknown-model", replaces="portfolios/alice-ira.yaml", line=7, fields=("spec.model",),
        says=("balanced-70-30",)
    ),
    portfolio("unknown-account", line=6, fields=("spec.account",), says=("paper-roth",)),
    portfolio("duplicate-account", replaces=None, line=6, fields=("spec.account",), says=("paper-ira",)),
    portfolio(
        "duplicate-model", sub="models/", replaces=None, line=4, fields=("metadata.name",),
        says=("balanced-60-40",)
    ),
    portfolio("duplicate-portfolio", replaces=None, line=4, fields=("metadata.name",), says=("alice-ira",)),
]

CONFIG = [
    config("missing-broker", fields=("broker",)),
    config("unknown-broker-kind", line=4, fields=("broker.kind",)),
    config("secret-pasted-into-config", line=6, fields=("broker.accounts.paper-ira.secret_key",),
           says=("not a secret reference", "env:VAR_NAME")),
    config("negative-cash", line=7, fields=("broker.accounts.paper-taxable.cash",)),
    config("bad-journal-url", position=False, fields=("journal.url",)),
    config("unknown-calendar", line=5, fields=("broker.calendar",), says=("XNYS",)),
    config("missing-portfolios-dir", position=False, fields=("portfolios_dir",), says=("portfolio",)),
    Case(
        id="config-missing-price-csv",
        corpus="config/missing-price-csv.yaml",
        dest="reconciler.yaml",
        names="closes.csv",
        position=False,
        fields=("broker.prices.csv",),
    ),
]

POLICIES = [
    policy("syntax-error-unclosed-brace", line=5),
    policy("syntax-error-bad-operator", line=7),
    policy("syntax-error-incomplete-expr"),  # `a.notional >` with nothing after it
    policy("no-package", line=1, says=("package",)),
    policy("undefined-function", line=5, says=("policy calls foo",)),
    # Fail closed: what the evaluator cannot evaluate is an error, never an undefined that denies nothing.
    policy("builtin-net-cidr-contains", line=7, says=("net.cidr_contains", "not a built-in this evaluator")),
    policy("builtin-http-send", line=6, says=("http.send",)),
    policy("builtin-json-verify-schema", line=6, says=("json.verify_schema",)),
    policy("builtin-print", line=7, says=("print",)),
    # rego-cpp places no line on a built-in's error; the message names the policy, the error and the value.
    policy(
        "evaluation-error-to-number", position=False, says=("bad_number failed to evaluate", '"one million"')
    ),
    policy("rego-v0-partial-set", line=4, says=("Rego v0", "deny contains msg if")),
    policy("rego-v0-boolean-rule", line=5, says=("Rego v0",)),
    Case(
        id="policy-heavy-cross-product",
        corpus="policies/heavy-cross-product.rego",
        dest="policies/heavy-cross-product.rego",
        names="heavy-cross-product.rego",
        position=False,
        says=("took longer than 1s", "policies.timeout_seconds"),
        prepare=_policy_budget_one_second,
    ),
    config(
        "enforcement-unknown-policy", position=False, fields=("policies.enforcement",), says=("max_turnvoer",)
    ),
    config("enforcement-bad-level", line=11, fields=("policies.enforcement.max_turnover",)),
]

# Inputs built to exhaust time or memory, or to slip past a reader: each is refused within a second or two.
HOSTILE = [
    config("cash-1e30", line=24, says=("number 1e30 is too large",)),
    config("cash-huge-integer", line=24, says=("is too large",)),
    config(
        "static-price-zero", line=21, fields=("broker.prices.static.GLD.price",), says=("greater than 0",)
    ),
    config("static-price-negative", line=19, fields=("broker.prices.static.VNQ.price",)),
    config("portfolios-dir-root", line=5, fields=("portfolios_dir",), says=("inside the repository",)),
    config("portfolios-dir-self", line=5, fields=("portfolios_dir",), says=("inside the repository",)),
    config("portfolios-dir-parent", line=5, fields=("portfolios_dir",), says=("inside the repository",)),
    config("policies-dir-root", line=32, fields=("policies.dir",), says=("inside the repository",)),
    config("policy-timeout-zero", line=33, fields=("policies.timeout_seconds",)),
    config("clock-skew-negative", line=44, fields=("apply.max_clock_skew_seconds",)),
    portfolio("nested-500", line=10, says=("nested more than 64 levels",)),
    portfolio("block-nested-200", line=74, says=("nested more than 64 levels",)),
    portfolio("alias-bomb", line=11, says=("expands to more than 100,000 values", "*a3")),
    portfolio(
        "lookalike-symbol", line=9, fields=("spec.targets",), says=("U+0422 CYRILLIC CAPITAL LETTER TE",)
    ),
    portfolio("lookalike-name", line=5, fields=("metadata.name",), says=("U+043E CYRILLIC SMALL LETTER O",)),
    portfolio("symbol-1000-chars", line=9, fields=("spec.targets",), says=("too long: 1,000 characters",)),
    portfolio("symbol-100k-chars", line=9, says=("key too long: 100,004 characters",)),
    portfolio("weight-1e-400", line=11, says=("more than 20 decimal places",)),
    # Found by trying unnamed inputs: beyond 28 digits the check read the number rounded (0.7) and let it
    # pass.
    portfolio("weight-36-digits", line=9, says=("more than 20 decimal places",)),
    portfolio("min-notional-huge", line=15, says=("is too large",)),
    portfolio("not-utf8", position=False, says=("not UTF-8", "0xe9")),
    portfolio("weight-nan", line=9, fields=("spec.targets.VTI",), says=("finite",)),
    portfolio("weight-inf", line=9, fields=("spec.targets.VTI",), says=("finite",)),
    portfolio("symbol-with-space", line=9, fields=("spec.targets",)),
    Case(
        id="portfolio-folder-named-yaml",
        corpus=None,
        dest="",
        names="college-fund.yaml",
        position=False,
        says=("this is a folder, not a file",),
        prepare=_folder_named_like_a_portfolio,
    ),
    *(
        Case(
            id=f"portfolio-named-{suffix[1:]}",
            corpus=None,
            dest="",
            names=f"college-fund{suffix}",
            position=False,
            says=("is not read", "rename it to college-fund.yaml"),
            prepare=_renamed(suffix),
        )
        for suffix in (".YAML", ".Yml", ".json")
    ),
    config("quote-band-over-one", line=44, fields=("apply.quote_band",)),
    config("kill-switch-drop-negative", line=40, fields=("policies.params.kill_switch_drop",)),
    config("quote-age-huge", line=41, says=("number 1e20 is too large",)),
]

CASES = YAML_SYNTAX + SCHEMA + WEIGHTS + REFERENCES + CONFIG + POLICIES + HOSTILE
COMMANDS = {"validate": ("validate",), "plan": ("plan",), "apply": ("apply", "--auto-approve")}


def install(workspace: Workspace, case: Case) -> None:
    root = workspace.root
    for rel in case.remove:
        (root / rel).unlink()
    if case.prepare is not None:
        case.prepare(root)
    if case.corpus is not None:
        dest = root / case.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / case.corpus, dest)


def assert_clear_error(r: CliResult, workspace: Workspace, names: str) -> None:
    """What every bad input must produce, whatever the input."""
    assert r.code == 1, f"exit code {r.code}\nstdout:\n{r.out}\nstderr:\n{r.err}"
    assert "Traceback" not in r.err, r.err
    assert "Internal error" not in r.err, r.err
    assert "Error:" in r.err, r.err
    assert names in r.err, f"the message does not name {names!r}:\n{r.err}"
    assert "fix:" in r.err, f"no fix: hint:\n{r.err}"
    assert workspace.paper_order_count() == 0
    assert workspace.journal_rows("applies", "intents", "policy_decisions") == 0


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_clear_error(workspace: Workspace, case: Case, command: str) -> None:
    install(workspace, case)
    r = workspace.run(*COMMANDS[command])
    assert_clear_error(r, workspace, case.names)
    if case.position:
        lines = [int(m) for m in re.findall(rf"{re.escape(case.names)}:(\d+):\d+", r.err)]
        assert lines, f"no {case.names}:LINE:COL position:\n{r.err}"
        if case.line is not None:
            assert case.line in lines, f"expected line {case.line}, got {lines}:\n{r.err}"
    for name in case.fields:
        assert name in r.err, f"the message does not name the field {name!r}:\n{r.err}"
    for phrase in case.says:
        assert phrase in r.err, f"the message does not say {phrase!r}:\n{r.err}"
    assert "CANARY" not in r.out + r.err  # a secret pasted into a file is never echoed back


def test_weights_summing_exactly_in_decimal_are_valid(workspace: Workspace) -> None:
    """Positive control: 0.1 + 0.2 + 0.7 is 1 in Decimal (0.9999999999999999 in binary floats)."""
    (workspace.root / "portfolios" / "college-fund.yaml").unlink()
    shutil.copy(
        CORPUS / "valid" / "weights-tenths.yaml", workspace.root / "portfolios" / "weights-tenths.yaml"
    )
    r = workspace.run("validate")
    assert r.code == 0, r.err
    assert "3 portfolio(s)" in r.out
    r = workspace.run("plan")
    # Planned, not refused as invalid (exit 1 here is a policy denying this account's first large buy).
    assert "Error:" not in r.err
    assert "college-fund" in r.out
    assert "Plan:" in r.out
    assert workspace.paper_order_count() == 0


# ---- saved plan files for `apply PLAN` ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCase:
    id: str
    # (a fresh valid plan from `plan --out`, a scratch folder) -> file to apply
    make: Callable[[Path, Path], Path]
    names: str
    fields: tuple[str, ...] = ()
    says: tuple[str, ...] = ()


def _edit(name: str, change: Callable[[dict[str, object]], None]) -> Callable[[Path, Path], Path]:
    def make(plan: Path, scratch: Path) -> Path:
        data = json.loads(plan.read_text(encoding="utf-8"))
        change(data)
        out = scratch / name
        out.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return out

    return make


def _corpus_plan(name: str) -> Callable[[Path, Path], Path]:
    def make(_plan: Path, scratch: Path) -> Path:
        return Path(shutil.copy(CORPUS / "plans" / name, scratch / name))

    return make


def _missing(_plan: Path, scratch: Path) -> Path:
    return scratch / "no-such-plan.json"


def _truncated(plan: Path, scratch: Path) -> Path:
    text = plan.read_text(encoding="utf-8")
    out = scratch / "truncated.json"
    out.write_text(text[: len(text) // 2], encoding="utf-8")
    return out


def _set_version(data: dict[str, object]) -> None:
    data["format_version"] = 2


def _bump_quantity(data: dict[str, object]) -> None:
    portfolios = data["portfolios"]
    assert isinstance(portfolios, list)
    action = next(a for p in portfolios for a in p["actions"])
    action["quantity"] = str(Decimal(str(action["quantity"])) + 1)


def _drop(key: str) -> Callable[[dict[str, object]], None]:
    def change(data: dict[str, object]) -> None:
        del data[key]

    return change


def _fifo(_plan: Path, scratch: Path) -> Path:
    out = scratch / "fifo.json"
    os.mkfifo(out)  # opening it for reading would block until a writer comes: it must never be opened
    return out


def _device(_plan: Path, scratch: Path) -> Path:
    out = scratch / "zeros.json"
    out.symlink_to("/dev/zero")  # reading it never ends
    return out


def _folder(_plan: Path, scratch: Path) -> Path:
    out = scratch / "plans.d"
    out.mkdir()
    return out


def _deep(_plan: Path, scratch: Path) -> Path:
    out = scratch / "deep.json"
    out.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    return out


def _not_utf8(plan: Path, scratch: Path) -> Path:
    out = scratch / "latin1.json"
    out.write_bytes(plan.read_bytes().replace(b'"reconciler_version"', b'"reconciler_v\xe9rsion"', 1))
    return out


PLAN_CASES = [
    PlanCase("plan-file-missing", _missing, "no-such-plan.json", says=("not found",)),
    PlanCase("plan-fifo", _fifo, "fifo.json", says=("not a regular file",)),
    PlanCase("plan-device", _device, "zeros.json", says=("not a regular file",)),
    PlanCase("plan-folder", _folder, "plans.d", says=("folder",)),
    PlanCase("plan-nested-100k", _deep, "deep.json", says=("nested deeper than",)),
    PlanCase("plan-not-utf8", _not_utf8, "latin1.json", says=("not UTF-8",)),
    PlanCase("plan-not-json", _corpus_plan("not-json.txt"), "not-json.txt", says=("JSON",)),
    PlanCase("plan-json-array", _corpus_plan("array.json"), "array.json", says=("JSON object",)),
    PlanCase(
        "plan-wrong-format-version",
        _edit("plan-v2.json", _set_version),
        "plan-v2.json",
        fields=("format_version",),
    ),
    PlanCase(
        "plan-quantity-edited", _edit("edited.json", _bump_quantity), "edited.json", fields=("content_hash",)
    ),
    PlanCase("plan-truncated", _truncated, "truncated.json", says=("JSON",)),
    PlanCase(
        "plan-missing-portfolios",
        _edit("no-portfolios.json", _drop("portfolios")),
        "no-portfolios.json",
        fields=("portfolios",),
    ),
    PlanCase(
        "plan-missing-content-hash",
        _edit("no-hash.json", _drop("content_hash")),
        "no-hash.json",
        fields=("content_hash",),
    ),
]


@pytest.mark.parametrize("approve", [False, True], ids=["apply", "apply-auto-approve"])
@pytest.mark.parametrize("case", PLAN_CASES, ids=[c.id for c in PLAN_CASES])
def test_bad_plan_file_is_refused(
    workspace: Workspace, tmp_path: Path, case: PlanCase, approve: bool
) -> None:
    fresh = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(fresh))
    assert r.code == 0, r.err
    bad = case.make(fresh, tmp_path)
    r = workspace.run("apply", str(bad), *(["--auto-approve"] if approve else []))
    assert_clear_error(r, workspace, case.names)
    for name in case.fields:
        assert name in r.err, f"the message does not name the field {name!r}:\n{r.err}"
    for phrase in case.says:
        assert phrase in r.err, f"the message does not say {phrase!r}:\n{r.err}"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) + len(PLAN_CASES) >= 100


def test_a_plan_dated_in_the_future_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    from datetime import timedelta

    from reconciler.core.plan import reseal
    from reconciler.execution.planfile import read_plan, write_plan

    fresh = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(fresh)).code == 0
    plan = read_plan(fresh)
    future = tmp_path / "future.json"
    write_plan(reseal(plan, created_at=plan.created_at + timedelta(hours=2)), future)
    r = workspace.run("apply", str(future), "--auto-approve")
    assert r.code == 1
    dated = re.search(r"plan is dated (\d+)s in the future", r.err)
    assert dated is not None, r.err
    # two hours ahead of when it was made, less the seconds a loaded machine takes between plan and apply
    assert 7200 - 120 <= int(dated.group(1)) <= 7200
    assert "clock" in r.err
    assert workspace.paper_order_count() == 0


def test_plan_out_a_folder_is_an_error(workspace: Workspace, tmp_path: Path) -> None:
    r = workspace.run("plan", "--out", str(tmp_path))
    assert r.code == 1
    assert "this is a folder; --out takes a file name" in r.err
    assert "Internal error" not in r.err


@pytest.mark.parametrize("limit", ["0", "-1", "99999999999999999999", "1e9", "ten"])
def test_absurd_history_limits_are_usage_errors(
    workspace: Workspace, limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        workspace.run("history", "--limit", limit)
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "--limit" in err
    assert "Internal error" not in err


@pytest.mark.parametrize("step", ["0", "-0.01", "2", "NaN", "Infinity", "abc"])
def test_import_step_must_be_a_fraction_above_zero(workspace: Workspace, step: str) -> None:
    r = workspace.run(
        "import", "paper-taxable", "--step", step, "--out", str(workspace.root / "portfolios" / "x.yaml")
    )
    assert r.code == 1
    assert "--step" in r.err
    assert "must be a number above 0 and at most 1" in r.err
    assert not (workspace.root / "portfolios" / "x.yaml").exists()
