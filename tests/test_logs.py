"""JSON logs: one object per line, structured fields kept, and an exception's traceback kept too."""

from __future__ import annotations

import json
import logging

import pytest

from reconciler.logs import setup


def test_json_logs_keep_exc_info(capsys: pytest.CaptureFixture[str]) -> None:
    setup("json", "info")
    log = logging.getLogger("reconciler.test")
    try:
        {}["missing"]  # raises KeyError on purpose
    except KeyError:
        log.exception("lookup failed", extra={"account": "paper-ira"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["msg"] == "lookup failed"
    assert record["account"] == "paper-ira"
    assert record["level"] == "error"
    assert "Traceback (most recent call last)" in record["exc_info"]
    assert "KeyError: 'missing'" in record["exc_info"]
    log.info("plain")
    plain = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "exc_info" not in plain
    assert plain["msg"] == "plain"
