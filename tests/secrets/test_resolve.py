"""Credentials come from the environment, AWS Secrets Manager or Vault, and never appear in any output.

A canary secret is used as the broker's API secret; every output of every command — stdout, stderr and debug
logs, the plan file, every row of the journal — is scanned for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reconciler.secrets.resolve import Secret, SecretError, SecretResolver
from reconciler.workspace.models import SecretStores
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import SECRET_CANARY, Answer, Broker, ForwardingProxy, run_cli


def journal_dump(ws: Workspace) -> str:
    tables = ["applies", "intents", "orders", "fills", "observations", "policy_decisions", "events", "locks"]
    return json.dumps({t: ws.query(f"select * from {t}") for t in tables}, default=str)


def test_canary_secret_never_in_any_output(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    debug = ("--log-level", "debug", "--log-format", "json")
    outputs = []
    for argv in (
        ("validate",), ("plan", "--out", str(plan_file)), ("plan", "--format", "json"),
        ("plan", "--format", "markdown"), ("apply", str(plan_file)), ("history", "--format", "json"),
        ("reconcile",), ("force-unlock", "--list"),
    ):
        r = run_cli(alpaca, *debug, *argv)
        outputs.append(r.stdout + r.stderr)
    apply_id = json.loads(run_cli(alpaca, "history", "--format", "json").stdout)[0]["id"]
    outputs.append(run_cli(alpaca, *debug, "show", apply_id, "--format", "json").stdout)
    emulator.faults(error_burst=3)
    r = run_cli(alpaca, *debug, "plan")  # retried errors are logged too
    outputs.append(r.stdout + r.stderr)
    outputs.append(plan_file.read_text())
    outputs.append(journal_dump(alpaca))
    assert any("client_order_id" in o for o in outputs)  # the scan covers real, detailed output
    for text in outputs:
        assert SECRET_CANARY not in text


def test_wrong_secret_fails_clearly_without_echoing_it(
    alpaca: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPACA_SECRET", "wrong-" + SECRET_CANARY)
    r = run_cli(alpaca, "--log-level", "debug", "plan")
    assert r.returncode == 1
    assert "HTTP 401" in r.stderr
    assert "Traceback" not in r.stderr
    assert SECRET_CANARY not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [(SECRET_CANARY + "\n", "starts or ends with whitespace"), (" " + SECRET_CANARY, "starts or ends with"
                                                                " whitespace"),
     (SECRET_CANARY[:5] + "\u00e9" + SECRET_CANARY[5:], "has a character that is not printable ASCII at"
      " position 6")],
    ids=["trailing-newline", "leading-space", "non-ascii"],
)
def test_a_malformed_secret_is_refused_by_reference_never_by_value(
    alpaca: Workspace, monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    """Before, a trailing newline reached httpcore, whose "Illegal header value" echoed the key at debug level
    and was retried eight times."""
    monkeypatch.setenv("ALPACA_SECRET", value)
    r = run_cli(alpaca, "--log-level", "debug", "plan")
    assert r.returncode == 1
    assert f"the secret env:ALPACA_SECRET {says}" in r.stderr, r.stderr
    assert "broker.accounts." in r.stderr
    assert "Traceback" not in r.stderr
    assert SECRET_CANARY not in r.stdout + r.stderr
    assert SECRET_CANARY[5:] not in r.stdout + r.stderr


def test_missing_environment_variable_is_named(alpaca: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPACA_SECRET")
    r = run_cli(alpaca, "plan")
    assert r.returncode == 1
    assert "ALPACA_SECRET is not set" in r.stderr
    assert "broker.accounts.paper-ira.secret_key" in r.stderr


def test_secret_value_is_masked_in_repr() -> None:
    s = Secret(SECRET_CANARY)
    assert SECRET_CANARY not in f"{s} {s!r} {[s]}"
    assert s.reveal() == SECRET_CANARY


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_aws_secrets_manager_via_local_moto_server(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_server)
    client.create_secret(
        Name="prod/alpaca", SecretString=json.dumps({"key": "AKXYZ", "secret": SECRET_CANARY})
    )
    resolver = SecretResolver(SecretStores(aws_endpoint_url=moto_server))
    assert resolver.resolve("aws:prod/alpaca#secret", "test").reveal() == SECRET_CANARY
    assert resolver.resolve("aws:prod/alpaca#key", "test").reveal() == "AKXYZ"
    with pytest.raises(SecretError) as err:
        resolver.resolve("aws:prod/missing#secret", "broker.accounts.x.secret_key")
    assert "prod/missing" in err.value.render()
    assert SECRET_CANARY not in err.value.render()
    with pytest.raises(SecretError, match="no field 'nope'"):
        resolver.resolve("aws:prod/alpaca#nope", "test")


class _FakeVault(BaseHTTPRequestHandler):
    """Vault's KV v2 read endpoint, as hvac calls it; checks the token like Vault does."""

    secrets: ClassVar[dict[str, dict[str, Any]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.headers.get("X-Vault-Token") != "vault-test-token":
            self._send(403, {"errors": ["permission denied"]})
            return
        prefix = "/v1/secret/data/"
        path = self.path.split("?")[0]
        if path.startswith(prefix) and path[len(prefix):] in self.secrets:
            data = self.secrets[path[len(prefix):]]
            self._send(200, {"data": {"data": data, "metadata": {"version": 1, "deletion_time": ""}}})
        else:
            self._send(404, {"errors": []})

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def vault() -> Iterator[str]:
    _FakeVault.secrets = {"brokers/alpaca": {"secret": SECRET_CANARY}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeVault)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_vault_kv_v2(vault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "vault-test-token")
    resolver = SecretResolver(SecretStores(vault_url=vault))
    assert resolver.resolve("vault:brokers/alpaca#secret", "test").reveal() == SECRET_CANARY
    with pytest.raises(SecretError, match="could not read 'brokers/none'"):
        resolver.resolve("vault:brokers/none#secret", "test")
    monkeypatch.setenv("VAULT_TOKEN", "bad")
    with pytest.raises(SecretError):
        SecretResolver(SecretStores(vault_url=vault)).resolve("vault:brokers/alpaca#secret", "test")


def test_apply_with_secret_from_vault(alpaca: Workspace, emulator: Broker, vault: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def use_vault(doc: Any) -> None:
        doc["broker"]["secrets"] = {"vault_url": vault}
        for acct in doc["broker"]["accounts"].values():
            acct["secret_key"] = "vault:brokers/alpaca#secret"

    edit_yaml(alpaca.config, use_vault)
    monkeypatch.setenv("VAULT_TOKEN", "vault-test-token")
    monkeypatch.delenv("ALPACA_SECRET")
    r = run_cli(alpaca, "apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    assert SECRET_CANARY not in r.stdout + r.stderr
    assert emulator.orders()


def test_a_broker_that_echoes_the_key_back_never_gets_it_printed_or_journaled(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    """A broker's error page that quotes the request's headers carried the secret into every rejected order's
    message: printed, journaled in intents.message and events.data. The redaction layer scrubs it, and its
    base64 and URL-encoded forms, from every exit."""
    import base64
    from urllib.parse import quote

    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method != "POST" or path != "/v2/orders":
            return None
        sent = {k: v for k, v in headers.items() if k.lower().startswith("apca")}
        secret = sent.get("APCA-API-SECRET-KEY", "")
        said = (f"forbidden: you sent {sent}; as base64 {base64.b64encode(secret.encode()).decode()},"
                f" in a URL {quote(secret, safe='')}")
        return (
            403,
            {"Content-Type": "application/json"},
            json.dumps({"code": 40310000, "message": said}).encode(),
        )

    proxy = ForwardingProxy(emulator.url, echo)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    summary = tmp_path / "summary.md"
    r = run_cli(alpaca, "--log-level", "debug", "apply", "--auto-approve",
                env={"GITHUB_STEP_SUMMARY": str(summary)})
    proxy.server.shutdown()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "forbidden: you sent" in r.stdout
    assert "***" in r.stdout  # the echo is shown, the secret is not
    forms = [SECRET_CANARY, base64.b64encode(SECRET_CANARY.encode()).decode(), quote(SECRET_CANARY, safe="")]
    everything = (
        r.stdout + r.stderr + journal_dump(alpaca) + (summary.read_text() if summary.exists() else "")
    )
    for form in forms:
        assert form not in everything
