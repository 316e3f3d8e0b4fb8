"""The one-pass valuation of a run (kernels.value_segments, kernels.weights_before) against the day-by-day
rule it replaced: each day's equity is its closes times its segment's holdings plus that segment's cash, and
its weights each holding's value over that equity (zero for an account with nothing in it)."""

from __future__ import annotations

import numpy as np

from reconciler.backtest import kernels


def _segments(seed: int) -> tuple[kernels.FloatArray, list[int], list[kernels.FloatArray], list[float]]:
    rng = np.random.default_rng(seed)
    days, n = 300, 7
    closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (days, n)), axis=0))
    starts = [0, *sorted(rng.choice(np.arange(1, days), 25, replace=False).tolist())]
    qs = [rng.uniform(0, 100, n) for _ in starts]
    qs[7] = np.zeros(n)  # an emptied account: no equity, no weights
    cashes = [float(c) for c in rng.uniform(0, 1000, len(starts))]
    cashes[7] = 0.0
    return closes, starts, qs, cashes


def _day_by_day(
    closes: kernels.FloatArray, starts: list[int], qs: list[kernels.FloatArray], cashes: list[float]
) -> tuple[list[float], list[kernels.FloatArray]]:
    bounds = [*starts[1:], len(closes)]
    equity, weights = [], []
    for k, (a, b) in enumerate(zip(starts, bounds, strict=True)):
        for day in range(a, b):
            values = closes[day] * qs[k]
            e = float(values.sum()) + cashes[k]
            equity.append(e)
            weights.append(values / e if e > 0 else np.zeros_like(values))
    return equity, weights


def test_one_pass_values_every_day_as_the_day_by_day_rule() -> None:
    for seed in range(5):
        closes, starts, qs, cashes = _segments(seed)
        equity, weights = np.zeros(len(closes)), np.zeros(closes.shape)
        kernels.value_segments(closes, starts, qs, cashes, equity, weights)
        want_e, want_w = _day_by_day(closes, starts, qs, cashes)
        assert (equity.tolist(), weights.tolist()) == (want_e, [w.tolist() for w in want_w])


def test_weights_before_a_trade_day_are_the_previous_segments() -> None:
    for seed in range(5):
        closes, starts, qs, cashes = _segments(seed)
        _, want_w = _day_by_day(closes, [0, *starts[1:]], [qs[0], *qs[:-1]], [cashes[0], *cashes[:-1]])
        got = kernels.weights_before(closes, starts, qs, cashes)
        assert {d: w.tolist() for d, w in got.items()} == {d: want_w[d].tolist() for d in starts[1:]}
