"""Every rule of every policy shipped in policies/ denies (or warns) on a crafted input, with its message, and
lets a near miss through. Inputs are built the way plan and apply build them: a PortfolioPlan through
policy_input.

A new .rego file, or a new rule in one, fails `test_every_shipped_rule_has_a_case_here` until a case is added.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import FixedClock
from reconciler.core.models import Action, PolicyResult, PortfolioPlan, Side
from reconciler.core.tax_figures import PortfolioTax, SellTax
from reconciler.policy.engine import PolicySet, load_policies
from reconciler.policy.inputs import policy_input
from reconciler.workspace.models import PolicyParams
from tests.builders import observation, quote

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
EQUITY = Decimal(10000)
PARAMS = PolicyParams()  # the defaults, which the shipped reconciler.yaml spells out
_RULE = re.compile(r"^(deny|warn)\s+contains\b", re.MULTILINE)


@dataclass(frozen=True)
class Order:
    """One order of the crafted plan, with the quote it was priced from."""

    symbol: str
    side: Side
    quantity: str
    price: str
    previous_close: str | None = "same"  # "same": the quote's previous close is its price
    quoted: bool = True


@dataclass(frozen=True)
class Input:
    """A crafted portfolio plan and how it reaches the policies."""

    orders: tuple[Order, ...]
    phase: str = "plan"
    quote_age_seconds: float = 0
    params: PolicyParams = field(default=PARAMS)
    gains: tuple[str, str] | None = None  # (realised earlier this year, the budget): a portfolio with `tax:`

    def document(self) -> dict[str, Any]:
        """policy_input of a PortfolioPlan placing these orders, evaluated `quote_age_seconds` after the
        quotes."""
        clock = FixedClock(START)
        quotes = {
            o.symbol: quote(o.symbol, o.price, as_of=clock.now(),
                            previous_close=o.price if o.previous_close == "same" else o.previous_close)
            for o in self.orders if o.quoted
        }
        actions = [
            Action(leg=i, symbol=o.symbol, side=o.side, quantity=Decimal(o.quantity), price=Decimal(o.price),
                   notional=Decimal(o.quantity) * Decimal(o.price), est_commission=Decimal(0), reason="test")
            for i, o in enumerate(self.orders, start=1)
        ]
        buys = sum((a.notional for a in actions if a.side == "buy"), Decimal(0))
        sells = sum((a.notional for a in actions if a.side == "sell"), Decimal(0))
        positions = {a.symbol: a.quantity for a in actions if a.side == "sell"}
        cash = EQUITY - sells  # what is sold is held; the rest of the equity is cash
        pp = PortfolioPlan(
            name="p", account="acct", equity=EQUITY, cash_before=cash, cash_after=cash + sells - buys,
            cash_weight_before=cash / EQUITY, cash_weight_target=Decimal(0),
            cash_weight_after=(cash + sells - buys) / EQUITY, buy_notional=buys, sell_notional=sells,
            turnover=(buys + sells) / EQUITY, actions=actions, holdings=[],
            observation=observation(positions=positions, settled=cash, taken_at=clock.now(), quotes=quotes),
            tax=self.taxes(actions),
        )
        clock.advance(self.quote_age_seconds)
        return policy_input(pp, self.params, phase=self.phase, now=clock.now())


    def taxes(self, actions: list[Action]) -> PortfolioTax | None:
        """Each sell closing one long-term lot bought at half its price (its gain is half its notional)."""
        if self.gains is None:
            return None
        before, budget = (Decimal(g) for g in self.gains)
        sells = [
            SellTax(leg=a.leg, symbol=a.symbol, quantity=a.quantity, lots=[], short_term_gain=Decimal(0),
                    long_term_gain=a.notional / 2, tax=a.notional / 2 * Decimal("0.15"))
            for a in actions if a.side == "sell"
        ]
        gain = sum((s.long_term_gain for s in sells), Decimal(0))
        return PortfolioTax(method="hifo", sells=sells, short_term_gain=Decimal(0), long_term_gain=gain,
                            tax=gain * Decimal("0.15"), realized_before=before, max_realized_gain=budget)


def of(*orders: Order, **how: Any) -> Input:
    return Input(orders=orders, **how)


@dataclass(frozen=True)
class Case:
    policy: str
    kind: str
    given: Input
    message: str


# One case per rule: a crafted input and the one message the rule gives on it.
FIRES = [
    pytest.param(
        Case(
            "max_realized_gain",
            "deny",
            of(Order("VTI", "sell", "10", "100"), gains=("4501", "5000")),
            "realised gains this year would reach 5001.00, above the budget of 5000.00"
            " (tax.max_realized_gain)",
        ),
        id="max_realized_gain-over-budget",
    ),
    pytest.param(
        Case(
            "deny_list",
            "deny",
            of(Order("AAPL", "buy", "10", "229.87"), params=PolicyParams(deny_symbols=["AAPL"])),
            "AAPL is on the deny list",
        ),
        id="deny_list",
    ),
    pytest.param(
        Case(
            "kill_switch",
            "deny",
            of(Order("XYZ", "sell", "5", "0", previous_close="10")),
            "XYZ price is 0: refusing to trade on a zero price",
        ),
        id="kill_switch-zero-price",
    ),
    pytest.param(
        Case(
            "kill_switch",
            "deny",
            of(Order("VTI", "buy", "10", "70", previous_close="100")),
            "VTI fell 30.0% since the previous close (limit 20.0%): not buying",
        ),
        id="kill_switch-crash",
    ),
    pytest.param(
        Case(
            "max_order_size",
            "deny",
            of(Order("VTI", "buy", "60", "100")),
            "buy VTI of $6,000.00 is above 50.00% of equity ($10,000.00)",
        ),
        id="max_order_size-buy",
    ),
    pytest.param(
        Case(
            "max_order_size",
            "deny",
            of(Order("BND", "sell", "80", "75")),
            "sell BND of $6,000.00 is above 50.00% of equity ($10,000.00)",
        ),
        id="max_order_size-sell",
    ),
    pytest.param(
        Case(
            "max_turnover",
            "deny",
            of(
                Order("VTI", "sell", "40", "100"),
                Order("BND", "buy", "40", "100"),
                Order("GLD", "buy", "20", "200"),
            ),
            "turnover 120.0% is above the maximum of 100.0%",
        ),
        id="max_turnover-deny",
    ),
    pytest.param(
        Case(
            "max_turnover",
            "warn",
            of(Order("VTI", "sell", "30", "100"), Order("BND", "buy", "30", "100")),
            "turnover 60.0% is above half the maximum",
        ),
        id="max_turnover-warn",
    ),
    pytest.param(
        Case(
            "quote_freshness",
            "deny",
            of(Order("BND", "buy", "10", "72.85", quoted=False)),
            "BND has no quote",
        ),
        id="quote_freshness-no-quote",
    ),
    pytest.param(
        Case(
            "quote_freshness",
            "deny",
            of(Order("VTI", "buy", "10", "289.41"), quote_age_seconds=61),
            "VTI quote is 61s old (limit 60s)",
        ),
        id="quote_freshness-stale",
    ),
]

# Near misses: inputs just inside each rule, which the policy lets through.
PASSES = [
    pytest.param(
        "max_realized_gain",
        of(Order("VTI", "sell", "10", "100"), gains=("4500", "5000")),
        id="max_realized_gain-at-the-budget",
    ),
    pytest.param(
        "deny_list",
        of(Order("VTI", "buy", "10", "289.41"), params=PolicyParams(deny_symbols=["AAPL"])),
        id="deny_list-other-symbol",
    ),
    pytest.param(
        "kill_switch", of(Order("VTI", "buy", "10", "85", previous_close="100")), id="kill_switch-fell-15pct"
    ),
    pytest.param(
        "kill_switch",
        of(Order("VTI", "sell", "10", "70", previous_close="100")),
        id="kill_switch-selling-into-a-crash",
    ),
    pytest.param(
        "kill_switch",
        of(Order("VTI", "buy", "10", "70", previous_close=None)),
        id="kill_switch-no-previous-close",
    ),
    pytest.param("max_order_size", of(Order("VTI", "buy", "50", "100")), id="max_order_size-exactly-half"),
    pytest.param(
        "max_turnover",
        of(Order("VTI", "sell", "25", "100"), Order("BND", "buy", "25", "100")),
        id="max_turnover-exactly-half",
    ),
    pytest.param(
        "max_turnover",
        of(Order("VTI", "sell", "60", "100"), Order("BND", "buy", "60", "100"), phase="apply"),
        id="max_turnover-judged-at-plan-only",
    ),
    pytest.param(
        "quote_freshness",
        of(Order("VTI", "buy", "10", "289.41"), quote_age_seconds=60),
        id="quote_freshness-exactly-the-limit",
    ),
]


@pytest.fixture(scope="module")
def shipped() -> PolicySet:
    return load_policies(POLICIES, {}, "hard-mandatory")


def results_of(policies: PolicySet, given: Input, policy: str) -> list[PolicyResult]:
    return [r for r in policies.evaluate(given.document(), "p") if r.policy == policy]


@pytest.mark.parametrize("case", FIRES)
def test_the_rule_fires_with_its_message(shipped: PolicySet, case: Case) -> None:
    results = results_of(shipped, case.given, case.policy)
    assert [(r.kind, r.message) for r in results] == [(case.kind, case.message)]


@pytest.mark.parametrize(("policy", "given"), PASSES)
def test_a_near_miss_passes(shipped: PolicySet, policy: str, given: Input) -> None:
    assert results_of(shipped, given, policy) == []


def test_an_ordinary_rebalance_passes_every_shipped_policy(shipped: PolicySet) -> None:
    given = of(Order("VTI", "sell", "7", "289.41", previous_close="288.90"),
               Order("BND", "buy", "27", "72.85", previous_close="72.80"), quote_age_seconds=2)
    assert shipped.evaluate(given.document(), "p") == []


def test_a_deny_is_blocking_at_the_default_level(shipped: PolicySet) -> None:
    (result,) = results_of(shipped, of(Order("VTI", "buy", "60", "100")), "max_order_size")
    assert result.level == "hard-mandatory"
    assert result.blocks(overrides=["max_order_size"])


def test_every_shipped_rule_has_a_case_here(shipped: PolicySet) -> None:
    """Each deny and warn rule of each package in policies/ needs its own case in FIRES (one message per
    rule)."""
    cases = [c for p in FIRES for c in p.values if isinstance(c, Case)]
    covered = Counter((c.policy, c.kind) for c in cases)
    rules: Counter[tuple[str, str]] = Counter()
    for short, path in shipped.files.items():
        for kind in _RULE.findall(Path(path).read_text()):
            rules[(short, kind)] += 1
    assert set(shipped.packages) == {c.policy for c in cases}, ("each package in policies/ needs cases in"
                                                                " FIRES")
    assert set(shipped.packages) == {p.values[0] for p in PASSES}, ("each package in policies/ needs a case"
                                                                    " in PASSES")
    missing = {rule: n - covered[rule] for rule, n in rules.items() if covered[rule] < n}
    assert missing == {}, f"rules without a case in FIRES (policy, kind): missing count {missing}"
