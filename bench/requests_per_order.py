"""Requests per order: what `apply` asks of Alpaca for each order it sends, with and without the trade_updates
stream.

Against Alpaca's per-key rate limit (200 requests a minute) the requests, not the CPU, decide how long an
account takes. For each shape (accounts × orders per account, each account all cash and buying every target)
the script runs, in this process, against the emulator (no calendar, no rate limit, every order filled at
once): `plan --out`, then `apply PLAN --auto-approve`, twice on fresh emulators and journals: once polling
(broker.stream: false) and once with the stream (the emulator's trade_updates websocket). The emulator counts
the apply's requests by path. The counts do not depend on the machine, except one: a long apply re-quotes
every half quote age (30 s by default).

Target: ≤ 1.3 requests per order with the stream (issue 21 §6), judged on the shape of the issue's example, a
direct-indexing account of 500 holdings (--shapes accounts×orders, default 10x10,1x100,1x500).

    python bench/requests_per_order.py [--shapes 10x10,1x500] [--whole-shares]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from results import commit_line, record  # noqa: E402

from reconciler.cli.main import main  # noqa: E402
from reconciler.emulator import Emulator, EmulatorServer, Faults  # noqa: E402

TARGET = 1.3
PRICE = 10
CASH = 100_000
JUDGED = "1x500"  # the example: one direct-indexing account of 500 holdings


def symbols(n: int) -> list[str]:
    return [f"S{i:03d}" for i in range(n)]


def workspace(root: Path, url: str, stream_url: str | None, accounts: int, orders: int, whole: bool) -> Path:
    """A repository of `accounts` all-cash portfolios, each with `orders` equal targets (1 % cash)."""
    (root / "portfolios").mkdir(parents=True)
    shutil.copytree(ROOT / "policies", root / "policies")
    weight = (Decimal("0.99") / orders).quantize(Decimal("0.000001"))
    targets = ", ".join(f"{s}: {weight}" for s in symbols(orders))
    for i in range(accounts):
        (root / "portfolios" / f"p{i:03d}.yaml").write_text(
            "apiVersion: reconciler.dev/v1\nkind: Portfolio\n"
            f"metadata: {{name: p{i:03d}}}\n"
            f"spec:\n  account: a{i:03d}\n  targets: {{{targets}}}\n  cash: {Decimal(1) - weight * orders}\n"
            f"  trading: {{min_trade_notional: 1, fractional: {'false' if whole else 'true'}}}\n",
            encoding="utf-8",
        )
    broker: dict[str, Any] = {
        "kind": "alpaca", "trading_url": url, "data_url": url, "rate_limit_per_second": 1000,
        "slippage_bps": 0,
        "stream": stream_url is not None,
        "accounts": {f"a{i:03d}": {"key_id": f"env:RPO_KEY_{i:03d}", "secret_key": "env:RPO_SECRET"}
                     for i in range(accounts)},
    }
    if stream_url is not None:
        broker["stream_url"] = stream_url
    config = {
        "apiVersion": "reconciler.dev/v1", "kind": "Config", "portfolios_dir": "portfolios",
        "journal": {"url": f"sqlite:///{root / 'journal.db'}"}, "broker": broker,
        "policies": {"dir": "policies", "params": {"max_turnover": 2.0}},
    }
    (root / "reconciler.yaml").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return root / "reconciler.yaml"


def cell(accounts: int, orders: int, streamed: bool, whole: bool) -> dict[str, Any]:
    """One apply on a fresh emulator and journal: its requests, by path, over the orders it sent."""
    seed = {
        "accounts": {f"a{i:03d}": {"key_id": f"rpo-key-{i:03d}", "secret": "rpo-secret", "cash": CASH}
                     for i in range(accounts)},
        "prices": {s: {"price": PRICE, "previous_close": PRICE} for s in symbols(orders)},
    }
    emu = Emulator(seed, Faults())
    server = EmulatorServer(emu)
    server.start()
    env = {f"RPO_KEY_{i:03d}": f"rpo-key-{i:03d}" for i in range(accounts)} | {"RPO_SECRET": "rpo-secret"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory(prefix="rpo-") as tmp:
            config = workspace(
                Path(tmp), server.url, server.stream_url if streamed else None, accounts, orders, whole
            )
            plan = Path(tmp) / "plan.json"
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                planned = main(["--config", str(config), "--no-color", "plan", "--out", str(plan)])
                before = dict(emu.paths)
                applied = main(["--config", str(config), "--no-color", "apply", str(plan), "--auto-approve"])
            if applied != 0:
                raise SystemExit(f"apply exited {applied} (plan {planned}):\n{sink.getvalue()[-3000:]}")
            paths: dict[str, int] = {}
            for p, n in emu.paths.items():
                key = "/v2/assets/{symbol}" if p.startswith("/v2/assets/") else p
                paths[key] = paths.get(key, 0) + n - before.get(p, 0)
            paths = {p: n for p, n in paths.items() if n}
            sent = sum(len(a.orders) for a in emu.accounts.values())
            filled = sum(o.status == "filled" for a in emu.accounts.values() for o in a.orders.values())
    finally:
        server.shutdown()
        server.server_close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    total = sum(paths.values())
    return {"accounts": accounts, "orders_per_account": orders, "stream": streamed, "orders": sent,
            "filled": filled, "requests": total, "per_order": round(total / sent, 3), "paths": paths}


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="10x10,1x100,1x500", help="accounts x orders per account,"
                        " comma-separated")
    parser.add_argument("--whole-shares", action="store_true", help="trading.fractional: false (no asset"
                        " lookups)")
    args = parser.parse_args()
    print(commit_line())
    cells = []
    for shape in args.shapes.split(","):
        accounts, orders = (int(x) for x in shape.split("x"))
        for streamed in (False, True):
            got = cell(accounts, orders, streamed, args.whole_shares)
            cells.append(got)
            print(f"{accounts:>3} × {orders:<4} {'stream ' if streamed else 'polling'}  {got['orders']:>5}"
                  f" orders  {got['requests']:>6} requests  {got['per_order']:.3f} per order "
                  f" ({got['filled']} filled)")
            print(
                "      " + ", ".join(f"{p} {n}" for p, n in sorted(got["paths"].items(), key=lambda x: -x[1]))
            )
    judged = [c for c in cells if c["stream"] and f"{c['accounts']}x{c['orders_per_account']}" == JUDGED]
    if judged:
        verdict = "MET" if judged[0]["per_order"] <= TARGET else "MISSED"
        print(f"target ≤ {TARGET} requests per order with the stream, {JUDGED}: {judged[0]['per_order']:.3f}"
              f" {verdict}")
    record("requests_per_order", {"target": TARGET, "judged": JUDGED, "whole_shares": args.whole_shares,
                                  "cells": cells})
    return 0


if __name__ == "__main__":
    sys.exit(main_())
