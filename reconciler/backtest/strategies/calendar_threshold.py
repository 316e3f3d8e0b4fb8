"""`calendar-threshold:quarterly[,abs=..][,at=end]`: look once a period; trade only beyond the band."""

from __future__ import annotations

from reconciler.backtest.strategies.base import Every, StrategyKind, refuse


class CalendarThreshold(StrategyKind):
    """A band checked on a calendar: fewer looks than `threshold`, fewer trades than `calendar`."""

    name = "calendar-threshold"
    every = "quarterly"
    anchored = True
    banded = True

    def check_period(self, every: Every, where: str) -> None:
        """Looking daily is `threshold`, so refuse it rather than run the same rule under two names."""
        if every == "daily":
            raise refuse("calendar-threshold looks once a period", where, "use threshold to look daily")


KIND = CalendarThreshold()
