"""The gaps between a cron schedule's ticks, in UTC (`croniter`; Dagster's own iterator is
out of reach of the `hub` modules that do not import Dagster). Dagster's freshness checks
(`assets.schedules`) and a contract's freshness (`hub.contracts`) measure the same gap here.
"""

from __future__ import annotations

import datetime as dt


def longest_gap(cron: str, start: dt.datetime | None = None) -> dt.timedelta | None:
    """The longest time between two ticks over the next eight (a weekday cron's weekend);
    None for a cron that is not a valid five-field expression."""
    from croniter import CroniterError, croniter

    try:
        ticks = croniter(cron, start or dt.datetime.now(dt.UTC))
        times = [ticks.get_next(dt.datetime) for _ in range(9)]
    except (CroniterError, ValueError):
        return None
    return max(b - a for a, b in zip(times, times[1:], strict=False))
