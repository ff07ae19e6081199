"""Milestones pairs reach, worked out from the events analytics folds, and the
celebration feed.

Each milestone is recorded once per pair (`analytics_pair_milestone`) and announced
once, as `milestone.reached`, in the transaction that records it: a redelivered or
repeated event finds the row and sends nothing. Times are the events' own.

- `first_session_held`, `five_sessions_held`: the pair's 1st and 5th held sessions
  (`session.logged`), at the time that session was held;
- `goal_achieved`: the first of the pair's goals whose `goal.updated` says `achieved`;
- `programme_completed`: the pair ended with the reason `completed` (`pair.ended`).

The feed names nobody: enrolment sends no consent to being named in celebrations, and
naming needs the person's own consent, so each entry counts pairs and lists no names
until such a consent travels with `participant.*` events.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import events, repository
from analytics.models import Celebration, CelebrationFeed, PairMilestone

FIRST_SESSION_HELD = "first_session_held"
FIVE_SESSIONS_HELD = "five_sessions_held"
GOAL_ACHIEVED = "goal_achieved"
PROGRAMME_COMPLETED = "programme_completed"
MILESTONES = (FIRST_SESSION_HELD, FIVE_SESSIONS_HELD, GOAL_ACHIEVED, PROGRAMME_COMPLETED)
# The feed's most recent entries (docs/limits.md).
FEED_MAX = 100


async def reach(session: AsyncSession, *, pair_id: str, programme_id: str, milestone: str,
                reached_at: datetime) -> None:
    """Record the pair's milestone and announce it, unless it was already reached."""
    if await repository.get(session, PairMilestone, (pair_id, milestone)) is not None:
        return
    await repository.add(session, PairMilestone(pair_id=pair_id, milestone=milestone,
                                                programme_id=programme_id,
                                                reached_at=reached_at))
    value = await repository.count_pair_milestones(session, programme_id=programme_id,
                                                   milestone=milestone)
    events.milestone_reached(session, programme_id=programme_id, pair_id=pair_id,
                             milestone=milestone, value=value, occurred_at=reached_at)


async def after_session_held(session: AsyncSession, *, pair_id: str,
                             programme_id: str) -> None:
    """The pair's first and fifth held sessions are milestones."""
    held = await repository.held_sessions_of_pair(session, pair_id)
    for milestone, count in ((FIRST_SESSION_HELD, 1), (FIVE_SESSIONS_HELD, 5)):
        reached_at = held[count - 1].held_at if len(held) >= count else None
        if reached_at is not None:
            await reach(session, pair_id=pair_id, programme_id=programme_id,
                        milestone=milestone, reached_at=reached_at)


async def celebrations(session: AsyncSession, *, programme_id: str) -> CelebrationFeed:
    """Per milestone and day, how many pairs reached it; most recent first, names none."""
    rows = await repository.pair_milestones(session, programme_id)
    days: Counter[tuple[date, str]] = Counter(
        (row.reached_at.date(), row.milestone) for row in rows)
    ordered = sorted(days.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True)
    return CelebrationFeed(items=[
        Celebration(programme_id=programme_id, milestone=milestone, reached_on=day,
                    pairs=pairs, named=[])
        for (day, milestone), pairs in ordered[:FEED_MAX]])
