"""What analytics emits: `milestone.reached`, once per pair and milestone.

Analytics listens to the whole stream; its handlers live with the rules in
`service.py` and are listed in `main.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.events import MilestoneReached
from upward_common.outbox import emit

# In a session's info while a rebuild replays the stream (analytics/rebuild.py).
REPLAYING = "analytics_replaying"


def milestone_reached(session: AsyncSession, *, programme_id: str, pair_id: str,
                      milestone: str, value: int, occurred_at: datetime) -> None:
    """A pair reached a milestone (written in the transaction that recorded it); nothing
    while a rebuild replays the stream, which holds the announcements made live."""
    if session.info.get(REPLAYING):
        return
    emit(session, MilestoneReached(programme_id=programme_id, pair_id=pair_id,
                                   milestone=milestone, value=value, occurred_at=occurred_at))
