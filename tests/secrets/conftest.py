"""The fixtures the secret tests share with tests/execution: the broker emulator and the workspace pointed at
it through the Alpaca adapter. Re-exported here, by name, so pytest finds them for tests in this folder."""

from __future__ import annotations

from tests.execution.conftest import alpaca, emulator

__all__ = ["alpaca", "emulator"]
