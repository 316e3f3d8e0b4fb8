"""Mutation testing of the functional core: how much of each rule do the tests pin? (`make mutate`,
docs/mutation.md)

Each mutant is one small change to one module of `reconciler/core` (a `>` made `>=`, a `+` made `-`, a
constant moved one tick, a guard removed, a return emptied, a condition negated). A mutant is run against the
tests that import its module and ran its line (traced once per module, unmutated), fastest first, with `-x`
and a fixed hypothesis profile; it is killed when a test fails or the run times out. Mutants listed in
tools/equivalent-mutants.tsv (ones no test could kill: the behaviour is the same) are left out of the score.

    python -m tools.mutate                      # every module with a score target, one after another
    python -m tools.mutate --module planner     # one module
    python -m tools.mutate --sample 40 --max-seconds 600 --seed 7   # a time-bounded random sample (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.mutants import CORE, EQUIVALENT, ROOT, Equivalent, Mutant, describe, load_equivalents
from tools.mutate_plugin import NOT_SERVED, MutantNotServed

# Every module of the core has a score target (docs/mutation.md says why each), in the order a plain `make
# mutate` runs them: 95% where a surviving mutant is a wrong order, price or cost, or an unreviewed apply; 90%
# for the planner (its legs' mutants need whole plans to tell apart) and for the plan's data, wording and
# bookkeeping.
TARGETS = {
    "numbers": 90, "fees": 95, "fills": 95, "weights": 95, "valuation": 95, "order_size": 95,
    "attribution": 90,
    "changes": 90, "plan": 90, "sequence": 95, "envelope": 95, "drift": 95, "rules": 90, "models": 90,
    "planner": 90, "checks": 90, "legs": 95, "lots": 95, "ledger": 95, "lot_agreement": 95, "tax_rules": 90,
    "tax_plan": 95, "wash_sale": 95, "learned_costs": 90, "cooldown": 95,
    "raise_cash": 95, "plan_legs": 90, "plan_table": 90, "observation": 90, "frozen": 90,
    "wash_guard": 95, "harvest": 95, "household": 90,
    "tax_orders": 95, "tax_figures": 90, "holding_rows": 90,
}
PYTEST_ARGS = [
    "-x",
    "-q",
    "-p",
    "tools.mutate_plugin",
    "-p",
    "no:cacheprovider",
    "-o",
    "addopts=",
    "--no-header",
]


def default_modules() -> list[str]:
    """What a plain `make mutate` runs: every module with a target (a test holds every module of the core to
    one)."""
    return list(TARGETS)


# --- running ------------------------------------------------------------------------------------------------

def module_tests(module: str) -> list[str]:
    """The test files that import a core module (from it, or it from its package)."""
    pattern = re.compile(
        rf"^\s*(from reconciler\.core\.{module} import|import reconciler\.core\.{module}\b"
        rf"|from reconciler\.core import .*\b{module}\b)", re.MULTILINE,
    )
    return sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    )


def _env(module: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTATE_")}
    env.update(
        MUTATE_MODULE=f"reconciler.core.{module}", HYPOTHESIS_PROFILE="mutate", PYTHONPATH=str(ROOT), **extra
    )
    return env


@dataclass
class Coverage:
    seconds: dict[str, float]
    by_line: dict[int, list[str]]
    at_import: set[int]
    wall: float

    def tests_for(self, m: Mutant) -> list[str]:
        """The tests that ran the mutant's lines, fastest first; every test for module-level code."""
        if any(line in self.at_import for line in m.lines):
            chosen = set(self.seconds)
        else:
            chosen = {t for line in m.lines for t in self.by_line.get(line, [])}
        return sorted(chosen, key=lambda t: (self.seconds.get(t, 0.0), t))


