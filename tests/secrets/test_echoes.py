"""No run of 6 characters of a credential reaches stdout, stderr, a journal row, the job summary or a plan
file, whatever a broker echoes back: generated echoes of the request's header block (every encoding, cut at
arbitrary points, in JSON, HTML and plain bodies) answer every order; a broker that echoes the key as a
symbol; a deny message that quotes one."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import SECRET_CANARY, Answer, Broker, ForwardingProxy, run_cli
from tests.secrets.echoes import echoes, leaks
from tests.secrets.test_resolve import journal_dump

KEY_ID = "key-ira"  # the emulator's accounts' key ids are key-NAME (tests/execution/conftest.py)


def test_generated_echoes_of_the_header_block_never_leak(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    generated = [body for _, body in echoes(KEY_ID, SECRET_CANARY, seed=5, count=40)]
    random.Random(5).shuffle(generated)  # every order answered by a different kind of echo
    variants = itertools.cycle(generated)

    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method != "POST" or path != "/v2/orders":
            return None
        return 403, {"Content-Type": "application/json"}, next(variants)

    proxy = ForwardingProxy(emulator.url, echo)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    summary = tmp_path / "summary.md"
    r = run_cli(
        alpaca, "--log-level", "debug", "apply", "--auto-approve", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    proxy.server.shutdown()
    everything = (
        r.stdout + r.stderr + journal_dump(alpaca) + (summary.read_text() if summary.exists() else "")
    )
    assert leaks(everything, [SECRET_CANARY]) == []
    assert r.stdout.count("HTTP 403") >= 5  # the refusals were shown, and scanned


def test_a_key_echoed_as_a_symbol_never_reaches_the_plan_file(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method != "GET" or path != "/v2/positions":
            return None
        position = {"symbol": headers.get("APCA-API-SECRET-KEY", ""), "qty": "1", "side": "long",
                    "market_value": "1", "avg_entry_price": "1", "current_price": "1",
                    "asset_class": "us_equity"}
        return 200, {"Content-Type": "application/json"}, json.dumps([position]).encode()

    proxy = ForwardingProxy(emulator.url, echo)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    plan_file = tmp_path / "plan.json"
    r = run_cli(alpaca, "plan", "--out", str(plan_file))
    proxy.server.shutdown()
    written = plan_file.read_text() if plan_file.exists() else ""
    assert leaks(r.stdout + r.stderr + written, [SECRET_CANARY]) == []


def test_a_plan_refuses_an_account_whose_answer_carries_a_key(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method != "GET" or path != "/v2/positions":
            return None
        position = {"symbol": headers.get("APCA-API-SECRET-KEY", ""), "qty": "1", "side": "long",
                    "market_value": "1", "avg_entry_price": "1", "current_price": "1",
                    "asset_class": "us_equity"}
        return 200, {"Content-Type": "application/json"}, json.dumps([position]).encode()

    proxy = ForwardingProxy(emulator.url, echo)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    r = run_cli(alpaca, "plan", "--out", str(tmp_path / "plan.json"))
    proxy.server.shutdown()
    assert "carries a credential" in r.stderr


def test_a_deny_message_quoting_a_key_is_scrubbed_from_the_plan_file(
    alpaca: Workspace, tmp_path: Path
) -> None:
    (alpaca.root / "policies" / "leaky.rego").write_text(
        "package reconciler.leaky\nimport rego.v1\n\n"
        f'deny contains msg if {{ msg := "the key is {SECRET_CANARY}" }}\n'
    )
    plan_file = tmp_path / "plan.json"
    r = run_cli(alpaca, "plan", "--out", str(plan_file))
    written = plan_file.read_text()
    assert "the key is ***" in written, r.stdout + r.stderr
    assert leaks(written + r.stdout + r.stderr, [SECRET_CANARY]) == []
