"""Plans and hashes are the same at two commits: a corpus of random accounts planned by both, compared case by
case.

A speed-up of the planner must not change one digit of a plan (the content hash covers every Decimal as
written, and client order ids derive from it). This plans the same seeded corpus with this tree and with
another commit's (exported by `git archive` to a temporary folder, imported in a child process) and compares,
per case, the digest of the portfolio plan's JSON and, per batch, the sealed plan's content hash.

    python bench/plan_identity.py --against main --cases 3000

The corpus mixes what the planner branches on: targets and holdings overlapping or not, zero and fractional
positions, hold/do_not_trade rules, open orders, unsettled and reserved cash, cash warnings, a closed market,
bands (absolute, relative, inner), steps, buy-only, net-of-costs sizing, commissions, slippage, ticks, limit
bands, quote limits and doubtful quotes (missing, zero, stale, moved).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def _dec(rng: random.Random, lo: int, hi: int, places: int) -> Decimal:
    return Decimal(rng.randint(lo, hi)).scaleb(-places)


def corpus(seed: int, count: int) -> list[tuple[object, object, object, object]]:
    """(desired, observation, costs, limits) per case, the same at every commit for the same seed."""
    from reconciler.core.models import CostModel, Desired, MarketStatus, Observation, Quote
    from reconciler.core.rules import Bands, Commission, SymbolRule, Trading
    from reconciler.core.valuation import QuoteLimits

    rng = random.Random(seed)
    out = []
    for idx in range(count):
        n = rng.choice([1, 2, 5, 12, 30, 60])
        universe = [f"S{i:02d}" for i in range(n)]
        in_targets = [s for s in universe if rng.random() < 0.8] or [universe[0]]
        cuts = sorted(rng.randint(0, 10_000) for _ in in_targets)
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
        targets = {s: Decimal(p).scaleb(-4) for s, p in zip(in_targets, parts[1:], strict=True)}
        cash_target = Decimal(parts[0]).scaleb(-4)
        positions: dict[str, Decimal] = {}
        for s in universe:
            kind = rng.randint(0, 4)
            if kind == 1:
                positions[s] = Decimal(rng.randint(1, 5_000))
            elif kind == 2:
                positions[s] = _dec(rng, 1, 5_000_000, 3)
            elif kind == 3:
                positions[s] = Decimal(0)
        rules = {}
        for s in universe:
            r = rng.randint(0, 14)
            if r == 13:
                rules[s] = SymbolRule(hold=True)
            elif r == 14:
                rules[s] = SymbolRule(do_not_trade=True)
        fractional = rng.random() < 0.4
        step = rng.choice([None, Decimal("0.001"), Decimal("0.01"), Decimal("1")]) if fractional else None
        bands = Bands(
            absolute=rng.choice([None, Decimal("0.02"), Decimal("0.05"), _dec(rng, 0, 500, 4)]),
            relative=rng.choice([None, Decimal("0.25"), Decimal("0.1"), _dec(rng, 0, 5_000, 4)]),
            inner=rng.choice([Decimal(0), Decimal(0), Decimal("0.5"), Decimal(1)]),
        )
        trading = Trading(
            bands=bands,
            min_trade_notional=rng.choice([Decimal(0), Decimal(50), _dec(rng, 0, 100_000, 2)]),
            fractional=fractional,
            quantity_step=step,
            buy_only=rng.random() < 0.1,
            max_cost_fraction=rng.choice([Decimal("0.05"), Decimal(1), Decimal("0.001")]),
            use_sale_proceeds=rng.random() < 0.8,
            order_sizing=rng.choice(["target", "net_of_costs"]),
        )
        desired = Desired(name=f"p{idx}", account=f"a{idx}", source="identity", targets=targets,
                          cash=cash_target, trading=trading, symbols=rules)
        quotes = {}
        for s in universe:
            if rng.random() < 0.002:
                continue  # no quote at all
            price = _dec(rng, 1, 5_000_000, 2) if rng.random() > 0.002 else Decimal(0)
            doubtful = rng.random() < 0.003  # most accounts' quotes are sound: their plans are the point
            prev = _dec(rng, 1, 5_000_000, 2) if doubtful else rng.choice([None, price])
            age = rng.choice([30, 600, 90_000]) if doubtful else rng.choice([0, 5])
            quotes[s] = Quote(symbol=s, price=price, previous_close=prev, as_of=NOW - timedelta(seconds=age),
                              daily_volume=rng.choice([None, Decimal(rng.randint(1, 10**7))]))
        settled = _dec(rng, 0, 100_000_000, 2)
        obs = Observation(
            account=f"a{idx}",
            taken_at=NOW,
            positions=positions,
            cash_settled=settled,
            cash_unsettled=rng.choice([Decimal(0), Decimal(0), _dec(rng, 0, 1_000_000, 2)]),
            cash_reserved=rng.choice([Decimal(0), Decimal(0), min(settled, _dec(rng, 0, 100_000, 2))]),
            quotes=quotes,
            open_orders={s: f"rc-{idx}-{s}" for s in universe if rng.random() < 0.03},
            cash_warning="figures disagree" if rng.random() < 0.02 else None,
            market=rng.choice(
                [
                    None,
                    None,
                    MarketStatus(is_open=True, source="calendar"),
                    MarketStatus(is_open=False, next_open=NOW + timedelta(hours=1), source="calendar"),
                ]
            ),
        )
        costs = CostModel(
            slippage_bps=rng.choice([Decimal(0), Decimal(5), _dec(rng, 0, 100, 1)]),
            commission=Commission(
                per_order=rng.choice([Decimal(0), Decimal(1)]),
                per_share=rng.choice([Decimal(0), Decimal("0.005")]),
                bps=rng.choice([Decimal(0), Decimal(10)]),
            ),
            price_tick=rng.choice([Decimal(0), Decimal("0.01")]),
            commission_step=rng.choice([Decimal(0), Decimal("0.01")]),
            limit_band=rng.choice([None, Decimal("0.01")]),
        )
        limits = rng.choice([
            QuoteLimits(),
            QuoteLimits(max_age_seconds=60),
            QuoteLimits(max_age_seconds=3_600, max_move=Decimal("0.2")),
        ])
        out.append((desired, obs, costs, limits))
    return out


def digests(seed: int, count: int) -> dict[str, list[str]]:
    """Per case, the digest of its portfolio plan (or of the error it raised); per batch of 50, the sealed
    hash and the digest of the plan file's text."""
    from reconciler.core.plan import seal
    from reconciler.core.planner import plan_many, plan_portfolio

    per_case, per_batch = [], []
    cases = corpus(seed, count)
    for desired, obs, costs, limits in cases:
        try:
            pp = plan_portfolio(desired, obs, costs, limits)  # type: ignore[arg-type]
            text = json.dumps(pp.model_dump(mode="json"), sort_keys=True)
        except Exception as exc:  # an error is an outcome to compare too
            text = f"{type(exc).__name__}: {exc}"
        per_case.append(hashlib.sha256(text.encode()).hexdigest())
    for start in range(0, count, 50):
        batch = cases[start:start + 50]
        by_limits: dict[object, list[tuple[object, object]]] = {}
        for desired, obs, costs, limits in batch:
            by_limits.setdefault((costs, limits), []).append((desired, obs))
        for (costs, limits), pairs in by_limits.items():
            plans = plan_many(pairs, costs, limits)  # type: ignore[arg-type]
            sealed = seal(plans, created_at=NOW, targets_hash="t", accounts=[p.account for p in plans],
                          policy_results=[])
            per_batch.append(sealed.content_hash)
            # The plan file as `plan --out` writes it: the rows as dumped, not as hashed.
            per_batch.append(hashlib.sha256(sealed.model_dump_json(indent=2).encode()).hexdigest())
    return {"cases": per_case, "batches": per_batch}


def _export(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into / "tree", filter="data")


def _run(tree: Path, seed: int, count: int) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--seed",
            str(seed),
            "--cases",
            str(count),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main", help="the commit to compare with (default: main)")
    ap.add_argument("--cases", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(digests(args.seed, args.cases)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        _export(args.against, Path(tmp))
        theirs = _run(Path(tmp) / "tree", args.seed, args.cases)
    ours = _run(ROOT, args.seed, args.cases)
    differ = [i for i, (a, b) in enumerate(zip(ours["cases"], theirs["cases"], strict=True)) if a != b]
    batches = sum(a != b for a, b in zip(ours["batches"], theirs["batches"], strict=True))
    print(f"{args.cases:,} random accounts (seed {args.seed}) planned here and at {args.against}: "
          f"{len(differ)} plans differ, {batches} of {len(ours['batches'])} sealed batch hashes and plan"
          " files differ")
    if differ:
        print(f"first cases that differ: {differ[:10]}")
    return 1 if differ or batches else 0


if __name__ == "__main__":
    sys.exit(main())
