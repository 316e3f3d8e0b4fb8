"""Cooldown: a portfolio an apply traded within the last `trading.cooldown_days` trades again only past a hard
band.

Pure. The journal says when the portfolio last traded (`Observation.last_applied`, set by the shell); the
observation's own time says how long ago that was. During the cooldown every weight, cash included, trades
only when it has left `trading.cooldown_hard_band` (absolute, never tighter than the portfolio's own absolute
band): the planner then works exactly as usual with the wider band, and its note says so.
"""

from __future__ import annotations

from datetime import timedelta

from reconciler.core.models import Desired, Observation
from reconciler.core.rules import Bands


def cooled(desired: Desired, obs: Observation) -> tuple[Desired, list[str]]:
    """The targets the planner works toward now, and a note: inside a cooldown, with the hard band for
    bands."""
    trading = desired.trading
    days, last = trading.cooldown_days, obs.last_applied
    if days is None or last is None:
        return desired, []
    ends = last + timedelta(days=days)
    if obs.taken_at >= ends:
        return desired, []
    own = trading.bands.absolute
    hard = trading.cooldown_hard_band if own is None or own < trading.cooldown_hard_band else own
    bands = Bands(absolute=hard, relative=None, inner=trading.bands.inner)
    wider = desired.model_copy(update={"trading": trading.model_copy(update={"bands": bands})})
    note = (
        f"cooldown: applied {last.date().isoformat()}, {days} day cooldown until {ends.date().isoformat()};"
        f" only a weight drifting more than {(hard * 100).normalize():f}% (the hard band) trades until then"
    )
    return wider, [note]
