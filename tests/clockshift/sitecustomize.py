"""Moves the clock of every Python process the suite starts (CLI runs, emulators, crash-test children) by the
same RECONCILER_TEST_CLOCK_SHIFT_DAYS as the test process itself, so they agree on what time it is.

tests/conftest.py puts this folder first on PYTHONPATH only when the shift is set; Python imports
`sitecustomize` at startup.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

_days = int(os.environ.get("RECONCILER_TEST_CLOCK_SHIFT_DAYS", "0") or 0)
if _days:
    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(days=_days), tick=True).start()
