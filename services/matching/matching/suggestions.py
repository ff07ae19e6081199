"""A mentee's shortlist: eligible mentors with a free place, best score first, explained."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import events, repository, scoring
from matching.models import SuggestionList
from matching.pool import PoolCache, individual_problem, load_view
from upward_common.auth import Principal, Role
from upward_common.problems import conflict, invalid, not_found


async def suggestions(
    session: AsyncSession, *, user: Principal, programme_id: str, mentee_participant_id: str,
    limit: int, cache: PoolCache | None = None,
) -> SuggestionList:
    """Eligible mentors with free places for a mentee, best score first, each explained.

    The list offered is announced (`shortlist.offered`), so the mentee may read those
    mentors' cards in enrolment.
    """
    candidate = await repository.get_candidate(session, mentee_participant_id)
    if candidate is None or candidate.programme_id != programme_id:
        raise not_found("Mentee", mentee_participant_id)
    user.require_self_or_admin(candidate.employee_id)
    if candidate.role != "mentee":
        raise invalid("participant_id", "Suggestions are for mentees; this participant mentors")
    view = await load_view(session, programme_id, cache)
    row = view.mentee_row.get(mentee_participant_id)
    if row is None:
        employee = await repository.get_employee(session, candidate.employee_id)
        rule = individual_problem(candidate, employee, view.programme,
                                  datetime.now(UTC).date()) or "withdrawn"
        raise conflict(f"This mentee cannot be matched ({rule})", field="participant_id",
                       rule=rule)
    scored = scoring.score_mentee(view.pool, row)
    assert scored.points is not None
    totals, points = scored.total[0], scored.points[:, 0, :]
    open_mentors = scored.eligible[0] & (view.mentor_free > 0)
    cols = np.flatnonzero(open_mentors)
    # Best first; ties broken by participant id so the order is stable.
    ids = np.array([view.pool.mentors.people[j].participant_id for j in cols], dtype=object)
    order = np.lexsort((ids, -totals[cols])) if cols.size else cols
    chosen = cols[order[:limit]]
    show = user.has(Role.HR_ADMIN)
    mentor_ids = [view.pool.mentors.people[j].participant_id for j in chosen]
    # Enrolment opens these mentors' cards to the mentee (and closes those of an older list).
    events.shortlist_offered(session, programme_id=programme_id,
                             mentee_participant_id=mentee_participant_id,
                             mentor_participant_ids=mentor_ids, occurred_at=datetime.now(UTC))
    return SuggestionList(
        programme_id=programme_id,
        mentee_participant_id=mentee_participant_id,
        suggestions=[
            {
                "mentor_participant_id": view.pool.mentors.people[j].participant_id,
                "mentor_employee_id": view.pool.mentors.people[j].employee_id,
                "score": int(totals[j]) / 100,
                "breakdown": scoring.explain(view.pool, row, int(j), points[:, j],
                                             show_sensitive=show),
            }
            for j in chosen
        ],
    )
