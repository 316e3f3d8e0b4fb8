"""`reconciler backtest`: run rebalancing strategies on price history through the real planner, side by side,
so a rule is judged by what `apply` would really have done, after costs and taxes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from reconciler import files
from reconciler.cli.common import console, runtime
from reconciler.core.lots import LOT_METHODS
from reconciler.errors import BacktestError
from reconciler.policy.inputs import policy_input

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from reconciler.backtest.data import PriceTable
    from reconciler.backtest.engine import PolicyCheck
    from reconciler.backtest.request import Prepared
    from reconciler.backtest.sweep import Grid
    from reconciler.core.learned_costs import Fit
    from reconciler.core.models import Desired, PortfolioPlan
    from reconciler.runtime import Runtime

# Figure names only (no numpy): --help must not need the backtest extra. sweep.RANKS says which way is better.
RANKS = (
    "avg_deviation",
    "cagr",
    "costs",
    "final_value",
    "max_drawdown",
    "sharpe",
    "taxes_paid",
    "turnover_per_year",
    "volatility",
)
STRATEGY_HELP = (
    "repeatable: KIND[:OPTION,...]. Kinds: never | calendar[:monthly|quarterly|annual] | threshold |"
    " calendar-threshold[:monthly|quarterly|annual] | opportunistic | buy-only. Options: every=daily|weekly|"
    "monthly|quarterly|annual (how often it looks); at=start|end (calendar kinds: the first or last row of"
    " each period, default start); abs=0.05 and/or rel=0.25 (the band: the tighter applies; default the"
    " portfolio's); trade=drifted|all (only holdings beyond their band, default, or all back to target);"
    " inner=0..1 (back to target, 0, or to the band's edge, 1; opportunistic 0.5). E.g."
    " calendar-threshold:annual,abs=0.05,at=end (default: never, calendar:quarterly, threshold with the"
    " portfolio's bands)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the backtest command's flags: prices, strategies, money flows, costs, taxes and outputs; main
    builds the parser from each command's."""
    p.add_argument("portfolio", metavar="PORTFOLIO", help="a portfolio's name (metadata.name) in the"
                   " workspace")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prices", metavar="FILE",
        help="CSV or Parquet: a date column and one column of adjusted closes per symbol"
    )
    source.add_argument(
        "--dataset",
        metavar="NAME",
        help="a price history shipped in a package (examples extra): sp500, sp500-index, factor-etfs",
    )
    p.add_argument("--strategy", action="append", metavar="SPEC", help=STRATEGY_HELP)
    sweep = p.add_argument_group("sweep (a grid of one strategy's options, in parallel, ranked)")
    sweep.add_argument(
        "--sweep", metavar="SPEC", help="a strategy with {a|b} alternatives and LOW..HIGH/STEP ranges, e.g."
        " 'calendar-threshold:{monthly|quarterly|annual},abs=0.01..0.20/0.01' (instead of --strategy)",
    )
    sweep.add_argument("--rank-by", choices=sorted(RANKS), default="sharpe", help="the figure to rank by")
    sweep.add_argument("--top", type=int, default=20, metavar="N", help="rows of the ranked table (default"
                       " 20)")
    sweep.add_argument("--jobs", type=int, default=None, metavar="N", help="processes (default: every core)")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: the first day of the prices)")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="last day (default: the last day of the prices)")
    p.add_argument("--cash", default="100000", metavar="AMOUNT", help="initial cash (default 100000)")
    p.add_argument(
        "--contribution", default="0", metavar="AMOUNT",
        help="added every period; negative: withdrawn (default 0)"
    )
    p.add_argument(
        "--every", choices=["monthly", "quarterly", "annual"], default="monthly", help="contribution period"
    )
    costs = p.add_argument_group("costs (default: the broker's in reconciler.yaml, the paper broker's fill"
                                 " model)")
    costs.add_argument("--slippage-bps", metavar="BPS")
    costs.add_argument("--commission-per-order", metavar="AMOUNT")
    costs.add_argument("--commission-per-share", metavar="AMOUNT")
    costs.add_argument("--commission-bps", metavar="BPS")
    costs.add_argument("--no-costs", action="store_true", help="no slippage and no commission (a frictionless"
                       " run)")
    costs.add_argument(
        "--costs-from-journal", action="store_true",
        help="slippage and commission learned from the journal's fills of the configured broker"
        " (`reconciler costs`)",
    )
    taxes = p.add_argument_group("taxes (a portfolio with a tax: block is run by its lots and rates, as plan"
                                 " sells by them; these flags are for one without)")
    taxes.add_argument("--lots", choices=LOT_METHODS, help="which tax lots a sale closes (default fifo)")
    taxes.add_argument("--tax-short", metavar="RATE", help="rate on gains held a year or less, e.g. 0.37"
                       " (default 0)")
    taxes.add_argument("--tax-long", metavar="RATE", help="rate on gains held over a year, e.g. 0.2 (default"
                       " 0)")
    taxes.add_argument("--tax-what-if", action="store_true", help="let --lots, --tax-short and --tax-long"
                       " replace the tax: block's values for this run (the output says so)")
    p.add_argument("--risk-free", default="0", metavar="RATE", help="annual risk-free rate for Sharpe"
                   " (default 0)")
    p.add_argument(
        "--policies",
        action="store_true",
        help="evaluate the repository's policies on every plan; a blocked plan does not trade (~14 ms a"
        " plan)",
    )
    p.add_argument(
        "--override", action="append", default=[], metavar="POLICY",
        help="with --policies: pass a soft-mandatory one"
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("--report", metavar="FILE", help="write charts: FILE.html (with the table) or FILE.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the strategies on the prices and write the report; needs the backtest extra."""
    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        raise BacktestError(
            f"the backtest command needs numpy and pandas ({exc.name} is not installed)",
            where="reconciler backtest",
            fix="pip install 'reconciler[backtest]'",
        ) from None
    # Only now: the backtest package needs numpy and pandas (an extra), so it is imported after the check
    # above says they are installed.
    from reconciler.backtest.costs import describe, describe_learned, learned_model
    from reconciler.backtest.data import load_dataset, load_prices
    from reconciler.backtest.engine import run_strategy
    from reconciler.backtest.metrics import compute
    from reconciler.backtest.report import Report, render_text, write_chart_report
    from reconciler.backtest.report_json import as_json
    from reconciler.backtest.request import BacktestRequest, prepare

    rt = runtime(args, read_only=True)  # a backtest trades nothing: the journal, if read at all, is only read
    ws = rt.backtest_workspace
    desired = next((p for p in ws.portfolios if p.name == args.portfolio), None)
    if desired is None:
        known = ", ".join(sorted(p.name for p in ws.portfolios)) or "(none)"
        raise BacktestError(
            f"no portfolio named {args.portfolio!r}", where=str(ws.config_path), fix=f"use one of: {known}"
        )
    grid = _grid(args)
    request = BacktestRequest(
        strategies=tuple(grid.specs if grid else args.strategy or ()), start=args.start, end=args.end,
        cash=args.cash,
        contribution=args.contribution, every=args.every, slippage_bps=args.slippage_bps,
        commission_per_order=args.commission_per_order, commission_per_share=args.commission_per_share,
        commission_bps=args.commission_bps, no_costs=args.no_costs, lots=args.lots, tax_short=args.tax_short,
        tax_long=args.tax_long, tax_what_if=args.tax_what_if, risk_free=args.risk_free,
    )
    broker = ws.config.broker
    ready = prepare(
        request, desired, slippage_bps=broker.slippage_bps, commission=broker.commission,
        limit_band=rt.costs.limit_band,
    )
    desired = ready.desired or desired  # with --tax-what-if's values in its tax: block
    fit = _learned(args, rt) if args.costs_from_journal else None
    if fit is not None:
        learned_costs = learned_model(fit, rt.costs.limit_band)
        ready = replace(ready, settings=replace(ready.settings, costs=learned_costs))
    if args.report:  # checked now, not after a long run
        _check_report_path(Path(args.report))
    table = load_prices(Path(args.prices)) if args.prices else load_dataset(args.dataset)
    prices = table.select(sorted(desired.targets), ready.start, ready.end)
    policy = _policy_check(rt, args.override) if args.policies else None
    if args.override and not args.policies:
        raise BacktestError("--override needs --policies", where="--override", fix="add --policies")
    costs = ready.settings.costs
    costs_text = describe(costs) if fit is None else describe_learned(fit, costs)
    if grid is not None:
        return _sweep(args, grid, desired, prices, ready, table.source, costs_text)

    runs = []
    show = not args.no_progress and sys.stderr.isatty()
    days = len(prices.dates)
    with _progress(show, len(ready.strategies) * days) as bar:
        for k, strategy in enumerate(ready.strategies):
            advance = bar.strategy(f"{k + 1}/{len(ready.strategies)} {strategy.name}", k * days)
            runs.append(
                run_strategy(desired, prices, strategy, ready.settings, policy=policy, progress=advance)
            )
    report = Report(
        portfolio=desired.name,
        source=table.source,
        settings=ready.settings,
        costs_text=costs_text,
        risk_free=ready.risk_free,
        runs=runs,
        metrics=[compute(r, ready.risk_free) for r in runs],
        fractional=desired.trading.fractional,
        costs_model="journal" if fit else "none" if args.no_costs else "configured",
        learned=None if fit is None else fit.as_dict(),
        tax_source=ready.tax_source,
    )
    if args.format == "json":
        sys.stdout.write(as_json(report) + "\n")
    else:
        render_text(report, console(args))
    if args.report:
        write_chart_report(report, Path(args.report))
        where = sys.stderr if args.format == "json" else sys.stdout
        print(f"Wrote the report to {args.report}", file=where)
    return 0


def _learned(args: argparse.Namespace, rt: Runtime) -> Fit:
    """The costs learned from the journal's fills of the configured broker; refused with another cost flag."""
    from reconciler.core.learned_costs import chosen
    from reconciler.journal.costs import learned

    flags = [f for f, v in (("--no-costs", args.no_costs), ("--slippage-bps", args.slippage_bps),
                            ("--commission-per-order", args.commission_per_order),
                            ("--commission-per-share", args.commission_per_share),
                            ("--commission-bps", args.commission_bps)) if v]
    if flags:
        raise BacktestError(
            f"--costs-from-journal and {flags[0]} contradict each other", where="--costs-from-journal",
            fix=f"drop {flags[0]}, or drop --costs-from-journal",
        )
    broker = rt.config.broker
    return chosen(learned(rt.journal, broker.kind, broker.accounts), broker.kind, "--costs-from-journal")


def _grid(args: argparse.Namespace) -> Grid | None:
    from reconciler.backtest.sweep import expand

    if args.sweep is None:
        return None
    if args.report and not args.report.lower().endswith(".png"):
        raise BacktestError(
            "a sweep's report is a PNG heatmap", where=f"--report {args.report}", fix="name the file .png"
        )
    for flag, given in (("--strategy", args.strategy), ("--policies", args.policies)):
        if given:
            raise BacktestError(
                f"--sweep does not take {flag}", where="--sweep",
                fix=f"drop {flag}; run the best points of the sweep again with --strategy for their"
                f" {flag[2:]}",
            )
    if args.top < 1 or (args.jobs is not None and args.jobs < 1):
        raise BacktestError("--top and --jobs must be at least 1", where="--sweep", fix="give a positive"
                            " number")
    return expand(args.sweep)


def _sweep(args: argparse.Namespace, grid: Grid, desired: Desired, prices: PriceTable, ready: Prepared,
           source: str, costs: str) -> int:
    """Run every point of the grid in worker processes and print them ranked, under the costs line `costs`."""
    import json
    import os
    from concurrent.futures import ProcessPoolExecutor

    from reconciler.backtest.metrics import frequency
    from reconciler.backtest.report import REPORT, _cell
    from reconciler.backtest.sweep import heatmap_png, run_grid, table

    if args.report:  # checked now, not after a long run
        files.check_writable(Path(args.report), REPORT, "--report")
    jobs = args.jobs or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        metrics = run_grid(desired, prices, ready.strategies, ready.settings, ready.risk_free, pool)
    if args.report:
        try:
            png = heatmap_png(grid, metrics, args.rank_by, f"{desired.name}: {args.rank_by} over"
                              f" {args.sweep}")
        except ImportError:
            raise BacktestError(
                "charts need matplotlib", where=f"--report {args.report}",
                fix="pip install 'reconciler[backtest]'"
            ) from None
        files.write_bytes(Path(args.report), png, REPORT, "--report")
        print(f"Wrote the heatmap to {args.report}", file=sys.stderr)
    if args.format == "json":
        doc = [
            {"name": s.name, "metrics": m.as_dict()} for s, m in zip(ready.strategies, metrics, strict=True)
        ]
        head = {"sweep": args.sweep, "rank_by": args.rank_by, "costs": costs}
        if ready.tax_source is not None:  # a portfolio with `tax:` only: other sweeps read as they did
            head["taxes"] = ready.tax_source
        sys.stdout.write(json.dumps({**head, "points": doc}, indent=2) + "\n")
        return 0
    out = console(args)
    unit = frequency(prices.dates)
    lines = [
        f"Sweep of {desired.name} on {source}: {prices.day(0)} → {prices.day(len(prices.dates) - 1)},"
        f" {len(prices.dates):,} {unit}; {len(grid.specs):,} points of {args.sweep} on {jobs} processes",
        f"Costs: {costs}",
        *([] if ready.tax_source is None else [f"Taxes: {ready.settings.lot_method.upper()} lots,"
                                               f" {ready.tax_source}"]),
        f"Ranked by {args.rank_by}; the best {min(args.top, len(grid.specs))}:",
        "",
        *table(grid, metrics, args.rank_by, args.top, _cell),
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0


def _check_report_path(path: Path) -> None:
    if path.suffix.lower() not in (".html", ".htm", ".png"):
        raise BacktestError(
            f"unknown report type {path.suffix!r}", where=f"--report {path}",
            fix="name the file .html or .png",
        )
    from reconciler.backtest.report import REPORT

    files.check_writable(path, REPORT, "--report")


def _policy_check(rt: Runtime, overrides: list[str]) -> PolicyCheck:
    policies = rt.policies
    unknown = sorted(set(overrides) - set(policies.packages))
    if unknown:
        raise BacktestError(
            f"--override names unknown policies: {', '.join(unknown)}",
            where="--override",
            fix=f"use one of: {', '.join(sorted(policies.packages))}",
        )
    params = rt.workspace.config.policies.params

    def check(plan: PortfolioPlan, when: datetime) -> list[str]:
        results = policies.evaluate(policy_input(plan, params, phase="plan", now=when), plan.name)
        return [
            f"[{r.level}] {r.policy}: {r.message}"
            for r in results
            if r.blocks(overrides)
        ]

    return check


class _progress:
    """A rich progress bar on stderr for long runs, naming the strategy it is on; a no-op when stderr is not a
    terminal."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total = show, total

    def __enter__(self) -> _progress:
        if not self.show:
            return self
        # Only for a run watched on a terminal: a piped or CI run never loads rich.progress (ten more
        # modules).
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("backtest {task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=self.total)
        return self

    def strategy(self, label: str, base: int) -> Callable[[int], None]:
        """The progress callback of one strategy's run, whose days start at `base` of the bar; the bar names
        it."""
        if not self.show:
            return lambda n: None
        self.bar.update(self.task, description=label)
        return lambda n: self.bar.update(self.task, completed=base + n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()
