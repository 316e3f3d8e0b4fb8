"""An Alpaca account's ledger over the settlement window, with plain values: the cash split, fees accrued and
not posted, the check of the broker's cash against what the activities since the last observation moved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.brokers.alpaca_activities import Entry, entry
from reconciler.brokers.alpaca_ledger import LedgerState, Reading, read, settlement_horizon
from reconciler.core.fees import FeeRates, day_fees, trade_fees

D = Decimal
THURSDAY, FRIDAY = date(2024, 3, 14), date(2024, 3, 15)
HORIZON = settlement_horizon(FRIDAY, 1)
NO_FEES = FeeRates(taf_per_share=D(0), taf_max_per_trade=D(0), cat_per_share=D(0), sec_per_dollar=D(0))
_ids = iter(range(10**6))


def fill(side: str, qty: str, price: str, when: str = "2024-03-14T15:00:00Z") -> Entry:
    return entry({"id": f"{when[:10].replace('-', '')}150000000::{next(_ids):06d}", "activity_type": "FILL",
                  "side": side, "qty": qty, "price": price, "transaction_time": when})


def cash(kind: str, amount: str | None, day: str = "2024-03-14", **extra: Any) -> Entry:
    return entry({"id": f"{day.replace('-', '')}000000000::{next(_ids):06d}", "activity_type": kind,
                  "net_amount": amount, "date": day, **extra})


def observe(
    state: LedgerState | None,
    fresh: list[Entry],
    claimed: str,
    *,
    sessions: list[date] | None = None,
    rates: FeeRates = NO_FEES,
) -> Reading:
    return read(state, fresh, D(claimed), today=FRIDAY, horizon=HORIZON,
                sessions=[THURSDAY, FRIDAY] if sessions is None else sessions, settlement_days=1, rates=rates,
                tolerance=D("0.01"))


def test_the_horizon_is_a_week_per_settlement_day_and_two_more() -> None:
    assert settlement_horizon(FRIDAY, 1) == date(2024, 2, 23)


def test_the_first_observation_starts_from_the_brokers_cash() -> None:
    got = observe(None, [cash("CSD", "100")], "1000")
    assert got.warning is None
    assert got.state.implied == D(1000)


def test_a_sale_settles_after_its_settlement_sessions() -> None:
    got = observe(None, [fill("sell", "1", "50")], "150")
    assert (got.settled, got.unsettled) == (D(150), D(0))


def test_a_holiday_between_the_sale_and_today_keeps_it_unsettled() -> None:
    got = observe(None, [fill("sell", "1", "50")], "150", sessions=[THURSDAY])
    assert (got.settled, got.unsettled) == (D(100), D(50))


def test_a_buy_that_spends_unsettled_proceeds_takes_them_from_unsettled() -> None:
    got = observe(None, [fill("sell", "1", "50")], "30", sessions=[THURSDAY])
    assert (got.settled, got.unsettled) == (D(0), D(30))


def test_what_moved_since_the_cursor_is_checked() -> None:
    first = observe(None, [], "100").state
    assert observe(first, [cash("CSD", "50"), fill("buy", "1", "20")], "130").warning is None


def test_cash_that_moved_without_an_activity_is_a_disagreement() -> None:
    first = observe(None, [], "100").state
    warning = observe(first, [], "600").warning
    assert warning is not None
    assert "trusting neither" in warning


def test_an_activity_read_again_counts_once() -> None:
    deposit = cash("CSD", "50")
    first = observe(None, [], "100").state
    second = observe(first, [deposit], "150").state
    assert observe(second, [deposit], "150").warning is None


def test_an_activity_cancelled_after_it_was_read_is_taken_back() -> None:
    deposit = cash("CSD", "50")
    first = observe(observe(None, [], "100").state, [deposit], "150").state
    cancelled = entry({"id": deposit.id, "activity_type": "CSD", "net_amount": "50", "date": "2024-03-14",
                       "status": "canceled"})
    assert observe(first, [cancelled], "100").warning is None


def test_fees_accrued_and_not_posted_explain_a_shortfall() -> None:
    rates = FeeRates()
    first = observe(None, [], "1000", rates=rates).state
    sale = fill("sell", "100", "50", when="2024-03-15T15:00:00Z")
    pending = sum(day_fees([("sell", D(100), D(50))], rates).values(), D(0))
    got = observe(first, [sale], str(D(6000) - pending), rates=rates)
    assert got.warning is None


def test_a_shortfall_beyond_the_fees_accrued_is_a_disagreement() -> None:
    rates = FeeRates()
    first = observe(None, [], "1000", rates=rates).state
    sale = fill("sell", "100", "50", when="2024-03-15T15:00:00Z")
    assert observe(first, [sale], "5999.00", rates=rates).warning is not None


def test_the_fee_posting_ends_what_is_pending() -> None:
    rates = FeeRates()
    sale = fill("sell", "100", "50", when="2024-03-15T15:00:00Z")
    posted = cash("FEE", "-0.17", day="2024-03-15")
    got = observe(None, [sale, posted], "5999.83", rates=rates)
    assert got.pending_fees == D(0)


def test_an_unknown_kind_outside_the_window_is_never_kept() -> None:
    got = observe(None, [cash("XYZ", "5", day="2023-01-03")], "100")
    assert got.state.window == ()


def test_money_in_of_an_unknown_kind_is_held_back_in_the_window_and_does_not_block() -> None:
    got = observe(None, [cash("XYZ", "5")], "100")
    assert (got.settled, got.unsettled, got.warning) == (D(95), D(5), None)


def test_an_unknown_kind_is_named_only_when_the_cash_disagrees() -> None:
    first = observe(None, [], "100").state
    warning = observe(first, [cash("XYZ", None)], "75").warning
    assert warning is not None
    assert "XYZ amount unknown" in warning


def test_negative_cash_is_a_margin_loan() -> None:
    warning = observe(None, [], "-1").warning
    assert warning is not None
    assert "margin" in warning


def test_a_margin_loan_never_hides_a_disagreement() -> None:
    """The disagreement blocks the portfolio (its cash is trusted by neither source); the margin note alone
    only stops buys: before, the margin note replaced the disagreement's."""
    first = observe(None, [], "100").state
    warning = observe(first, [], "-500").warning
    assert warning is not None
    assert "trusting neither" in warning


def test_the_state_survives_the_journal_as_text() -> None:
    state = observe(None, [fill("sell", "1", "50"), cash("DIV", "1.5")], "151.5", rates=FeeRates()).state
    assert LedgerState.from_json(state.to_json()) == state


def test_taf_is_capped_per_trade() -> None:
    assert trade_fees("sell", D(100_000), D(1), FeeRates())["TAF"] == D("8.30")


def test_cat_counts_whole_shares_on_buys() -> None:
    assert trade_fees("buy", D("0.5"), D(100), FeeRates()) == {"CAT": D("0.000046")}


def test_each_days_fee_is_rounded_up_to_the_cent() -> None:
    assert day_fees([("buy", D(1), D(10)), ("buy", D(1), D(10))], FeeRates()) == {"CAT": D("0.01")}


def test_an_account_whose_window_was_empty_counts_what_arrives_in_it_and_nothing_older() -> None:
    first = observe(None, [], "100").state
    got = observe(first, [cash("CSD", "900", day="2023-01-03"), cash("CSD", "50")], "150")
    assert got.warning is None
