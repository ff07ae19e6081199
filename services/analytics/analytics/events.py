"""What analytics emits: `milestone.reached`, once per pair and milestone.

Analytics listens to the whole stream; its handlers live with the rules in
`service.py` and are listed in `main.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.events import MilestoneReached
from upward_common.outbox import emit_many

# In a session's info while a rebuild replays the stream (analytics/rebuild.py).
REPLAYING = "analytics_replaying"


async def milestones_reached(session: AsyncSession, reached: Sequence[MilestoneReached]) -> None:
    """Pairs reached milestones (written in the transaction that recorded them, in this
    order, in one INSERT); nothing while a rebuild replays the stream, which holds the
    announcements made live."""
    if session.info.get(REPLAYING):
        return
    await emit_many(session, reached)
