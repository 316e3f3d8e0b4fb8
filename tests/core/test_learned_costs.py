"""The fitting of learned costs (core/learned_costs.py) on plain fills: the t quantile against published
values, a commission rule found back exactly, too few fills refused, and accounts of another broker kept
apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciler.core.learned_costs import (
    Estimate,
    ObservedFill,
    chosen,
    fit,
    grouping,
    line_fit,
    mean_interval,
    t_quantile,
)
from reconciler.errors import CostsFitError

T0 = datetime(2031, 6, 2, 15, tzinfo=UTC)


def fill(
    n: int,
    *,
    account: str = "a",
    side: str = "buy",
    quantity: int = 10,
    price: str = "100.05",
    quote: str = "100",
    commission: str | None = None,
    seconds: float = 1.0,
) -> ObservedFill:
    charge = Decimal("1") + Decimal("0.005") * quantity if commission is None else Decimal(commission)
    return ObservedFill(
        account=account,
        client_order_id=f"o{n}",
        symbol="VTI",
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        commission=charge,
        quote=Decimal(quote),
        sent_at=T0 + timedelta(minutes=n),
        filled_at=T0 + timedelta(minutes=n, seconds=seconds),
    )


# Published 97.5% quantiles (six decimals), odd and even degrees of freedom: the closed form has a series
# for each.
@pytest.mark.parametrize(
    ("df", "exact"),
    [
        (1, 12.706205),
        (2, 4.302653),
        (3, 3.182446),
        (4, 2.776445),
        (5, 2.570582),
        (8, 2.306004),
        (9, 2.262157),
        (29, 2.045230),
        (100, 1.983972),
    ],
)
def test_the_t_quantile_matches_published_tables(df: int, exact: float) -> None:
    assert t_quantile(df) == pytest.approx(exact, abs=1e-6)


def test_a_fit_reads_as_json_with_every_figure() -> None:
    (f,) = fit([fill(n, quantity=10 + n, seconds=2) for n in range(30)], lambda _: ("paper", "equity"))
    doc = f.as_dict()
    assert doc["latency_seconds"] == {"value": 2.0, "low": 2.0, "high": 2.0, "n": 30}
    assert (doc["broker"], doc["symbol_class"], doc["fills"], doc["orders"]) == ("paper", "equity", 30, 30)
    assert (doc["first"], doc["last"]) == (
        (T0 + timedelta(seconds=2)).isoformat(),
        (T0 + timedelta(minutes=29, seconds=2)).isoformat(),
    )
    assert doc["refused"] is None


def test_a_refused_fit_reads_as_json_without_figures() -> None:
    (f,) = fit([fill(n) for n in range(3)], lambda _: ("paper", "equity"))
    doc = f.as_dict()
    assert [
        doc[k] for k in ("slippage_bps", "commission_per_order", "commission_per_share", "latency_seconds")
    ] == [None] * 4
    assert doc["refused"] is not None


def test_a_refused_fit_has_no_cost_model() -> None:
    (f,) = fit([fill(n) for n in range(3)], lambda _: ("paper", "equity"))
    with pytest.raises(ValueError, match="no fit for paper equity"):
        f.model()


def test_a_mean_interval_is_the_textbook_t_interval() -> None:
    e = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    half = t_quantile(5) * (3.5**0.5) / (6**0.5)  # sample variance 3.5
    assert (e.value, e.low, e.high, e.n) == pytest.approx((3.5, 3.5 - half, 3.5 + half, 6))


def test_a_line_through_exact_points_has_no_width() -> None:
    line = line_fit([1.0, 2.0, 5.0, 9.0], [3.0, 5.0, 11.0, 19.0])
    assert line == (Estimate(1.0, 1.0, 1.0, 4), Estimate(2.0, 2.0, 2.0, 4))


def test_a_noisy_line_has_the_textbook_intervals() -> None:
    """Against the matrix form, computed apart: (X'X)^-1 X'y, and s^2 (X'X)^-1 for the variances."""
    xs = [1.0, 2.0, 3.0, 5.0, 8.0, 9.0, 12.0, 15.0, 16.0, 20.0]
    ys = [3.1, 4.8, 7.3, 10.9, 17.2, 18.8, 25.1, 31.2, 32.7, 41.4]
    n, sx, sxx_raw = len(xs), sum(xs), sum(x * x for x in xs)
    sy, sxy = sum(ys), sum(x * y for x, y in zip(xs, ys, strict=True))
    det = n * sxx_raw - sx * sx
    a, b = (sxx_raw * sy - sx * sxy) / det, (n * sxy - sx * sy) / det
    s2 = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 2)
    half_a, half_b = 2.306004 * (s2 * sxx_raw / det) ** 0.5, 2.306004 * (s2 * n / det) ** 0.5  # t(0.975, 8)
    line = line_fit(xs, ys)
    assert line is not None
    got_a, got_b = line
    assert (got_a.value, got_a.low, got_a.high) == pytest.approx((a, a - half_a, a + half_a), abs=1e-6)
    assert (got_b.value, got_b.low, got_b.high) == pytest.approx((b, b - half_b, b + half_b), abs=1e-6)
    assert (got_a.n, got_b.n) == (10, 10)


def test_a_line_over_one_x_has_no_slope() -> None:
    assert line_fit([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]) is None


def test_sells_slip_the_other_way() -> None:
    assert fill(0, side="sell", price="99.95").slippage_bps == pytest.approx(5.0)


def test_the_commission_rule_is_found_back_from_orders_of_several_sizes() -> None:
    (f,) = fit([fill(n, quantity=10 + n) for n in range(30)], lambda _: ("paper", "equity"))
    assert f.model() == (Decimal("5.00"), Decimal("1.0000"), Decimal("0.005000"))


def test_orders_of_one_size_put_their_commission_per_order_and_say_so() -> None:
    (f,) = fit([fill(n) for n in range(30)], lambda _: ("paper", "equity"))
    assert f.model()[1:] == (Decimal("1.0500"), Decimal("0.000000"))
    assert f.commission_per_share == Estimate(0.0, 0.0, 0.0, 30)
    assert f.notes == ("every order had the same quantity: its whole commission is counted per order",)


def test_price_improvement_is_never_credited_to_a_backtest() -> None:
    (f,) = fit([fill(n, quantity=10 + n, price="99.9") for n in range(30)], lambda _: ("paper", "equity"))
    assert f.slippage_bps is not None
    assert f.slippage_bps.value < 0
    assert f.model()[0] == Decimal("0.00")


def test_the_latency_is_fill_time_less_send_time() -> None:
    (f,) = fit([fill(n, quantity=10 + n, seconds=n % 3) for n in range(30)], lambda _: ("paper", "equity"))
    assert f.latency_seconds is not None
    assert f.latency_seconds.value == pytest.approx(sum(n % 3 for n in range(30)) / 30)


def test_too_few_fills_are_refused_not_fitted() -> None:
    (f,) = fit([fill(n, quantity=10 + n) for n in range(29)], lambda _: ("paper", "equity"))
    assert f.refused == "too few fills to fit: 29 fills of 29 orders, at least 30 fills of 3 orders needed"
    assert f.slippage_bps is None


def test_an_account_the_configuration_does_not_declare_is_kept_apart() -> None:
    fills = [fill(n, quantity=10 + n) for n in range(30)] + [fill(99, account="old")]
    fits = fit(fills, grouping("paper", ["a"]))
    assert [(f.broker, f.symbol_class, f.fills) for f in fits] == [
        ("paper", "equity", 30),
        ("unknown", "unknown", 1),
    ]


def _orders(count: int, fills_each: int) -> list[ObservedFill]:
    """`count` orders of different sizes, each filled in `fills_each` parts."""
    return [
        ObservedFill(
            **{
                **fill(o, quantity=5 + 3 * o).__dict__,
                "quantity": Decimal(1 + o),
                "price": Decimal("100.05" if part % 2 else "100.04"),
            }
        )
        for o in range(count)
        for part in range(fills_each)
    ]


def test_three_orders_filled_in_parts_are_enough() -> None:
    (f,) = fit(_orders(3, 4), lambda _: ("paper", "equity"), min_fills=10)
    assert (f.fills, f.orders, f.refused) == (12, 3, None)


def test_two_orders_are_too_few_however_many_fills() -> None:
    (f,) = fit(_orders(2, 6), lambda _: ("paper", "equity"), min_fills=10)
    assert f.refused == "too few fills to fit: 12 fills of 2 orders, at least 10 fills of 3 orders needed"


def test_a_backtest_gets_the_fit_of_the_configured_brokers_class() -> None:
    fits = fit(
        [fill(n, quantity=10 + n) for n in range(30)] + [fill(99, account="old")], grouping("paper", ["a"])
    )
    assert chosen(fits, "paper", "--costs-from-journal") is fits[0]


def test_a_minimum_below_the_floor_is_raised_to_it() -> None:
    (f,) = fit([fill(n, quantity=10 + n) for n in range(9)], lambda _: ("paper", "equity"), min_fills=3)
    assert f.refused is not None
    assert "at least 10 fills" in f.refused


def test_a_crypto_exchange_is_crypto() -> None:
    assert grouping("ccxt", ["a"])(fill(0)) == ("ccxt", "crypto")


def test_a_backtest_is_refused_a_group_that_was_not_fitted() -> None:
    fits = fit([fill(n) for n in range(5)], grouping("paper", ["a"]), min_fills=3)
    with pytest.raises(CostsFitError, match="no costs learned for paper equity: too few fills"):
        chosen(fits, "paper", "--costs-from-journal")


def test_a_backtest_is_refused_a_broker_without_fills() -> None:
    with pytest.raises(CostsFitError, match="the journal holds no fills of its accounts"):
        chosen([], "alpaca", "--costs-from-journal")