def trace(module: str, files: list[str]) -> Coverage:
    """Run the module's tests once, unmutated, recording which test ran which line; they must pass."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trace.json"
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", *PYTEST_ARGS, *files], cwd=ROOT,
            env=_env(module, MUTATE_TRACE=str(out)),
            capture_output=True, text=True,
        )
        wall = time.monotonic() - started
        if run.returncode != 0 or not out.exists():
            sys.stdout.write(run.stdout[-4000:] + run.stderr[-4000:])
            raise SystemExit(f"{module}: the tests fail without any mutant; fix them first")
        data = json.loads(out.read_text())
    by_line: dict[int, list[str]] = {}
    for test, lines in data["lines"].items():
        if test != "<import>":
            for line in lines:
                by_line.setdefault(line, []).append(test)
    return Coverage(data["seconds"], by_line, set(data["lines"].get("<import>", [])), wall)


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, timeout, survived, uncovered, equivalent
    seconds: float = 0.0
    tests: int = 0


def warm_up(files: list[str]) -> None:
    """Import pytest, the test files and all they import once, then forget the project's own modules: each
    mutant's run forks from here and imports only those again (a fresh `python -m pytest` spends seconds on
    the rest)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["HYPOTHESIS_PROFILE"] = "mutate"
    import importlib

    for f in ["tests/conftest.py", *files]:
        importlib.import_module(f.removesuffix(".py").replace("/", "."))
    _forget_project()
    # The children use these very copies of the mutants and the plugin, whatever happens to the files
    # meanwhile.
    importlib.import_module("tools.mutate_plugin")


def _forget_project() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("reconciler", "tests"):
            del sys.modules[name]


def run_mutant(m: Mutant, tests: list[str], timeout: float) -> Outcome:
    """Run the tests against one mutant in a child forked from the warmed-up runner; killed at the timeout."""
    import pytest

    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            _forget_project()
            os.environ.update(_env(m.module, MUTATE_MUTANT=str(m.index)))
            os.chdir(ROOT)
            code = int(pytest.main([*PYTEST_ARGS, *tests]))
        except MutantNotServed:
            code = NOT_SERVED
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - started > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the child's own group: a mutant that loops forever
            os.waitpid(pid, 0)
            return Outcome(m, "timeout", time.monotonic() - started, len(tests))
        time.sleep(0.02)
    if code == NOT_SERVED:
        raise SystemExit(f"mutant {m.module}#{m.index} was not served: its module was imported before the"
                         " plugin ran")
    if code == 5:
        raise SystemExit(f"pytest found none of the tests for mutant {m.module}#{m.index} (exit 5)")
    # 1: a test failed; 2 and 3: the mutant broke collection or pytest itself (an import-time crash); 4: a
    # conftest failed to import, which only the mutant can cause now that it is served before them (the same
    # arguments passed unmutated in the trace), as Money's `ge=1` does to tests/execution's conftest: killed.
    return Outcome(m, "survived" if code == 0 else "killed", time.monotonic() - started, len(tests))


@dataclass
class Score:
    module: str
    outcomes: list[Outcome] = field(default_factory=list)
    total: int = 0

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    @property
    def scored(self) -> int:
        return len(self.outcomes) - self.count("equivalent")

    @property
    def percent(self) -> float:
        return 100.0 * self.count("killed", "timeout") / self.scored if self.scored else 100.0


def mutate_module(
    module: str, equivalents: list[Equivalent], picked: set[int] | None, deadline: float | None,
    log: Callable[[str], None],
) -> Score:
    path = CORE / f"{module}.py"
    mutants = describe(path, module)
    score = Score(module, total=len(mutants))
    files = module_tests(module)
    if not files:
        raise SystemExit(f"no test file imports reconciler.core.{module}")
    known = {(e.original, e.mutated) for e in equivalents if e.module == module}
    todo = [m for m in mutants if picked is None or m.index in picked]
    if not todo:
        return score
    cov = trace(module, files)
    warm_up(files)
    log(f"{module}: {len(mutants)} mutants, {len(todo)} to run; tests from {', '.join(files)}"
        f" ({len(cov.seconds)} tests, {cov.wall:.0f}s traced)")
    for n, m in enumerate(todo):
        if n and n % 25 == 0:
            log(f"  {n} of {len(todo)} run,"
                f" {sum(1 for o in score.outcomes if o.status in ('survived', 'uncovered'))}"
                " survived so far")
        if deadline is not None and time.monotonic() > deadline:
            log(f"{module}: time is up; {len(todo) - len(score.outcomes)} mutants not run")
            break
        if (m.original, m.mutated) in known:
            score.outcomes.append(Outcome(m, "equivalent"))
            continue
        tests = cov.tests_for(m)
        if not tests:
            score.outcomes.append(Outcome(m, "uncovered"))
            log(f"  uncovered {path.relative_to(ROOT)}:{m.line}  {m.mutated}")
            continue
        budget = (
            10 + 3 * sum(cov.seconds.get(t, 0.0) for t in tests) + 2 * (cov.wall - sum(cov.seconds.values()))
        )
        outcome = run_mutant(m, tests, budget)
        score.outcomes.append(outcome)
        if outcome.status in ("survived", "uncovered"):
            log(f"  survived {path.relative_to(ROOT)}:{m.line}  {m.mutated}")
    return score


