"""The benchmark guard (`make bench-check`): short forms of the plan, backtest, hostile-broker, apply,
paper-apply and what-if benchmarks, each reduced to ratios measured in the same run, failing when a ratio is
worse than half its target, or worse than its recorded figure by half again.

A ratio against a baseline measured in the same process a moment before is what a slow or busy machine cannot
move much (both sides slow down together); an absolute time is never judged here. Half the target leaves room
for noise and catches a 2x regression of a figure at its target, but not of one far better than its target (a
backtest 30x faster than bt, against 20x, still passes at 15x: the issue's rule, which a busy machine cannot
fail). A target the figures miss gives no half to hold: such a ratio is held to the figure this check recorded
(bench/results/check.json, `--record`, at the commit it names, which `make bench-readme` re-records with the
README's figures), and fails when worse than it by half again (1.5x). A planted 2x slowdown fails each of
those and moves every other ratio, which tests/test_bench_guard.py checks ratio by ratio against GUARDED, the
list of every ratio judged here. A benchmark with a ratio outside its guard runs
once more and keeps the better figure of each ratio, so one pass disturbed by a neighbour does not fail CI and
a real regression still fails both. For a target the issue states as a time (plan worst case under 3 s,
journal + policy CPU under 1.5 ms per order) the ratio's target is that time over the baseline's, as noted
beside each.

    python bench/check.py                     all six, about two or three minutes
    python bench/check.py --only plan         one of them
    python bench/check.py --record            also write the figures as the new reference
    python bench/check.py --json PATH         also write every ratio with its limit and verdict
    RECONCILER_BENCH_SLOWDOWN=2 python bench/check.py   must fail: every benchmark doubles its own time
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import RESULTS, commit_line, load, planted, record

MISSED_SLACK = 1.5  # a ratio fails when worse than its recorded figure by this factor


@dataclass(frozen=True)
class Ratio:
    name: str
    value: float
    target: float
    higher_is_better: bool
    why: str
    recorded: float | None = None  # this check's figure at the reference commit

    def meets(self, value: float, bound: float) -> bool:
        return value >= bound if self.higher_is_better else value <= bound

    @property
    def limit(self) -> float:
        """Half the target (twice it where lower is better), as the issue sets it, so a busy machine cannot
        fail a figure that meets its target; for a target the recorded figure misses, that figure made worse
        by MISSED_SLACK. (Holding met targets to their recorded figure too failed unplanted runs: the
        backtest's threshold ratio read 20.8x to 34.7x in four runs of one commit on a quiet machine.)"""
        if self.recorded is not None and not self.meets(self.recorded, self.target):
            return self.recorded / MISSED_SLACK if self.higher_is_better else self.recorded * MISSED_SLACK
        return self.target / 2 if self.higher_is_better else self.target * 2

    @property
    def ok(self) -> bool:
        return self.meets(self.value, self.limit)


@dataclass(frozen=True)
class Guarded:
    target: float
    higher_is_better: bool
    benchmark: str  # the --only name that measures it


# Journal + policy CPU per order over the bare driver's two commits: the target, 1.5 ms per order,
# over the bare driver's 0.42 ms measured beside it (SQLite, this machine, commit faa7df4 at 2.3 ms: a ratio
# of 5.5).
APPLY_RATIO_TARGET = 3.5
# The what-if's target is a time (issue 25 §2: under 10 s a pull request, in a fresh interpreter on a 2-core
# runner). A fresh interpreter spends about 4 s starting and importing numpy, pandas and the backtester
# (bench/whatif.py at commit e89bdf3: 6.06 s cold, 1.87 s of it the work), which leaves the work 5 s: over the
# baseline beside it, pandas reading the same price file (0.0195 s), a ratio of 256.
WHATIF_RATIO_TARGET = 256
# A paper apply's CPU per order (what one more order costs: the difference of two sizes, so process start-up
# is left out) over the journal + policy CPU per order measured beside it (both mostly Python; the bare
# driver's commits, mostly the kernel's sync, moved 0.18-0.51 ms between two runs under load): 15 s for 5,000
# orders is 3 ms an order, over the 1.5 ms journal + policy target.
PAPER_RATIO_TARGET = 2.0

# Every ratio this check judges, by name: a benchmark's ratio not listed here stops the check (ratio()), and
# tests/test_bench_guard.py plants a 2x slowdown and requires each one listed to fail, and each to have a
# recorded figure.
GUARDED: dict[str, Guarded] = {
    "plan typical / valuation pass": Guarded(5, False, "plan"),
    "plan worst case / valuation pass": Guarded(20, False, "plan"),
    "backtest monthly: bt / reconciler": Guarded(20, True, "backtest"),
    "backtest threshold: bt / reconciler": Guarded(20, True, "backtest"),
    "hostile broker alpaca slow headers: give-up / deadline budget": Guarded(15, False, "hostile"),
    "hostile broker ccxt slow headers: give-up / deadline budget": Guarded(15, False, "hostile"),
    "apply journal + policy CPU / bare driver": Guarded(APPLY_RATIO_TARGET, False, "apply"),
    "what-if 20 symbols x 10 years / pandas read": Guarded(WHATIF_RATIO_TARGET, False, "whatif"),
    "paper apply CPU per order / journal + policy": Guarded(PAPER_RATIO_TARGET, False, "paper"),
}


BENCHMARKS = list(dict.fromkeys(g.benchmark for g in GUARDED.values()))


def ratio(name: str, value: float, why: str) -> Ratio:
    """A ratio as GUARDED declares it (target, direction), so no benchmark can add one the tests do not
    enumerate."""
    if name not in GUARDED:
        raise SystemExit(f"bench/check.py: the ratio {name!r} is not in GUARDED: add it with its target")
    g = GUARDED[name]
    return Ratio(name, value, g.target, g.higher_is_better, why)


def plan(portfolios: int) -> list[Ratio]:
    import plan_scale

    figures = plan_scale.measure(portfolios, 50, repeat=3)
    return [
        ratio("plan typical / valuation pass", figures["typical"]["ratio"],
              f"{portfolios:,} x 50; target <= 5x (10,000 x 50 under 1 s)"),
        ratio("plan worst case / valuation pass", figures["worst"]["ratio"],
              f"{portfolios:,} x 50 random; target 20x: 10,000 x 50 under 3 s at the valuation pass of 0.15"
              " s"),
    ]


def backtest(days: int) -> list[Ratio]:
    import backtest_vs_peers as bvp

    warnings.filterwarnings("ignore")
    frame = bvp.load_stocks().iloc[-days:]
    # Best of seven each side: best of three let bt's slower runs through, and the monthly ratio read 7.5x to
    # 13.8x on one commit (a 2,000-day run of ours takes 0.03 s).
    rows = bvp.compare(frame, repeat=7, peers=("bt",))["rows"]
    return [ratio(f"backtest {kind}: bt / reconciler", row["bt_over_ours"],
                  f"20 stocks x {days:,} days; target >= 20x") for kind, row in rows.items()]


def hostile() -> list[Ratio]:
    import hostile_broker

    figures = hostile_broker.measure(["slow headers"])
    budget = 2.0  # the peer's deadline (1 s) x attempts (2), as configured by the benchmark
    return [ratio(f"hostile broker {adapter} slow headers: give-up / deadline budget",
                  cases["slow headers"]["seconds"] / budget,  # type: ignore[operator]
                  "target 15x: gives up within 30 s of a 2 s budget") for adapter, cases in figures.items()]


def apply(orders: int) -> list[Ratio]:
    import apply_scale

    costs = []
    for attempt in range(2):  # the best of two for each part: one pass is at the mercy of the neighbours
        with tempfile.TemporaryDirectory() as tmp:
            costs.append(apply_scale.overhead(f"sqlite:///{tmp}/journal{attempt}.db", orders=orders))
    cost = apply_scale.Overhead(min(c.journal_ms for c in costs), min(c.policy_ms for c in costs),
                                min(c.bare_ms for c in costs))
    value = (cost.journal_ms + cost.policy_ms) * planted() / cost.bare_ms
    return [ratio("apply journal + policy CPU / bare driver", round(value, 2),
                  f"{orders} orders on SQLite; journal {cost.journal_ms:.2f} ms + policies"
                  f" {cost.policy_ms:.2f} ms, bare {cost.bare_ms:.2f} ms per order")]


def whatif() -> list[Ratio]:
    import whatif as bench_whatif

    f = bench_whatif.measure(repeat=3, cold=0)
    return [ratio("what-if 20 symbols x 10 years / pandas read", f["ratio"],
                  f"{f['seconds']:.2f} s in process, the file read in {f['baseline_seconds']:.3f} s;"
                  " target: 5 s of work (10 s cold) over the read")]


def paper(small: int, large: int) -> list[Ratio]:
    """`apply PLAN --auto-approve` on the paper broker at two sizes, as subprocesses (the CLI's whole path:
    lock, judge, gate, journal, books, terminal output), against the journal + policy cost measured in this
    run."""
    import apply_scale

    cpu: dict[int, float] = {}
    # The benchmark creates its journal with its first plan: outside CI's rule that a missing journal is an
    # error (CI runs this check with CI=true, as GitHub sets it).
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    # Best of two for each size and for the baseline: one pass of each read 1.7x to 3.6x on one commit, wider
    # than the 2x slowdown the guard must see.
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(2):
            for n in (small, large):
                root = Path(tmp) / f"paper-{n}-{attempt}"
                root.mkdir()
                apply_scale.write_portfolios(root, n)
                apply_scale.write_paper_config(root, f"sqlite:///{root / 'journal.db'}", n)
                plan = root / "plan.json"
                steps = (("plan", ["--out", str(plan)]), ("apply", [str(plan), "--auto-approve"]))
                for tag, args in steps:
                    run = apply_scale.cli(root, tag, [tag, "--config", "reconciler.yaml", *args], env, 600)
                    if run.code != 0:
                        raise SystemExit(f"paper {tag} of {n} accounts {run.status()}:\n{run.tail()}")
                cpu[n] = min(cpu.get(n, run.cpu), run.cpu)
        costs = [apply_scale.overhead(f"sqlite:///{tmp}/overhead{i}.db", orders=300) for i in range(2)]
    base = min(c.journal_ms + c.policy_ms for c in costs)
    per_order_ms = (cpu[large] - cpu[small]) * 1000 / ((large - small) * apply_scale.ORDERS_PER_ACCOUNT)
    value = per_order_ms * planted() / base
    return [ratio("paper apply CPU per order / journal + policy", round(value, 2),
                  f"apply of {small} and {large} accounts x 10; {per_order_ms:.2f} ms an order, journal +"
                  f" policy {base:.2f} ms")]


def _better(r: Ratio, other: float) -> float:
    return max(r.value, other) if r.higher_is_better else min(r.value, other)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=BENCHMARKS, action="append")
    ap.add_argument("--portfolios", type=int, default=1_000)
    ap.add_argument("--days", type=int, default=2_000)
    ap.add_argument("--orders", type=int, default=600)
    ap.add_argument("--record", action="store_true", help="write the figures as the reference")
    ap.add_argument("--json", type=Path, help="write every ratio, its limit and verdict to this file")
    args = ap.parse_args()
    print(commit_line())
    slowdown = os.environ.get("RECONCILER_BENCH_SLOWDOWN")
    planted_slowdown = planted() != 1
    if slowdown:
        print(f"RECONCILER_BENCH_SLOWDOWN={slowdown}: each benchmark's own time is multiplied by {slowdown}")
    runs: dict[str, Callable[[], list[Ratio]]] = {
        "plan": lambda: plan(args.portfolios),
        "backtest": lambda: backtest(args.days),
        "hostile": hostile,
        "apply": lambda: apply(args.orders),
        "whatif": whatif,
        "paper": lambda: paper(4, 20),
    }
    assert set(runs) == set(BENCHMARKS), "every benchmark of GUARDED runs here, and no other"
    reference = load("check") if (RESULTS / "check.json").is_file() else {"figures": {}, "commit": "none"}
    ratios: list[Ratio] = []
    for name, run in runs.items():
        if args.only and name not in args.only:
            continue
        print(f"\n--- {name} ---", flush=True)
        measured = [replace(r, recorded=reference["figures"].get(r.name)) for r in run()]
        # A planted slowdown is in every pass: a second one would only double the time of its test.
        if not all(r.ok for r in measured) and not planted_slowdown:
            # One more pass of a benchmark outside its guard, keeping each ratio's better figure: a
            # neighbour's burst moves one pass (backtest monthly once read 7.68x against 11.5x in the passes
            # around it), while a real 2x regression fails both.
            print(f"--- {name}, again: a ratio was outside its guard ---", flush=True)
            again = {r.name: r.value for r in run()}
            measured = [replace(r, value=_better(r, again.get(r.name, r.value))) for r in measured]
        ratios += measured
    print(f"\nreference: bench/results/check.json, commit {reference['commit']}")
    print(f"{'ratio':<58} {'measured':>9} {'target':>8} {'recorded':>9} {'fails at':>9}  verdict")
    for r in ratios:
        sign = ">=" if r.higher_is_better else "<="
        recorded = f"{r.recorded:8.2f}x" if r.recorded is not None else f"{'-':>9}"
        print(f"{r.name:<58} {r.value:8.2f}x {sign}{r.target:6.1f}x {recorded} {r.limit:8.2f}x  "
              f"{'ok' if r.ok else 'FAIL'}  ({r.why})")
    failed = [r for r in ratios if not r.ok]
    if args.json:
        args.json.write_text(json.dumps([{"name": r.name, "value": r.value, "limit": r.limit, "ok": r.ok,
                                          "recorded": r.recorded} for r in ratios], indent=2) + "\n")
    if args.record:
        if os.environ.get("RECONCILER_BENCH_SLOWDOWN"):
            print("not recorded: a planted slowdown is not a reference")
        else:
            record("check", {**reference["figures"], **{r.name: r.value for r in ratios}})
    # Not pytest's "N passed, N failed": CI reads that line as the test count.
    print(f"\nbench-check: {len(ratios) - len(failed)} ratios within their guard, {len(failed)} outside")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
