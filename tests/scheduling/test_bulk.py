"""A run of pair.formed in one fetched batch (the bulk form) plans as one event at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlmodel import select

from bench.scheduling import PROGRAMME, pair_event, participant_event
from scheduling import service
from scheduling.main import SERVICE
from scheduling.models import MentoringSession, Participant, Plan, PlanSeries, SessionStatus
from upward_common.db import create_engine, make_sessionmaker, upgrade_async
from upward_common.events import PairEnded, ProgrammeSnapshot, ProgrammeUpdated
from upward_common.tables import OutboxEvent

DAY = timedelta(days=1)


async def _planned(
    url: str, bulk: bool
) -> tuple[list[str], list[str], list[Any], list[Any]]:
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    formed = [pair_event(i, at) for i in range(6)]
    formed[4] = formed[4].model_copy(update={"mentor_employee_id": "mentor-000003"})
    formed.append(formed[1])  # the same pair announced again (another event)
    # Pair 3's mentor with a second mentee whose zone and windows are pair 3's mentee's:
    # the same slot, unless the run remembers what pair 3's plan booked.
    twin = participant_event(3, "mentee", at - DAY)
    twin = twin.model_copy(update={"participant": twin.participant.model_copy(update={
        "participant_id": "p-mentee-twin", "employee": twin.participant.employee.model_copy(
            update={"employee_id": "mentee-twin", "external_id": "mentee-twin"})})})
    formed.append(formed[3].model_copy(update={
        "pair_id": "pair-000009", "mentee_participant_id": "p-mentee-twin",
        "mentee_employee_id": "mentee-twin"}))
    try:
        async with make_sessionmaker(engine, event_source="test")() as session:
            await service.on_programme_updated(session, ProgrammeUpdated(
                programme=ProgrammeSnapshot(programme_id=PROGRAMME, name="P", status="running",
                                            session_cadence="weekly", duration_weeks=12,
                                            blackout_dates=[date(2026, 3, 25)]),
                occurred_at=at - DAY))
            for i in range(6):
                for role in ("mentor", "mentee"):
                    await service.on_participant_updated(session,
                                                         participant_event(i, role, at - DAY))
            await service.on_participant_updated(session, twin)
            # A tombstone: pair 5 ended before its formation arrives.
            await service.on_pair_ended(session, PairEnded(
                pair_id=formed[5].pair_id, programme_id=PROGRAMME, reason="r",
                occurred_at=at - DAY))
            if bulk:
                await service.on_pair_formed.apply_many(session, formed)
            else:
                for data in formed:
                    await service.on_pair_formed(session, data)
            await session.commit()
            found = (await session.exec(select(Plan).order_by(Plan.pair_id))).all()
            plan_of = {p.id: p.pair_id for p in found}
            plans = [_stable(p.model_dump(warnings=False), plan_of) for p in found]
            series = sorted(_stable(s.model_dump(warnings=False), plan_of)
                            for s in (await session.exec(select(PlanSeries))).all())
            sessions = (await session.exec(select(MentoringSession))).all()
            key_of = {r.id: (r.pair_id, r.starts_at.isoformat()) for r in sessions}
            rows = [(r.pair_id, r.starts_at, r.occurrence_index, r.conflict_side,
                     r.alternative_starts_at, r.status) for r in sessions]
            assert len(rows) == len({_stable(r.model_dump(warnings=False), plan_of)
                                     for r in sessions})
            payloads = sorted(
                (event.subject, json.dumps({**json.loads(event.payload)["data"],
                                            "session_id": key_of.get(json.loads(
                                                event.payload)["data"].get("session_id"))},
                                           sort_keys=True))
                for event in (await session.exec(select(OutboxEvent))).all())
            return plans, series, sorted(rows), payloads
    finally:
        await engine.dispose()


def _stable(row: dict[str, Any], plan_of: dict[str, str]) -> str:
    """A row without its generated ids: the plan named by its pair instead."""
    kept = {k: v for k, v in row.items() if k not in ("id", "series_id")}
    if "plan_id" in kept:
        kept["plan_id"] = plan_of.get(kept["plan_id"])
    return json.dumps(kept, sort_keys=True, default=str)


async def test_a_run_of_pair_formed_plans_exactly_as_one_event_at_a_time(
    databases: Any,
) -> None:
    bulk = await _planned(databases.new("scheduling"), bulk=True)
    single = await _planned(databases.new("scheduling"), bulk=False)
    assert bulk == single
    plans, series, rows, payloads = bulk
    assert [json.loads(p)["pair_id"] for p in plans] == [
        f"pair-{i:06d}" for i in (0, 1, 2, 3, 4, 9)]  # 5: ended
    assert len(series) >= len(plans)
    # Pair 4's mentor is pair 3's too: never booked twice at once.
    mine = sorted(r[1] for r in rows if r[0] in ("pair-000003", "pair-000004", "pair-000009")
                  and r[5] == SessionStatus.PLANNED)
    assert all(b - a >= timedelta(hours=1) for a, b in pairwise(mine))
    # The blackout date skips an occurrence of each plan, and skipped ones are not announced.
    skipped = [r for r in rows if r[5] == SessionStatus.CANCELLED]
    assert skipped and len(payloads) == len(rows) - len(skipped) > 0
    # A clock change pushes some occurrences outside a side's window: flagged alike.
    assert any(r[3] is not None for r in rows)


async def _updated(url: str, bulk: bool) -> tuple[list[str], list[Any]]:
    """Participants' availability changing under planned pairs, in one run or one by one."""
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    try:
        async with make_sessionmaker(engine, event_source="test")() as session:
            for i in range(3):
                for role in ("mentor", "mentee"):
                    await service.on_participant_updated(session,
                                                         participant_event(i, role, at - DAY))
            for i in range(3):
                await service.on_pair_formed(session, pair_event(i, at))
            await session.commit()

            def narrowed(i: int, role: str, when: datetime, start: str) -> Any:
                data = participant_event(i, role, when)
                state = data.participant.model_copy(update={"availability": [
                    window.model_copy(update={"start": start})
                    for window in data.participant.availability]})
                return data.model_copy(update={"participant": state})

            run = [
                narrowed(0, "mentor", at + DAY, "11:00"),  # the mentor's mornings shrink
                narrowed(1, "mentee", at + 2 * DAY, "10:30"),
                narrowed(1, "mentee", at + DAY, "08:00"),  # older: arrives late, ignored
                narrowed(0, "mentee", at + 3 * DAY, "11:30"),  # pair 0's other side too
                participant_event(7, "mentor", at),  # nobody planned with them yet
                participant_event(2, "mentor", at + DAY),  # the same availability again
            ]
            if bulk:
                await service.on_participant_updated.apply_many(  # type: ignore[attr-defined]
                    session, run)
            else:
                for data in run:
                    await service.on_participant_updated(session, data)
            await session.commit()
            participants = sorted(
                json.dumps(row.model_dump(), sort_keys=True, default=str)
                for row in (await session.exec(select(Participant))).all())
            rows = sorted((r.pair_id, r.starts_at, r.conflict_side, r.alternative_starts_at,
                           r.changed_at) for r in
                          (await session.exec(select(MentoringSession))).all())
            return participants, rows
    finally:
        await engine.dispose()


async def test_a_run_of_participant_updated_leaves_what_one_at_a_time_leaves(
    databases: Any,
) -> None:
    bulk = await _updated(databases.new("scheduling"), bulk=True)
    single = await _updated(databases.new("scheduling"), bulk=False)
    assert bulk == single
    participants, rows = bulk
    assert len(participants) == 7
    # The narrowed windows flag occurrences, at the time of the update that narrowed them.
    assert any(r[2] is not None and r[4] > datetime(2026, 3, 2, 9, tzinfo=UTC) for r in rows)
