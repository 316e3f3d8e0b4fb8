"""Alpaca's regulatory fees, computed by hand at Alpaca's published rates (the defaults): the CAT fee on whole
shares, TAF and SEC only on sells, TAF's cap per trade at its edge, and each day's totals rounded up to the
cent."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.fees import FeeRates, day_fees, round_up, trade_fees

RATES = FeeRates()
PRICE = Decimal(50)


def test_a_buy_pays_the_cat_fee_on_its_shares_rounded_up() -> None:
    # ceil(10.2) = 11 shares x 0.000046
    assert trade_fees("buy", Decimal("10.2"), PRICE, RATES) == {"CAT": Decimal("0.000506")}


def test_a_sell_pays_cat_taf_and_the_sec_fee() -> None:
    # CAT 100 x 0.000046; TAF 100 x 0.000166; SEC 100 x $50 x 0.0000278
    assert trade_fees("sell", Decimal(100), PRICE, RATES) == {
        "CAT": Decimal("0.0046"), "TAF": Decimal("0.0166"), "REG": Decimal("0.139"),
    }


def test_taf_one_share_under_its_cap_is_charged_per_share() -> None:
    assert trade_fees("sell", Decimal(49999), PRICE, RATES)["TAF"] == Decimal("8.299834")


def test_taf_exactly_at_its_cap_is_the_cap() -> None:
    assert trade_fees("sell", Decimal(50000), PRICE, RATES)["TAF"] == Decimal("8.30")


def test_taf_one_share_over_its_cap_is_the_cap() -> None:
    assert trade_fees("sell", Decimal(50001), PRICE, RATES)["TAF"] == Decimal("8.30")


def test_a_day_adds_each_fee_over_its_trades_and_rounds_each_total_up_to_the_cent() -> None:
    trades = [("buy", Decimal("10.2"), PRICE), ("sell", Decimal(100), PRICE)]
    # CAT 0.000506 + 0.0046 = 0.005106; TAF 0.0166; SEC 0.139
    assert day_fees(trades, RATES) == {"CAT": Decimal("0.01"), "TAF": Decimal("0.02"), "REG": Decimal("0.14")}


def test_a_day_whose_fees_are_all_zero_posts_none() -> None:
    assert day_fees([("buy", Decimal(0), PRICE)], RATES) == {}


def test_an_amount_already_in_cents_is_not_rounded_up() -> None:
    assert round_up(Decimal("0.01")) == Decimal("0.01")


def test_an_amount_past_a_cent_is_rounded_up_to_the_next() -> None:
    assert round_up(Decimal("0.0100001")) == Decimal("0.02")
