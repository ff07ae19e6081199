"""Analytics answers how a programme is doing from the events alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analytics.main import SERVICE
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    DEADLETTER_STREAM,
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    GoalUpdated,
    GroupSessionCancelled,
    GroupSessionRsvped,
    GroupSessionScheduled,
    MilestoneReached,
    PairAtRisk,
    PairClosureProposed,
    PairEnded,
    PairFitFlagged,
    PairFormed,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    PlanAccepted,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
    TouchpointRecorded,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def employee(employee_id: str) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                            email=f"{employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=3, hire_on=date(2020, 1, 6))


def state(participant_id: str, programme_id: str, role: ParticipantRole,
          employee_id: str | None = None) -> ParticipantState:
    return ParticipantState(participant_id=participant_id, programme_id=programme_id, role=role,
                            employee=employee(employee_id or f"emp-{participant_id}"))


def enrolled(participant_id: str, programme_id: str, role: ParticipantRole,
             minute: int = 0) -> ParticipantEnrolled:
    return ParticipantEnrolled(participant=state(participant_id, programme_id, role),
                               occurred_at=at(minute))


def withdrawn(participant_id: str, programme_id: str, minute: int) -> ParticipantWithdrawn:
    return ParticipantWithdrawn(participant_id=participant_id, programme_id=programme_id,
                                employee_id=f"emp-{participant_id}", occurred_at=at(minute))


def formed(pair_id: str, programme_id: str, minute: int = 10) -> PairFormed:
    return PairFormed(pair_id=pair_id, programme_id=programme_id,
                      mentor_participant_id="m", mentee_participant_id="s",
                      mentor_employee_id="emp-m", mentee_employee_id="emp-s", score=0.5,
                      occurred_at=at(minute))


def ended(pair_id: str, programme_id: str, minute: int) -> PairEnded:
    return PairEnded(pair_id=pair_id, programme_id=programme_id, reason="completed",
                     occurred_at=at(minute))


def scheduled(session_id: str, pair_id: str, programme_id: str,
              minute: int = 20) -> SessionScheduled:
    return SessionScheduled(session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                            starts_at=at(minute + 7 * 24 * 60), duration_minutes=60,
                            occurred_at=at(minute))


def logged(session_id: str, pair_id: str, programme_id: str, minute: int) -> SessionLogged:
    return SessionLogged(session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                         held_at=at(minute), duration_minutes=45,
                         logged_by_employee_id="emp-m", occurred_at=at(minute))


async def summary(svc: Running, token: str, programme_id: str) -> dict[str, Any]:
    async with svc.client(token) as client:
        response = await client.get(f"/api/v1/programmes/{programme_id}/summary")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def figures(**values: int) -> dict[str, int]:
    keys = ("participants_enrolled", "mentors", "mentees", "pairs_formed", "pairs_active",
            "sessions_scheduled", "sessions_held", "pairs_at_risk", "pairs_fit_flagged",
            "pairs_closure_proposed", "touchpoints", "group_sessions")
    return {key: values.get(key, 0) for key in keys}


async def settle(svc: Running, stream: Stream, token: str) -> None:
    """Publish a marker last and wait for it: everything before it has been applied."""
    marker = str(uuid.uuid4())
    await stream.publish(enrolled(str(uuid.uuid4()), marker, "mentor"))

    async def seen() -> bool:
        return (await summary(svc, token, marker))["participants_enrolled"] == 1

    await wait_until(seen)


def test_analytics_handles_every_event_of_the_contract() -> None:
    assert set(EventData.registry.values()) == set(SERVICE.handlers)


async def test_the_summary_counts_what_the_events_say(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme, other = str(uuid.uuid4()), str(uuid.uuid4())
    pair_a, pair_b = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        events: list[EventData] = [
            ProgrammeUpdated(programme=ProgrammeSnapshot(programme_id=programme,
                                                         name="Digital", status="open"),
                             occurred_at=at(0)),
            EmployeeUpdated(employee=employee("emp-p1"), occurred_at=at(0)),
            enrolled("p1", programme, "mentor"),
            enrolled("p2", programme, "mentor"),
            enrolled("p3", programme, "mentee"),
            enrolled("p4", programme, "mentee"),
            enrolled("p5", other, "mentee"),
            ParticipantUpdated(participant=state("p4", programme, "mentee"), occurred_at=at(2)),
            withdrawn("p2", programme, minute=5),
            formed(pair_a, programme),
            formed(pair_b, programme),
            ended(pair_b, programme, minute=30),
            scheduled("s1", pair_a, programme),
            scheduled("s2", pair_a, programme, minute=21),
            scheduled("s3", pair_b, programme),
            logged("s1", pair_a, programme, minute=40),
            SessionCancelled(session_id="s3", pair_id=pair_b, programme_id=programme,
                             reason="pair ended: completed", occurred_at=at(30)),
            GoalUpdated(goal_id="g1", pair_id=pair_a, programme_id=programme, status="open",
                        progress_percent=20, occurred_at=at(41)),
            MilestoneReached(programme_id=programme, milestone="first_session_held", value=1,
                             occurred_at=at(42)),
            EmployeeErased(employee_id="emp-p1", occurred_at=at(50)),
            # Scheduling's flags: each pair counted once, however often it is flagged.
            PairAtRisk(pair_id=pair_a, programme_id=programme, silent_since=at(40),
                       cadence_days=7, occurred_at=at(60)),
            PairAtRisk(pair_id=pair_a, programme_id=programme, silent_since=at(40),
                       cadence_days=7, occurred_at=at(55)),
            PairFitFlagged(pair_id=pair_a, programme_id=programme, poor_fit_reports=2,
                           occurred_at=at(61)),
            PairClosureProposed(pair_id=pair_b, programme_id=programme, silent_since=at(0),
                                silent_days=90, occurred_at=at(62)),
            # Touchpoints and group sessions: one row each; a cancelled one does not count.
            TouchpointRecorded(touchpoint_id="t1", pair_id=pair_a, programme_id=programme,
                               author_role="mentee", kind="call", minutes=10, at=at(63),
                               occurred_at=at(63)),
            GroupSessionScheduled(group_session_id="g1", programme_id=programme,
                                  starts_at=at(900), duration_minutes=60, occurred_at=at(64)),
            GroupSessionScheduled(group_session_id="g1", programme_id=programme,
                                  starts_at=at(960), duration_minutes=60, sequence=1,
                                  occurred_at=at(65)),
            GroupSessionRsvped(group_session_id="g1", programme_id=programme, response="yes",
                               yes=1, no=0, maybe=0, occurred_at=at(66)),
            GroupSessionScheduled(group_session_id="g2", programme_id=programme,
                                  starts_at=at(900), duration_minutes=60, occurred_at=at(67)),
            GroupSessionCancelled(group_session_id="g2", programme_id=programme,
                                  starts_at=at(900), occurred_at=at(68)),
        ]
        for event in events:
            await stream.publish(event)
        expected = figures(participants_enrolled=3, mentors=1, mentees=2, pairs_formed=2,
                           pairs_active=1, sessions_scheduled=2, sessions_held=1,
                           pairs_at_risk=1, pairs_fit_flagged=1, pairs_closure_proposed=1,
                           touchpoints=1, group_sessions=1)

        async def caught_up() -> bool:
            return await summary(svc, admin, programme) == {"programme_id": programme,
                                                           **expected}

        await wait_until(caught_up)
        assert await summary(svc, admin, other) == {
            "programme_id": other, **figures(participants_enrolled=1, mentees=1)}
        # Every event was understood: none went to the dead-letter stream.
        info = await stream.js.stream_info(DEADLETTER_STREAM)
        assert info.state.messages == 0


async def test_a_second_delivery_of_an_event_is_not_counted_twice(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme, pair = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        for event in [enrolled("p1", programme, "mentor"), formed(pair, programme),
                      scheduled("s1", pair, programme), logged("s1", pair, programme, 40),
                      withdrawn("p1", programme, minute=50), enrolled("p2", programme, "mentee")]:
            first = await stream.publish(event)
            # Same event id, new message id: JetStream stores and delivers it again.
            await stream.publish(event, event_id=first.id, msg_id=str(uuid.uuid4()))
        await settle(svc, stream, admin)

        assert await summary(svc, admin, programme) == {"programme_id": programme, **figures(
            participants_enrolled=1, mentees=1, pairs_formed=1, pairs_active=1,
            sessions_scheduled=1, sessions_held=1)}
        async with svc.client() as client:
            metrics = (await client.get("/metrics")).text
        # The duplicates really were delivered, and recognised.
        duplicates = [line for line in metrics.splitlines()
                      if line.startswith("events_consumed_total") and 'outcome="duplicate"' in line]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in duplicates) == 6


async def test_events_arriving_out_of_order_give_the_same_figures(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme, pair = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        # Each later fact arrives before the fact it follows.
        for event in [withdrawn("p1", programme, minute=5), enrolled("p1", programme, "mentor"),
                      ended(pair, programme, minute=30), formed(pair, programme),
                      logged("s1", pair, programme, minute=40), scheduled("s1", pair, programme),
                      enrolled("p2", programme, "mentee")]:
            await stream.publish(event)
        await settle(svc, stream, admin)

        assert await summary(svc, admin, programme) == {"programme_id": programme, **figures(
            participants_enrolled=1, mentees=1, pairs_formed=1, pairs_active=0,
            sessions_scheduled=1, sessions_held=1)}


async def test_a_moved_session_counts_once_and_an_accepted_plan_adds_nothing(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme, pair = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        for event in [
            formed(pair, programme), scheduled("s1", pair, programme),
            # The move may even arrive before the session's own announcement.
            SessionRescheduled(session_id="s2", pair_id=pair, programme_id=programme,
                               starts_at=at(9000), duration_minutes=60, occurred_at=at(25)),
            scheduled("s2", pair, programme, minute=21),
            SessionRescheduled(session_id="s1", pair_id=pair, programme_id=programme,
                               previous_starts_at=at(20 + 7 * 24 * 60), starts_at=at(9100),
                               duration_minutes=60, occurred_at=at(26)),
            PlanAccepted(plan_id="plan1", pair_id=pair, programme_id=programme,
                         cadence="weekly", occurrences=2, accepted_by_employee_id="emp-s",
                         occurred_at=at(27)),
        ]:
            await stream.publish(event)

        async def caught_up() -> bool:
            return await summary(svc, admin, programme) == {
                "programme_id": programme,
                **figures(pairs_formed=1, pairs_active=1, sessions_scheduled=2)}

        await wait_until(caught_up)
        info = await stream.js.stream_info(DEADLETTER_STREAM)
        assert info.state.messages == 0
