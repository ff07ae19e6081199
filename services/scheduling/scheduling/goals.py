"""A pair's SMART goals: specific text, a measure with its unit, baseline, target, due date.

Either member creates a goal and records dated progress; either member closes it as
achieved or missed, and the time-driven sweep (`inactivity.py`) marks an active goal
missed once its due date has passed. Every change emits `goal.updated`.

Goal templates come with the programme (`programme.updated`): a goal may start from one
(`template_id`), which fills the fields left out; the explicit ones win.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

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
        progress=progress.get(goal.id, []), template_id=goal.template_id,
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
    values = data.model_dump(exclude_none=True, exclude={"template_id"})
    if data.template_id is not None:
        template = await _template(session, pair=pair, template_id=data.template_id)
        values = {**from_template(template, baseline=data.baseline, today=now.date()),
                  **values}
    for name in ("text", "measure", "unit", "baseline", "target", "due_on"):
        if values.get(name) is None:
            raise invalid(name, "is required (or comes from a goal template: template_id)")
    if values["target"] == values["baseline"]:
        raise invalid("target", "must differ from the baseline (there is nothing to reach)")
    if values["due_on"] <= now.date():
        raise invalid("due_on", "must be after today")
    goal = Goal(pair_id=pair.id, programme_id=pair.programme_id, text=values["text"],
                measure=values["measure"], unit=values["unit"], baseline=values["baseline"],
                target=values["target"], current=values["baseline"], due_on=values["due_on"],
                template_id=data.template_id,
                created_by_employee_id=user.employee_id, created_at=now, updated_at=now)
    await repository.add(session, goal)
    events.goal_updated(session, goal, at=now)
    return (await _present(session, [goal]))[0]


async def _template(session: AsyncSession, *, pair: Pair, template_id: str) -> dict[str, Any]:
    programme = await repository.get_programme(session, pair.programme_id)
    for template in (programme.goal_templates if programme is not None else []):
        if template.get("id") == template_id:
            return template
    raise invalid("template_id", f"The programme has no goal template {template_id!r}")


def _add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def from_template(
    template: dict[str, Any], *, baseline: float | None, today: date
) -> dict[str, Any]:
    """What a goal template fills in: text (its title), measure, unit, baseline, target
    (its own, or the baseline moved by `target_change_percent`), due (`within_months`)."""
    base = baseline if baseline is not None else template.get("baseline")
    target = template.get("target")
    change = template.get("target_change_percent")
    if target is None and base is not None and change is not None:
        target = round(base * (1 + change / 100), 6)
    months = template.get("within_months")
    return {"text": template.get("title"), "measure": template.get("measure"),
            "unit": template.get("unit"), "baseline": template.get("baseline"),
            "target": target,
            "due_on": _add_months(today, int(months)) if months else None}


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
