"""Mutations judged after the files load (issue 19, sections 2 to 6): quotes nothing corroborates, policies
that cannot be evaluated, text from outside with control characters, and saved plans with duplicated keys,
mistyped values or edited verdicts. Registered in tests/proof/registry.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from reconciler.core.models import Plan
from reconciler.core.plan import reseal
from tests.proof.axes import ALL, _rewrite, _sub, _write
from tests.proof.workspace import APPLY_PLAN, PLAN_FILE, SYMBOLS, Mutation

STATIC = {"VTI": ("289.41", "288.90"), "BND": ("72.85", "72.80")}
# Far beyond kill_switch_drop and corroboration_band (0.2 each): a move of this size is never a market to
# trade on.
FAR = [Decimal(k) for k in ("0.0001", "0.01", "0.5", "0.7", "1.5", "2", "10", "100", "1000000")]


def _touching(symbol: str) -> frozenset[str]:
    return frozenset(p for p, held in SYMBOLS.items() if symbol in held)


# ---- section 3: quotes that nothing corroborates -----------------------------------------------------------


@st.composite
def quote(draw: st.DrawFn) -> Mutation:
    symbol = draw(st.sampled_from(sorted(STATIC)))
    price, close = STATIC[symbol]
    old = f"{{price: {price}, previous_close: {close}}}"
    how = draw(
        st.sampled_from(
            [
                "no previous close",
                "price moved",
                "close moved",
                "tiny volume",
                "huge volume",
                "GLD static, no close",
            ]
        )
    )
    k = draw(st.sampled_from(FAR))
    new = {
        "no previous close": f"{{price: {price}}}",
        "price moved": f"{{price: {Decimal(price) * k}, previous_close: {close}}}",
        "close moved": f"{{price: {price}, previous_close: {Decimal(close) * k}}}",
        "tiny volume": f"{{price: {price}, previous_close: {close}, volume: 1}}",
        "huge volume": f"{{price: {price}, previous_close: {close}, volume: 1e12}}",
        "GLD static, no close": f"{old}\n      GLD: {{price: 243.10}}",
    }[how]
    affected = _touching("GLD") if how.startswith("GLD") else _touching(symbol)
    label = f"{symbol} {how}" + (f" x{k}" if "moved" in how else "")
    return Mutation("quote", label, _rewrite("reconciler.yaml", _sub(old, new)), affected)


# ---- section 5: policies that cannot be evaluated ----------------------------------------------------------

RULES = {
    "comparison across types": 'some a in input.actions\n\ta.price <= "0"\n\tmsg := "x"',
    "sum of mixed types": 'sum([1, "a"]) > 0\n\tmsg := "x"',
    "to_number of text": 'to_number("one") > 0\n\tmsg := "x"',
    "missing built-in": 'net.cidr_contains("10.0.0.0/8", "10.1.1.1")\n\tmsg := "x"',
    "wrong arity": 'count([1], [2]) > 0\n\tmsg := "x"',
    "syntax error": "some a in input.actions\n\ta.price <=",
    "undefined field": 'input.no_such_field > 1\n\tmsg := "x"',
    "deny every action": 'some a in input.actions\n\tmsg := sprintf("%s denied", [a.symbol])',
    "max of mixed": 'max([1, "b"]) > 0\n\tmsg := "x"',
    "param compared to text": 'input.params.max_order_fraction > "0.5"\n\tmsg := "x"',
    "division by zero": 'some a in input.actions\n\ta.price / 0 > 1\n\tmsg := "x"',
}


@st.composite
def policy(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(RULES)))
    v0 = draw(st.booleans()) and name != "syntax error"
    head = "deny[msg] {" if v0 else "deny contains msg if {"
    text = f"package reconciler.proof\n\nimport rego.v1\n\n{head}\n\t{RULES[name]}\n}}\n"
    return Mutation("policy", f"policies/proof.rego: {name}{' (Rego v0)' if v0 else ''}",
                    _write("policies/proof.rego", text.encode()), ALL)


# ---- section 6: text from outside --------------------------------------------------------------------------

HOSTILE = ["\\e[31mred\\e[0m", "\\u202eevil", "\\x07bell", "line\\n::error::boom", "::set-output name=x::y",
           "@team please", "#123 fixes", "\\r::warning::x", "zero\\u200bwidth", "\\x9b31m"]
TEXT_PLACES = {  # where text lands -> (file, old, new with {} for the text, affected)
    "description": ("portfolios/alpha.yaml", "direct targets", '"{}"', frozenset({"alpha"})),
    "portfolio name": ("portfolios/alpha.yaml", "name: alpha", 'name: "{}"', frozenset({"alpha"})),
    "symbol": ("portfolios/alpha.yaml", "    BND: 0.4", '    "{}": 0.4', frozenset({"alpha"})),
    "account": ("portfolios/beta.yaml", "account: acct-b", 'account: "{}"', frozenset({"beta"})),
    "deny list": ("reconciler.yaml", "deny_symbols: [XOM]", 'deny_symbols: ["{}"]', ALL),
    "policy message": ("policies/deny_list.rego", '"%s is on the deny list"', '"{}"', ALL),
}


@st.composite
def hostile_text(draw: st.DrawFn) -> Mutation:
    place = draw(st.sampled_from(sorted(TEXT_PLACES)))
    text = draw(st.sampled_from(HOSTILE))
    rel, old, new, affected = TEXT_PLACES[place]
    if place == "policy message":  # Rego strings take \u escapes, not \e or \x
        text = text.replace("\\e", "\\u001b").replace("\\x07", "\\u0007").replace("\\x9b", "\\u009b")
        change = _sub("a.symbol in input.params.deny_symbols", "true")
        return Mutation("hostile-text", f"{place}: {text}", _rewrite(rel, lambda t: change(t.replace(
            old, new.format(text)))), affected)
    return Mutation("hostile-text", f"{place}: {text}", _rewrite(rel, _sub(old, new.format(text))), affected)


# ---- section 2: saved plans with duplicated keys and mistyped values ---------------------------------------

DUPLICABLE = ["format_version", "content_hash", "created_at", "targets_hash", "quantity", "side", "symbol",
              "account", "equity", "blocked", "price", "name"]


@st.composite
def plan_json(draw: st.DrawFn) -> Mutation:
    key = draw(st.sampled_from(DUPLICABLE))
    occurrence = draw(st.integers(0, 3))
    second = draw(st.sampled_from(["same", "0", '"x"', "true", "null"]))

    def change(text: str) -> str:
        found = list(re.finditer(rf'\n(\s*)"{key}": ([^\n]*?)(,?)\n', text))
        m = found[occurrence % len(found)]
        value = m.group(2) if second == "same" else second
        return text[: m.start()] + f'\n{m.group(1)}"{key}": {value},' + text[m.start():]

    return Mutation(
        "plan-duplicate-key",
        f"{PLAN_FILE}: {key} twice ({second})",
        _rewrite(PLAN_FILE, change),
        ALL,
        APPLY_PLAN,
    )


TYPE_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "format_version true": lambda d: d.__setitem__("format_version", True),
    "format_version 1.0": lambda d: d.__setitem__("format_version", 1.0),
    "quantity as a number": lambda d: _action(d).__setitem__("quantity", int(_action(d)["quantity"])),
    "price as a number": lambda d: _action(d).__setitem__("price", float(_action(d)["price"])),
    "leg true": lambda d: _action(d).__setitem__("leg", True),
    "leg as text": lambda d: _action(d).__setitem__("leg", "1"),
    "equity as a number": lambda d: d["portfolios"][0].__setitem__(
        "equity", float(d["portfolios"][0]["equity"])
    ),
    "blocked as text": lambda d: d["portfolios"][0].__setitem__("blocked", "VTI"),
    "portfolios as a mapping": lambda d: d.__setitem__("portfolios", {"alpha": d["portfolios"][0]}),
    "git_dirty 0": lambda d: d.__setitem__("git_dirty", 0),
}


def _action(d: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = d["portfolios"][0]["actions"][0]
    return action


@st.composite
def plan_types(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(TYPE_EDITS)))

    def change(text: str) -> str:
        data = json.loads(text)
        TYPE_EDITS[name](data)
        return json.dumps(data, indent=2)

    return Mutation("plan-types", f"{PLAN_FILE}: {name}", _rewrite(PLAN_FILE, change), ALL, APPLY_PLAN)


# ---- section 4: verdicts edited and the plan resealed ------------------------------------------------------

VERDICTS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "quantity scaled": lambda d,
    i: _leg(d, i).__setitem__("quantity", str(Decimal(_leg(d, i)["quantity"]) * 3)),
    "side flipped": lambda d,
    i: _leg(d, i).__setitem__("side", "sell" if _leg(d, i)["side"] == "buy" else "buy"),
    "action dropped": lambda d, i: _portfolio(d, i)["actions"].pop(),
    "symbol swapped": lambda d,
    i: _leg(d, i).__setitem__("symbol", "GLD" if _leg(d, i)["symbol"] != "GLD" else "VTI"),
    "portfolio blocked": lambda d, i: _portfolio(d, i).__setitem__("blocked", ["VTI"]),
    "denial added": lambda d, i: d.__setitem__("policy_results", [*d["policy_results"], {
        "policy": "deny_list", "kind": "deny", "level": "hard-mandatory",
        "portfolio": _portfolio(d, i)["name"],
        "message": "XOM is on the deny list"}]),
    "policy results emptied": lambda d, i: d.__setitem__("policy_results", []),
    "observed cash raised": lambda d, i: _portfolio(d, i)["observation"].__setitem__(
        "cash_settled", str(Decimal(_portfolio(d, i)["observation"]["cash_settled"]) + 100000)),
    "observed quote moved": lambda d,
    i: next(iter(_portfolio(d, i)["observation"]["quotes"].values())).__setitem__(
        "price", "1.00"),
    "equity raised": lambda d,
    i: _portfolio(d, i).__setitem__("equity", str(Decimal(_portfolio(d, i)["equity"]) * 10)),
    "accounts swapped": lambda d, i: _swap_accounts(d),
}


def _swap_accounts(d: dict[str, Any]) -> None:
    accounts = [p["account"] for p in d["portfolios"]]
    for p, account in zip(d["portfolios"], reversed(accounts), strict=True):
        p["account"] = account


def _portfolio(d: dict[str, Any], i: int) -> dict[str, Any]:
    p: dict[str, Any] = d["portfolios"][i % len(d["portfolios"])]
    return p


def _leg(d: dict[str, Any], i: int) -> dict[str, Any]:
    leg: dict[str, Any] = _portfolio(d, i)["actions"][0]
    return leg


@st.composite
def plan_verdict(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(VERDICTS)))
    which = draw(st.integers(0, 1))

    def change(text: str) -> str:
        data = json.loads(text)
        VERDICTS[name](data, which)
        # a valid seal over the edited content: only judging catches it
        plan = reseal(Plan.model_validate(data))
        return plan.model_dump_json(indent=2)

    return Mutation(
        "plan-verdict",
        f"{PLAN_FILE}: {name} (portfolio {which})",
        _rewrite(PLAN_FILE, change),
        ALL,
        APPLY_PLAN,
    )

