"""Resolve `env:VAR`, `aws:SECRET_ID#field` and `vault:PATH#field` references to secret values.

Values are wrapped in `Secret`, whose str/repr is masked, so a secret that reaches a log line, an exception
message or a plan by accident prints as `***`. Only the HTTP layer calls `reveal()`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

# defined with every other error; importable here too
from reconciler.errors import SecretError as SecretError
from reconciler.secrets.redact import register
from reconciler.workspace.models import SecretStores


@dataclass(frozen=True)
class Secret:
    """A resolved secret that never shows in a repr or a log; `reveal` is the one way to read it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret's value, read only where it is sent."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret(***)"


@dataclass
class SecretResolver:
    """Resolves secret references (env:, aws:, vault:) once each, and registers them for scrubbing."""

    stores: SecretStores
    _cache: dict[str, Secret] = field(default_factory=dict)

    def resolve(self, ref: str, where: str) -> Secret:
        """The secret a reference names, or an error naming the reference and where it was given."""
        if ref in self._cache:
            return self._cache[ref]
        scheme, _, rest = ref.partition(":")
        if scheme == "env":
            value = os.environ.get(rest)
            if not value:
                raise SecretError(
                    f"environment variable {rest} is not set", where=where,
                    fix=f"export {rest}=... (in CI: a repository or environment secret)",
                )
            secret = Secret(value)
        elif scheme == "aws":
            secret = Secret(self._aws(rest, where))
        elif scheme == "vault":
            secret = Secret(self._vault(rest, where))
        else:
            raise SecretError(f"unknown secret source {scheme!r}", where=where, fix="use env:, aws: or"
                              " vault:")
        _check_shape(secret, ref, where)
        register(secret.reveal())
        self._cache[ref] = secret
        return secret

    def _aws(self, ref: str, where: str) -> str:
        secret_id, _, key = ref.partition("#")
        try:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise SecretError(
                "aws: secrets need boto3", where=where, fix="pip install 'reconciler[secrets]'"
            ) from None
        try:
            client = boto3.client(
                "secretsmanager", region_name=self.stores.aws_region,
                endpoint_url=self.stores.aws_endpoint_url
            )
            raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
        except (BotoCoreError, ClientError) as exc:
            raise SecretError(
                f"AWS Secrets Manager could not read {secret_id!r}: {type(exc).__name__}", where=where,
                fix="check the secret id, region and the job's AWS credentials",
            ) from None
        return _pick(raw, key, f"aws:{secret_id}", where)

    def _vault(self, ref: str, where: str) -> str:
        path, _, key = ref.partition("#")
        url = self.stores.vault_url or os.environ.get("VAULT_ADDR")
        token = os.environ.get("VAULT_TOKEN")
        if not url or not token:
            raise SecretError(
                "vault: secrets need a Vault address and token", where=where,
                fix="set secrets.vault_url (or VAULT_ADDR) and VAULT_TOKEN",
            )
        try:
            import hvac
            import hvac.exceptions
            import requests
        except ImportError:
            raise SecretError(
                "vault: secrets need hvac", where=where, fix="pip install 'reconciler[secrets]'"
            ) from None
        try:
            client = hvac.Client(url=url, token=token)
            response = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.stores.vault_mount, raise_on_deleted_version=True
            )
            data: dict[str, Any] = response["data"]["data"]
        except (hvac.exceptions.VaultError, requests.RequestException, KeyError) as exc:
            raise SecretError(
                f"Vault could not read {path!r}: {type(exc).__name__}", where=where,
                fix="check the path, mount and token policy",
            ) from None
        return _pick(json.dumps(data), key, f"vault:{path}", where)


def _check_shape(secret: Secret, ref: str, where: str) -> None:
    """A key with a trailing newline or a pasted non-ASCII character is refused here, naming the reference and
    never the value: sent as a header it fails deep in the HTTP library, whose error text echoes the value
    (and was retried, and logged, eight times)."""
    value = secret.reveal()
    if value != value.strip():
        raise SecretError(
            f"the secret {ref} starts or ends with whitespace (a newline, most often)", where=where,
            fix="store it without the trailing newline (e.g. printf '%s' KEY, not echo KEY)",
        )
    bad = next((i for i, ch in enumerate(value) if not (32 <= ord(ch) < 127)), None)
    if bad is not None:
        raise SecretError(
            f"the secret {ref} has a character that is not printable ASCII at position {bad + 1}",
            where=where,
            fix="re-copy the key from the broker's site; API keys are plain ASCII",
        )


def _pick(raw: str, key: str, name: str, where: str) -> str:
    if not key:
        return raw
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise SecretError(f"{name} is not a JSON object, so #{key} cannot be read", where=where,
                          fix="store the secret as JSON or drop the #field") from None
    if not isinstance(data, dict) or key not in data:
        raise SecretError(f"{name} has no field {key!r}", where=where, fix="check the field name after #")
    return str(data[key])
