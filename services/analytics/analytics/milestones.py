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

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import events, repository
from analytics.models import Celebration, CelebrationFeed, PairMilestone
from upward_common.events import MilestoneReached

FIRST_SESSION_HELD = "first_session_held"
FIVE_SESSIONS_HELD = "five_sessions_held"
GOAL_ACHIEVED = "goal_achieved"
PROGRAMME_COMPLETED = "programme_completed"
MILESTONES = (FIRST_SESSION_HELD, FIVE_SESSIONS_HELD, GOAL_ACHIEVED, PROGRAMME_COMPLETED)
# The feed's most recent entries (docs/limits.md).
FEED_MAX = 100


class Reaching:
    """The milestones a run of events reaches, recorded and announced as one by one would.

    Loaded once per run (the pairs' recorded milestones, one query), then `reach`
    decides in memory: a milestone already recorded is skipped, a new one is noted in
    order. `save` counts, only when something was reached, each programme's pairs per
    milestone (one grouped query, before the run's rows are written), so each
    `milestone.reached` carries the count including its pair and those before it;
    then it writes the rows and the events, in one statement each.
    """

    def __init__(self, session: AsyncSession, reached: set[tuple[str, str]]) -> None:
        self.session = session
        self.reached = reached
        self.rows: list[PairMilestone] = []

    @classmethod
    async def load(cls, session: AsyncSession, *, pairs: Collection[str],
                   milestones: Collection[str]) -> Reaching:
        """What these pairs already reached of these milestones."""
        if not pairs:
            return cls(session, set())
        return cls(session, await repository.reached_milestones(session, pairs, milestones))

    def reach(self, *, pair_id: str, programme_id: str, milestone: str,
              reached_at: datetime) -> None:
        """Record the pair's milestone and announce it, unless it was already reached."""
        if (pair_id, milestone) in self.reached:
            return
        self.reached.add((pair_id, milestone))
        self.rows.append(PairMilestone(pair_id=pair_id, milestone=milestone,
                                       programme_id=programme_id, reached_at=reached_at))

    async def save(self) -> None:
        """The milestones reached: their rows, and their events in the order reached."""
        if not self.rows:
            return
        counts = Counter(await repository.count_pair_milestones(
            self.session, {row.programme_id for row in self.rows},
            {row.milestone for row in self.rows}))
        announced = []
        for row in self.rows:
            counts[row.programme_id, row.milestone] += 1
            announced.append(MilestoneReached(
                programme_id=row.programme_id, pair_id=row.pair_id, milestone=row.milestone,
                value=counts[row.programme_id, row.milestone], occurred_at=row.reached_at))
        await repository.add_all(self.session, self.rows)
        await events.milestones_reached(self.session, announced)


SESSION_MILESTONES = ((FIRST_SESSION_HELD, 1), (FIVE_SESSIONS_HELD, 5))


async def held_sessions(session: AsyncSession,
                        pairs: Collection[str]) -> defaultdict[str, dict[str, datetime]]:
    """Each of these pairs' held sessions: when each was held, by session id (one query)."""
    held: defaultdict[str, dict[str, datetime]] = defaultdict(dict)
    for pair_id, session_id, held_at in await repository.held_sessions_of_pairs(session, pairs):
        held[pair_id][session_id] = held_at
    return held


def after_session_held(reaching: Reaching, held: Mapping[str, datetime], *, pair_id: str,
                       programme_id: str) -> None:
    """The pair's first and fifth held sessions (`held`: the pair's, as they stand now)
    are milestones, reached when that session was held."""
    if all((pair_id, milestone) in reaching.reached for milestone, _ in SESSION_MILESTONES):
        return  # both reached before: nothing to sort
    times = sorted(held.values())
    for milestone, count in SESSION_MILESTONES:
        if len(times) >= count:
            reaching.reach(pair_id=pair_id, programme_id=programme_id, milestone=milestone,
                           reached_at=times[count - 1])


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
