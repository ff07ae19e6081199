"""A run of pair.formed in one fetched batch (the bulk form) plans as one event at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlmodel import select

from bench.scheduling import PROGRAMME, pair_event, participant_event
from scheduling import service
from scheduling.main import SERVICE
from scheduling.models import MentoringSession, Plan
from upward_common.db import create_engine, make_sessionmaker, upgrade_async
from upward_common.events import PairEnded, ProgrammeSnapshot, ProgrammeUpdated
from upward_common.tables import OutboxEvent

DAY = timedelta(days=1)


async def _planned(url: str, bulk: bool) -> tuple[list[Any], list[Any], int]:
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    formed = [pair_event(i, at) for i in range(6)]
    formed[4] = formed[4].model_copy(update={"mentor_employee_id": "mentor-000003"})
    formed.append(formed[1])  # the same pair announced again (another event)
    try:
        async with make_sessionmaker(engine, event_source="test")() as session:
            await service.on_programme_updated(session, ProgrammeUpdated(
                programme=ProgrammeSnapshot(programme_id=PROGRAMME, name="P", status="running",
                                            session_cadence="weekly", duration_weeks=12),
                occurred_at=at - DAY))
            for i in range(6):
                for role in ("mentor", "mentee"):
                    await service.on_participant_updated(session,
                                                         participant_event(i, role, at - DAY))
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
            plans = [(p.pair_id, p.overlap, p.anchor_time_zone) for p in
                     (await session.exec(select(Plan).order_by(Plan.pair_id))).all()]
            rows = [(r.pair_id, r.starts_at, r.occurrence_index, r.conflict_side,
                     r.alternative_starts_at, r.status) for r in
                    (await session.exec(select(MentoringSession))).all()]
            events = len((await session.exec(select(OutboxEvent))).all())
            return plans, sorted(rows), events
    finally:
        await engine.dispose()


async def test_a_run_of_pair_formed_plans_exactly_as_one_event_at_a_time(
    databases: Any,
) -> None:
    bulk = await _planned(databases.new("scheduling"), bulk=True)
    single = await _planned(databases.new("scheduling"), bulk=False)
    assert bulk == single
    plans, rows, events = bulk
    assert [pair for pair, _, _ in plans] == [f"pair-{i:06d}" for i in range(5)]  # 5: ended
    # Pair 4's mentor is pair 3's too: never booked twice at once.
    mine = sorted(r[1] for r in rows if r[0] in ("pair-000003", "pair-000004"))
    assert all(b - a >= timedelta(hours=1) for a, b in pairwise(mine))
    assert events == len(rows) > 0
