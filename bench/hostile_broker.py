"""How long, and how much memory, a hostile broker can take from apply.

Each case points the Alpaca adapter, then the ccxt adapter, at a peer on 127.0.0.1 that misbehaves (headers or
a body dripped a byte at a time, a chunked body that never ends, a 100 MB body) and observes an account.
Printed: seconds until the adapter gives up, the growth of the process's peak RSS, and the time as a ratio
against a sound peer's observation in the same run (the emulator's Alpaca answers; a fake Binance for ccxt).
Targets: every case under 30 s and under 200 MB. Writes bench/results/hostile_broker.json (--cases: a subset,
a short form).

    python bench/hostile_broker.py      (the peer's deadline is 1 s and 2 attempts, as in the tests)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, planted, record

from reconciler.brokers.ccxt import CcxtBroker
from reconciler.errors import BrokerError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import CcxtBrokerConfig
from tests.brokers.fake_binance import FakeBinance, FakeBinanceServer
from tests.brokers.test_alpaca_hostile import (
    _drip_body,
    _drip_headers,
    _endless_chunks,
    _hundred_megabytes,
    _Peer,
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(observe: Callable[[], object]) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        observe()
        said = "observed"
    except BrokerError as exc:
        said = exc.message[:90]
    return time.perf_counter() - started, said


def _ccxt(url: str) -> CcxtBroker:
    spec = CcxtBrokerConfig.model_validate({
        "kind": "ccxt", "exchange": "binance", "api_url": url, "rate_limit_per_second": 1000,
        "timeout_seconds": 1,
        "options": {"fetchMarkets": {"types": ["spot"]}},
        "accounts": {"spot": {"api_key": "env:RC_HOSTILE_KEY", "secret": "env:RC_HOSTILE_SECRET"}},
    })
    return CcxtBroker(spec, SecretResolver(spec.secrets), attempts=2)


CASES = [("slow headers", _drip_headers), ("slow body", _drip_body), ("endless chunks", _endless_chunks),
         ("100 MB body", _hundred_megabytes)]


def _rows(adapter: str, baseline: float, peer: _Peer, path: str, observe: Callable[[], object],
          cases: list[str]) -> dict[str, dict[str, float | str]]:
    print(f"{adapter + ' sound':<22} {baseline:8.3f} {1.0:9.1f} {0.0:13.1f}  observed")
    out: dict[str, dict[str, float | str]] = {}
    for name, behaviour in CASES:
        if name not in cases:
            continue
        peer.answers[path] = behaviour
        before = _peak_mb()
        seconds, said = _timed(observe)
        seconds *= planted()
        grew = _peak_mb() - before
        print(f"{adapter + ' ' + name:<22} {seconds:8.3f} {seconds / baseline:9.1f} {grew:13.1f}  {said}")
        out[name] = {"seconds": round(seconds, 3), "over_sound": round(seconds / baseline, 1),
                     "rss_growth_mb": round(grew, 1), "outcome": said}
    return out


def measure(cases: list[str]) -> dict[str, dict[str, dict[str, float | str]]]:
    """Per adapter and case: seconds to give up, as a multiple of a sound observation, and RSS growth."""
    os.environ.setdefault("RC_HOSTILE_KEY", "hostile-peer-key-id")
    os.environ.setdefault("RC_HOSTILE_SECRET", "hostile-peer-secret-value")
    print(f"{'case':<22} {'seconds':>8} {'× sound':>9} {'peak RSS +MB':>13}  outcome")
    peer = _Peer()
    baseline, _ = _timed(lambda: peer.broker().observe("acct", ["VTI"]))
    alpaca = _rows(
        "alpaca", baseline, peer, "/v2/positions", lambda: peer.broker().observe("acct", ["VTI"]), cases
    )
    fake = FakeBinance(
        {"USDT": Decimal(20000), "BTC": Decimal("0.05")}, {"BTC": (Decimal(60000), Decimal(59500))}
    )
    server = FakeBinanceServer(fake)
    server.start()
    baseline, _ = _timed(lambda: _ccxt(fake.url).observe("spot", ["BTC"]))
    server.stop()
    ccxt = _rows(
        "ccxt",
        baseline,
        peer,
        "/api/v3/exchangeInfo",
        lambda: _ccxt(peer.url).observe("spot", ["BTC"]),
        cases,
    )
    peer.server.shutdown()
    return {"alpaca": alpaca, "ccxt": ccxt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(name for name, _ in CASES),
                        help="comma-separated case names (default: all)")
    args = parser.parse_args()
    print(commit_line())
    figures = measure(args.cases.split(","))
    record("hostile_broker", figures)


if __name__ == "__main__":
    main()
