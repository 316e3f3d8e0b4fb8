"""How long, and how much memory, a hostile broker can take from apply.

Each case points the Alpaca adapter at a peer on 127.0.0.1 that misbehaves (headers or a body dripped a byte at a
time, a chunked body that never ends, a 100 MB body) and observes an account. Printed: seconds until the adapter
gives up, the growth of the process's peak RSS, and the time as a ratio against a sound peer's observation in the
same run. Targets: every case under 30 s and under 200 MB.

    python bench/hostile_broker.py      (the peer's deadline is 1 s and 2 attempts, as in the tests)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.errors import BrokerError
from tests.brokers.test_alpaca_hostile import (
    _drip_body,
    _drip_headers,
    _endless_chunks,
    _hundred_megabytes,
    _Peer,
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _observe(peer: _Peer, behaviour: Any | None) -> tuple[float, str]:
    if behaviour is not None:
        peer.answers["/v2/positions"] = behaviour
    started = time.perf_counter()
    try:
        peer.broker().observe("acct", ["VTI"])
        said = "observed"
    except BrokerError as exc:
        said = exc.message[:90]
    return time.perf_counter() - started, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    os.environ.setdefault("RC_HOSTILE_KEY", "hostile-peer-key-id")
    os.environ.setdefault("RC_HOSTILE_SECRET", "hostile-peer-secret-value")
    peer = _Peer()
    baseline, _ = _observe(peer, None)
    print(f"{'case':<16} {'seconds':>8} {'× sound':>9} {'peak RSS +MB':>13}  outcome")
    print(f"{'sound peer':<16} {baseline:8.3f} {1.0:9.1f} {0.0:13.1f}  observed")
    cases = [("slow headers", _drip_headers), ("slow body", _drip_body), ("endless chunks", _endless_chunks),
             ("100 MB body", _hundred_megabytes)]
    for name, behaviour in cases:
        before = _peak_mb()
        seconds, said = _observe(peer, behaviour)
        print(f"{name:<16} {seconds:8.3f} {seconds / baseline:9.1f} {_peak_mb() - before:13.1f}  {said}")
    peer.server.shutdown()


if __name__ == "__main__":
    main()
