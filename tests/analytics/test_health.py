"""Programme health: funnel, pairs, sessions and opt-ins per month, one grouped query each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from analytics import service
from tests.analytics.test_service import analytics_database, messages, statements
from tests.support.databases import DatabaseFactory
from upward_common.events import (
    EmployeeSnapshot,
    EventData,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantWithdrawn,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)

JAN = datetime(2026, 1, 15, 9, tzinfo=UTC)
FEB = datetime(2026, 2, 3, 9, tzinfo=UTC)


def enrolled(participant_id: str, programme_id: str, role: ParticipantRole,
             at: datetime) -> ParticipantEnrolled:
    person = EmployeeSnapshot(employee_id=f"e-{participant_id}", external_id="x",
                              email="a@example.com", given_name="Ada", family_name="Lovelace")
    return ParticipantEnrolled(participant=ParticipantState(
        participant_id=participant_id, programme_id=programme_id, role=role, employee=person),
        occurred_at=at)


def formed(pair_id: str, programme_id: str) -> PairFormed:
    return PairFormed(pair_id=pair_id, programme_id=programme_id, mentor_participant_id="m",
                      mentee_participant_id="s", mentor_employee_id="e-m",
                      mentee_employee_id="e-s", score=0.5, occurred_at=FEB)


def scheduled(session_id: str, pair_id: str, programme_id: str) -> SessionScheduled:
    return SessionScheduled(session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                            starts_at=FEB + timedelta(days=7), duration_minutes=60,
                            occurred_at=FEB)


async def test_each_programme_gets_its_figures_from_one_grouped_query_per_figure(
    databases: DatabaseFactory,
) -> None:
    events: list[EventData] = [
        enrolled("a1", "P", "mentor", JAN), enrolled("a2", "P", "mentor", JAN),
        enrolled("a3", "P", "mentee", FEB), enrolled("a4", "P", "mentee", FEB),
        ParticipantWithdrawn(participant_id="a2", programme_id="P", employee_id="e-a2",
                             occurred_at=FEB),
        enrolled("b1", "Q", "mentee", FEB),
        formed("p1", "P"), formed("p2", "P"), formed("p3", "P"),
        PairEnded(pair_id="p2", programme_id="P", reason="completed", occurred_at=FEB),
        PairEnded(pair_id="p3", programme_id="P", reason="completed", occurred_at=FEB),
        scheduled("s1", "p1", "P"), scheduled("s2", "p1", "P"), scheduled("s3", "p1", "P"),
        SessionLogged(session_id="s1", pair_id="p1", programme_id="P", held_at=FEB,
                      duration_minutes=90, logged_by_employee_id="e-m", occurred_at=FEB),
        SessionCancelled(session_id="s2", pair_id="p1", programme_id="P", reason="ill",
                         occurred_at=FEB),
    ]
    async with analytics_database(databases, "health") as (engine, consumer):
        for message in messages(events):
            await consumer.handle_batch(cast(Any, [message]))
        async with consumer.sessionmaker() as session:
            await session.connection()
            with statements(engine) as seen:
                p, q, unknown = await service.programme_health(
                    session, programme_ids=["P", "Q", "R"])
    # Four figures, four statements, whatever the number of programmes.
    assert len(seen) == 4, seen
    assert [(f.role.value, f.enrolled, f.active, f.withdrawn) for f in p.funnel] == [
        ("mentor", 2, 1, 1), ("mentee", 2, 2, 0)]
    assert (p.pairs_formed, p.pairs_active) == (3, 1)
    assert [(e.reason, e.pairs) for e in p.pairs_ended] == [("completed", 2)]
    assert (p.sessions_planned, p.sessions_held, p.sessions_cancelled) == (2, 1, 1)
    assert p.attendance_rate == 0.5 and p.mentoring_hours == 1.5
    assert [(m.month, m.opt_ins) for m in p.interest_trend] == [("2026-01", 2), ("2026-02", 2)]
    assert [(f.role.value, f.enrolled) for f in q.funnel] == [("mentor", 0), ("mentee", 1)]
    assert [(m.month, m.opt_ins) for m in q.interest_trend] == [("2026-02", 1)]
    assert unknown.pairs_formed == 0 and unknown.attendance_rate is None
    assert unknown.interest_trend == []
