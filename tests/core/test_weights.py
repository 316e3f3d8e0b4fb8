"""Current weights as `reconciler import` writes them: holdings valued at their quotes, rounded to a step,
every guard at its edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.core.weights import holdings_values, round_weights
from reconciler.errors import PlanningError
from tests.builders import observation

D = Decimal
CENT = D("0.01")


def test_holdings_are_valued_at_their_quotes_and_cash_counts_settled_and_unsettled() -> None:
    obs = observation({"A": "10", "B": "2.5"}, {"A": "3", "B": "4"}, settled="100", unsettled="50")
    assert holdings_values(obs) == ({"A": D(30), "B": D(10)}, D(150))


def test_a_position_of_zero_is_not_a_holding_and_needs_no_quote() -> None:
    obs = observation({"A": "10"}, {"A": "3", "GONE": "0"})
    assert holdings_values(obs) == ({"A": D(30)}, D(0))


def test_a_held_symbol_without_a_quote_is_an_error_naming_it() -> None:
    obs = observation({"A": "10"}, {"A": "3", "X": "1", "Y": "2"})
    with pytest.raises(PlanningError) as err:
        holdings_values(obs)
    assert err.value.message == "no quote for X, Y"
    assert err.value.where == "account acct"


def test_a_step_of_one_is_a_whole_account_in_one_line() -> None:
    assert round_weights({"A": D(10)}, D(0), D(1)) == ({"A": D(1)}, D(0))


@pytest.mark.parametrize("step", ["0", "-0.01", "0.3", "1.5", "2"])
def test_a_step_that_does_not_divide_one_is_refused(step: str) -> None:
    with pytest.raises(ValueError, match="step must divide 1"):
        round_weights({"A": D(10)}, D(0), D(step))


@pytest.mark.parametrize(("values", "cash"), [({}, "0"), ({"A": "0"}, "0"), ({"A": "10"}, "-10"), ({}, "-1")])
def test_nothing_to_weigh_is_refused(values: dict[str, str], cash: str) -> None:
    """Zero or negative total value: there is no weight to give anything."""
    with pytest.raises(ValueError, match="nothing to weigh"):
        round_weights({s: D(v) for s, v in values.items()}, D(cash), CENT)


def test_a_smallest_positive_total_is_weighed() -> None:
    assert round_weights({}, CENT, CENT) == ({}, D(1))


def test_a_holding_worth_nothing_gets_no_line() -> None:
    assert round_weights({"A": D(0), "B": D(100)}, D(0), CENT) == ({"B": D(1)}, D(0))


def test_negative_cash_weighs_nothing() -> None:
    """Cash below zero (a debit) is no line of its own: the holdings take all of the weight."""
    assert round_weights({"A": D(60), "B": D(60)}, D(-20), CENT) == ({"A": D("0.5"), "B": D("0.5")}, D(0))


def test_the_remainder_goes_to_the_largest_remainders_ties_by_name() -> None:
    # Thirds in steps of 0.01: 33 each and one unit left, for the largest remainder; all equal, so by name,
    # the last in reverse order: C.
    assert round_weights({"A": D(1), "B": D(1), "C": D(1)}, D(0), CENT) == (
        {"A": D("0.33"), "B": D("0.33"), "C": D("0.34")}, D(0),
    )


def test_a_tiny_holding_keeps_one_step() -> None:
    # A is 0.05% of the account: rounded down it would be 0 ("sell it all"); it keeps one step.
    assert round_weights({"A": D("0.05")}, D("99.95"), CENT) == ({"A": D("0.01")}, D("0.99"))


def test_steps_kept_by_tiny_holdings_are_taken_back_from_the_largest_line() -> None:
    # A and B keep a step each (0.005% of the account each): 1 + 1 + 99 = 101 steps, one too many, taken from
    # cash, the largest line.
    assert round_weights({"A": D("0.005"), "B": D("0.005")}, D("99.99"), CENT) == (
        {"A": D("0.01"), "B": D("0.01")}, D("0.98"),
    )


def test_more_holdings_than_steps_do_not_fit() -> None:
    with pytest.raises(ValueError, match=r"3 holdings do not fit in steps of 0\.5"):
        round_weights({"A": D(1), "B": D(1), "C": D(1)}, D(0), D("0.5"))


def test_steps_are_taken_back_down_to_one_step_a_line() -> None:
    # Steps of 0.25: A, B and C keep one each and cash rounds down to 3: 6 steps of 4. Two are taken back from
    # cash, the largest line each time, down to its own last step.
    assert round_weights({"A": D("0.001"), "B": D("0.001"), "C": D("0.001")}, D("99.997"), D("0.25")) == (
        {"A": D("0.25"), "B": D("0.25"), "C": D("0.25")}, D("0.25"),
    )
