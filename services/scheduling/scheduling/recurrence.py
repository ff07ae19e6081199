"""When sessions happen. For now only the first one; recurring plans come later."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

FIRST_SESSION_TIME_UTC = time(9, 0, tzinfo=UTC)
DEFAULT_SESSION_MINUTES = 60


def first_session_start(formed_at: datetime) -> datetime:
    """Next week's same weekday at 09:00 UTC, counted from when the pair was formed.

    It depends on the event's time, not the clock, so replaying the stream plans
    the same session.
    """
    day = (formed_at.astimezone(UTC) + timedelta(days=7)).date()
    return datetime.combine(day, FIRST_SESSION_TIME_UTC)