def report(scores: list[Score], sampled: bool) -> str:
    rows = [f"{'module':<12} {'mutants':>7} {'run':>5} {'equiv':>5} {'killed':>6} {'survived':>8}"
            f" {'score':>7}  target"]
    for s in scores:
        target = TARGETS.get(s.module)
        mark = "" if target is None else (f"{target}% met" if s.percent >= target else f"{target}% MISSED")
        rows.append(
            f"{s.module:<12} {s.total:>7} {len(s.outcomes):>5} {s.count('equivalent'):>5}"
            f" {s.count('killed', 'timeout'):>6} {s.count('survived', 'uncovered'):>8} {s.percent:>6.1f}% "
            f" {mark}"
        )
    if sampled:
        rows.append("(a part of the mutants only: scores are over the mutants run)")
    for s in scores:
        for o in s.outcomes:
            if o.status in ("survived", "uncovered"):
                note = " (no test runs this line)" if o.status == "uncovered" else ""
                rows.append(f"SURVIVED reconciler/core/{s.module}.py:{o.mutant.line} "
                            f" [{o.mutant.kind}]{note}")
                rows.append(f"    - {o.mutant.original}")
                rows.append(f"    + {o.mutant.mutated}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="a module of reconciler/core (repeatable); default:"
                        " "
                        + ", ".join(TARGETS))
    parser.add_argument("--sample", type=int, help="run this many mutants drawn at random across the modules")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--max-seconds", type=float, help="start no mutant after this long")
    parser.add_argument("--list", action="store_true", help="list the mutants and run nothing")
    parser.add_argument("--json", type=Path, help="also write every outcome here")
    parser.add_argument("--survivors-of", type=Path, metavar="JSON",
                        help="run only the mutants that survived in this earlier --json (after adding tests)")
    args = parser.parse_args(argv)
    modules = args.module or default_modules()
    for name in modules:
        if not (CORE / f"{name}.py").exists():
            parser.error(f"no module reconciler/core/{name}.py")
    equivalents = load_equivalents()
    if args.list:
        for name in modules:
            for m in describe(CORE / f"{name}.py", name):
                print(f"{name}#{m.index} reconciler/core/{name}.py:{m.line} [{m.kind}] {m.mutated}")
        return 0
    picked: dict[str, set[int] | None] = dict.fromkeys(modules)
    if args.sample is not None:
        everything = [(name, m.index) for name in modules for m in describe(CORE / f"{name}.py", name)]
        chosen = random.Random(args.seed).sample(everything, min(args.sample, len(everything)))
        picked = {name: {i for n, i in chosen if n == name} for name in modules}
    if args.survivors_of is not None:
        alive = {(o["module"], o["original"], o["mutated"]) for o in json.loads(args.survivors_of.read_text())
                 if o["status"] in ("survived", "uncovered")}
        picked = {
            name: {
                m.index
                for m in describe(CORE / f"{name}.py", name)
                if (name, m.original, m.mutated) in alive
                and (picked[name] is None or m.index in (picked[name] or ()))
            }
            for name in modules
        }
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    scores = []
    for name in modules:
        scores.append(
            mutate_module(name, equivalents, picked[name], deadline, lambda s: print(s, flush=True))
        )
    partial = args.sample is not None or deadline is not None or args.survivors_of is not None
    print(report(scores, partial))
    _stale(equivalents, modules)
    if args.json:
        args.json.write_text(json.dumps([
            {"module": o.mutant.module, "index": o.mutant.index, "line": o.mutant.line, "kind": o.mutant.kind,
             "status": o.status, "original": o.mutant.original, "mutated": o.mutant.mutated,
             "seconds": o.seconds}
            for s in scores for o in s.outcomes
        ], indent=1))
    missed = [s for s in scores if s.module in TARGETS and s.percent < TARGETS[s.module]]
    return 1 if missed and not partial else 0


def _stale(equivalents: list[Equivalent], modules: list[str]) -> None:
    """Entries of the equivalents file that match no mutant any more (the code changed): to be deleted."""
    for name in modules:
        present = {(m.original, m.mutated) for m in describe(CORE / f"{name}.py", name)}
        for e in equivalents:
            if e.module == name and (e.original, e.mutated) not in present:
                print(f"stale entry in {EQUIVALENT.relative_to(ROOT)}: {name}: {e.mutated}")


if __name__ == "__main__":
    sys.exit(main())
