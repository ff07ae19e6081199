"""A pair's SMART goals: specific text, a measure with its unit, baseline, target, due date.

Either member creates a goal and records dated progress; either member closes it as
achieved or missed, and the time-driven sweep (`inactivity.py`) marks an active goal
missed once its due date has passed. Every change emits `goal.updated`.

Goal templates: enrolment keeps programme goal templates but does not send them in
`programme.updated`, so scheduling has none to start from; a goal is written in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, repository
from scheduling.models import (
    Goal,
    GoalCreate,
    GoalProgress,
    GoalProgressCreate,
    GoalProgressPublic,
    GoalPublic,
    GoalStatus,
    GoalStatusChange,
    Pair,
    PairStatus,
)
from upward_common.auth import Principal
from upward_common.events import utcnow
from upward_common.problems import Problem, conflict, invalid, not_found


def _not_member() -> Problem:
    return Problem(403, "Only the two members of the pair may do this", kind="forbidden")


async def _pair(session: AsyncSession, pair_id: str) -> Pair:
    pair = await repository.get_pair(session, pair_id)
    if pair is None or pair.formed_at is None:
        raise not_found("Pair", pair_id)
    return pair


async def _present(session: AsyncSession, goals: Sequence[Goal]) -> list[GoalPublic]:
    progress: dict[str, list[GoalProgressPublic]] = {}
    for update in await repository.progress_of_goals(session, [goal.id for goal in goals]):
        progress.setdefault(update.goal_id, []).append(GoalProgressPublic(
            value=update.value, recorded_on=update.recorded_on, recorded_at=update.recorded_at))
    return [GoalPublic(
        id=goal.id, pair_id=goal.pair_id, programme_id=goal.programme_id, text=goal.text,
        measure=goal.measure, unit=goal.unit, baseline=goal.baseline, target=goal.target,
        current=goal.current, progress_percent=goal.progress_percent, due_on=goal.due_on,
        status=goal.status, created_at=goal.created_at, updated_at=goal.updated_at,
        progress=progress.get(goal.id, []),
    ) for goal in goals]


async def list_goals(session: AsyncSession, *, user: Principal, pair_id: str) -> list[GoalPublic]:
    """A pair's goals, for its two members or an admin."""
    pair = await _pair(session, pair_id)
    if not (user.is_admin or pair.has_member(user.employee_id)):
        raise _not_member()
    return await _present(session, await repository.goals_of_pair(session, pair_id))


async def create_goal(
    session: AsyncSession, *, user: Principal, pair_id: str, data: GoalCreate,
    now: datetime | None = None,
) -> GoalPublic:
    """A member of an active pair sets a goal for the pair."""
    now = now or utcnow()
    pair = await _pair(session, pair_id)
    if user.employee_id is None or not pair.has_member(user.employee_id):
        raise _not_member()
    if pair.status != PairStatus.ACTIVE:
        raise conflict("This pair has ended; it takes no new goals", field="pair_id")
    if data.target == data.baseline:
        raise invalid("target", "must differ from the baseline (there is nothing to reach)")
    if data.due_on <= now.date():
        raise invalid("due_on", "must be after today")
    goal = Goal(pair_id=pair.id, programme_id=pair.programme_id, text=data.text,
                measure=data.measure, unit=data.unit, baseline=data.baseline,
                target=data.target, current=data.baseline, due_on=data.due_on,
                created_by_employee_id=user.employee_id, created_at=now, updated_at=now)
    await repository.add(session, goal)
    events.goal_updated(session, goal, at=now)
    return (await _present(session, [goal]))[0]


async def _member_goal(session: AsyncSession, *, user: Principal, goal_id: str) -> Goal:
    goal = await repository.get_goal(session, goal_id)
    if goal is None:
        raise not_found("Goal", goal_id)
    pair = await _pair(session, goal.pair_id)
    if user.employee_id is None or not pair.has_member(user.employee_id):
        raise _not_member()
    if goal.status != GoalStatus.ACTIVE:
        raise conflict(f"This goal is {goal.status} already", field="goal_id")
    return goal


async def record_progress(
    session: AsyncSession, *, user: Principal, goal_id: str, data: GoalProgressCreate,
    now: datetime | None = None,
) -> GoalPublic:
    """Either member records the measure's value on a day (not in the future)."""
    now = now or utcnow()
    goal = await _member_goal(session, user=user, goal_id=goal_id)
    if data.recorded_on > now.date():
        raise invalid("recorded_on", "must not be in the future")
    if data.recorded_on < goal.created_at.date():
        raise invalid("recorded_on", "must not be before the goal was set "
                      f"({goal.created_at.date().isoformat()})")
    await repository.add(session, GoalProgress(
        goal_id=goal.id, value=data.value, recorded_on=data.recorded_on,
        recorded_by_employee_id=user.employee_id, recorded_at=now))
    latest = (await repository.progress_of_goals(session, [goal.id]))[-1]
    # The value of the latest day is the goal's current one (a late entry for an earlier
    # day does not overwrite it).
    goal.current = latest.value
    goal.updated_at = now
    await repository.add(session, goal)
    events.goal_updated(session, goal, at=now)
    return (await _present(session, [goal]))[0]


async def set_status(
    session: AsyncSession, *, user: Principal, goal_id: str, data: GoalStatusChange,
    now: datetime | None = None,
) -> GoalPublic:
    """Either member closes the goal as achieved or missed; a closed goal stays closed."""
    now = now or utcnow()
    if data.status == GoalStatus.ACTIVE:
        raise invalid("status", "must be achieved or missed")
    goal = await _member_goal(session, user=user, goal_id=goal_id)
    goal.status = data.status
    goal.updated_at = now
    await repository.add(session, goal)
    events.goal_updated(session, goal, at=now)
    return (await _present(session, [goal]))[0]


async def miss_overdue(session: AsyncSession, *, today: date, now: datetime) -> int:
    """Mark every active goal due before `today` missed; how many were."""
    overdue = await repository.goals_due_before(session, today)
    for goal in overdue:
        goal.status = GoalStatus.MISSED
        goal.updated_at = now
        await repository.add(session, goal)
        events.goal_updated(session, goal, at=now)
    return len(overdue)
