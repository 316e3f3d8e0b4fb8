"""Logging setup: human text or one JSON object per line, with structured fields and never a secret."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from reconciler import shown

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object a line, with their structured fields, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line, its message scrubbed of secrets."""
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        # The traceback a log.exception() carries is the one clue to a failure in the field; stderr is
        # scrubbed of secrets on its way out (secrets.redact), so it can be kept whole.
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`, shown as text: a message quoting a broker or a policy cannot write escapes or
    a workflow command into the log."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text safe for a terminal."""
        return shown.terminal(super().format(record))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `sys.stderr` as it is when a record is emitted, not as it was at setup: a host that swaps
    stderr (a test runner, an embedding program) and closes the old one must not turn every later log line
    into "--- Logging error --- I/O operation on closed file"."""

    @property
    def stream(self) -> object:
        """Whatever stderr is now, so a test's capture or a scrubbing wrapper sees the logs."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        """logging.StreamHandler assigns the stream in __init__ and setStream; the live sys.stderr wins."""


def setup(fmt: str, level: str) -> None:
    """Send logs to stderr as text or JSON, so stdout stays the command's own output."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter("%(levelname)s %(name)s:"
        " %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
