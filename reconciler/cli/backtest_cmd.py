"""`reconciler backtest`: run rebalancing strategies on price history through the real planner, side by side."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from reconciler.backtest.engine import PolicyCheck
    from reconciler.runtime import Runtime

STRATEGY_HELP = (
    "repeatable: never | calendar:monthly|quarterly|annual | threshold[:abs=0.05][,rel=0.25][,trade=all] |"
    " calendar-threshold:quarterly,abs=0.05 | opportunistic[:rel=0.5,inner=0.5] | buy-only"
    " (default: never, calendar:quarterly, threshold with the portfolio's bands)"
)
DEFAULT_STRATEGIES = ["never", "calendar:quarterly", "threshold"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("portfolio", metavar="PORTFOLIO", help="a portfolio's name (metadata.name) in the workspace")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prices", metavar="FILE", help="CSV or Parquet: a date column and one column of adjusted closes per symbol"
    )
    source.add_argument(
        "--dataset",
        metavar="NAME",
        help="a price history shipped in a package (examples extra): sp500, sp500-index, factor-etfs",
    )
    p.add_argument("--strategy", action="append", metavar="SPEC", help=STRATEGY_HELP)
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: the first day of the prices)")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="last day (default: the last day of the prices)")
    p.add_argument("--cash", default="100000", metavar="AMOUNT", help="initial cash (default 100000)")
    p.add_argument(
        "--contribution", default="0", metavar="AMOUNT", help="added every period; negative: withdrawn (default 0)"
    )
    p.add_argument(
        "--every", choices=["monthly", "quarterly", "annual"], default="monthly", help="contribution period"
    )
    costs = p.add_argument_group("costs (default: the broker's in reconciler.yaml, the paper broker's fill model)")
    costs.add_argument("--slippage-bps", metavar="BPS")
    costs.add_argument("--commission-per-order", metavar="AMOUNT")
    costs.add_argument("--commission-per-share", metavar="AMOUNT")
    costs.add_argument("--commission-bps", metavar="BPS")
    taxes = p.add_argument_group("taxes")
    taxes.add_argument("--lots", choices=["fifo", "hifo"], default="fifo", help="which tax lots a sale closes")
    taxes.add_argument("--tax-short", default="0", metavar="RATE", help="rate on gains held a year or less, 0.37")
    taxes.add_argument("--tax-long", default="0", metavar="RATE", help="rate on gains held over a year, e.g. 0.2")
    p.add_argument("--risk-free", default="0", metavar="RATE", help="annual risk-free rate for Sharpe (default 0)")
    p.add_argument(
        "--policies",
        action="store_true",
        help="evaluate the repository's policies on every plan; a blocked plan does not trade (~14 ms a plan)",
    )
    p.add_argument(
        "--override", action="append", default=[], metavar="POLICY", help="with --policies: pass a soft-mandatory one"
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("--report", metavar="FILE", help="write charts: FILE.html (with the table) or FILE.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


MAX_AMOUNT = Decimal(10**15)  # beyond this a float series (the metrics, the charts) loses cents, then overflows


def _number(value: str, flag: str, *, signed: bool = False, fraction: bool = False) -> Decimal:
    """A command-line number: amounts up to 1e15, fractions (rates) in [0, 1] or [-1, 1], written 0.05 or 5%."""
    from decimal import InvalidOperation

    from reconciler.errors import BacktestError

    text = value.strip().replace("_", "").replace(",", "")
    try:
        d = Decimal(text[:-1]) / 100 if fraction and text.endswith("%") else Decimal(text)
    except InvalidOperation:
        example = "0.05 or 5%" if fraction else "a plain number such as 100000"
        raise BacktestError(f"{flag} {value!r} is not a number", where=flag, fix=f"write {example}") from None
    low = (-1 if fraction else -MAX_AMOUNT) if signed else 0
    high = 1 if fraction else MAX_AMOUNT
    if not d.is_finite() or not low <= d <= high:
        raise BacktestError(
            f"{flag} {value} is out of range", where=flag, fix=f"use a number from {low:,} to {high:,}"
        )
    return d


def _day(value: str | None, flag: str) -> object:
    from datetime import date

    from reconciler.errors import BacktestError

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BacktestError(f"{flag} {value!r} is not a date", where=flag, fix="write YYYY-MM-DD") from None


def run(args: argparse.Namespace) -> int:
    import sys
    from datetime import date

    from reconciler.errors import BacktestError

    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        raise BacktestError(
            f"the backtest command needs numpy and pandas ({exc.name} is not installed)",
            where="reconciler backtest",
            fix="pip install 'reconciler[backtest]'",
        ) from None
    from pathlib import Path

    from reconciler.backtest.costs import describe
    from reconciler.backtest.data import load_dataset, load_prices
    from reconciler.backtest.engine import Settings, run_strategy
    from reconciler.backtest.metrics import compute
    from reconciler.backtest.report import Report, as_json, render_text, write_chart_report
    from reconciler.backtest.strategies import parse_strategy
    from reconciler.cli.common import console, runtime
    from reconciler.core.models import CostModel

    rt = runtime(args)
    ws = rt.workspace
    desired = next((p for p in ws.portfolios if p.name == args.portfolio), None)
    if desired is None:
        known = ", ".join(sorted(p.name for p in ws.portfolios)) or "(none)"
        raise BacktestError(
            f"no portfolio named {args.portfolio!r}", where=str(ws.config_path), fix=f"use one of: {known}"
        )
    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    assert start is None or isinstance(start, date)
    assert end is None or isinstance(end, date)
    strategies = [parse_strategy(s, desired.trading.bands) for s in (args.strategy or DEFAULT_STRATEGIES)]
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise BacktestError("the same strategy is given twice", where="--strategy", fix="give each one once")

    broker = ws.config.broker
    commission = broker.commission.model_copy(
        update={
            k: _number(v, f"--commission-{k.replace('_', '-')}")
            for k, v in (
                ("per_order", args.commission_per_order),
                ("per_share", args.commission_per_share),
                ("bps", args.commission_bps),
            )
            if v is not None
        }
    )
    slippage = broker.slippage_bps if args.slippage_bps is None else _number(args.slippage_bps, "--slippage-bps")
    # Filled by the same rule apply's orders follow: limit orders at the close ± the band when so configured.
    costs = CostModel(slippage_bps=slippage, commission=commission, limit_band=rt.costs.limit_band)
    settings = Settings(
        initial_cash=_number(args.cash, "--cash"),
        contribution=_number(args.contribution, "--contribution", signed=True),
        contribution_every=args.every,
        costs=costs,
        lot_method=args.lots,
        tax_short=_number(args.tax_short, "--tax-short", fraction=True),
        tax_long=_number(args.tax_long, "--tax-long", fraction=True),
    )
    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".png"):
        raise BacktestError(
            f"unknown report type {Path(args.report).suffix!r}", where=f"--report {args.report}",
            fix="name the file .html or .png",
        )
    if args.report:  # checked now, not after a long run
        import os

        folder = Path(args.report).resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise BacktestError(
                f"cannot write the report into {folder}: "
                + ("the folder does not exist" if not folder.is_dir() else "the folder is not writable"),
                where=f"--report {args.report}", fix="choose a path in an existing, writable folder",
            )
    if settings.initial_cash <= 0 and settings.contribution <= 0:
        raise BacktestError("nothing to invest", where="--cash", fix="give --cash or a positive --contribution")
    risk_free = float(_number(args.risk_free, "--risk-free", signed=True, fraction=True))

    table = load_prices(Path(args.prices)) if args.prices else load_dataset(args.dataset)
    prices = table.select(sorted(desired.targets), start, end)
    policy = _policy_check(rt, args.override) if args.policies else None
    if args.override and not args.policies:
        raise BacktestError("--override needs --policies", where="--override", fix="add --policies")

    runs = []
    show = not args.no_progress and sys.stderr.isatty()
    days = len(prices.dates)
    with _progress(show, len(strategies) * days) as advance:
        for k, strategy in enumerate(strategies):
            runs.append(
                run_strategy(desired, prices, strategy, settings, policy=policy, progress=_offset(advance, k * days))
            )
    report = Report(
        portfolio=desired.name,
        source=table.source,
        settings=settings,
        costs_text=describe(costs),
        risk_free=risk_free,
        runs=runs,
        metrics=[compute(r, risk_free) for r in runs],
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


def _policy_check(rt: Runtime, overrides: list[str]) -> PolicyCheck:
    from datetime import datetime

    from reconciler.core.models import PortfolioPlan
    from reconciler.errors import BacktestError
    from reconciler.policy.inputs import policy_input

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


def _offset(advance: Callable[[int], None], base: int) -> Callable[[int], None]:
    return lambda n: advance(base + n)


class _progress:
    """A rich progress bar on stderr for long runs; a no-op when stderr is not a terminal."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total = show, total

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("backtest"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("backtest", total=self.total)
        return lambda n: self.bar.update(task, completed=n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()
