"""Programme health in depth: every figure of a fixture, cut by period and level band, the
participants' diversity under small-cell suppression, and the CSV exports."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from sqlmodel import select

from analytics import health
from analytics.models import Invitation, Participant
from analytics.surveys import MIN_GROUP, Cell, cell_counts
from tests.analytics.test_service import Message, analytics_database, messages
from tests.analytics.test_surveys import derivable_small_groups, linearly_derivable
from tests.support.databases import DatabaseFactory
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    GoalUpdated,
    PairAtRisk,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantInvited,
    ParticipantRole,
    ParticipantState,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
    TopicSkill,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]


def day(month: int, dom: int) -> datetime:
    return datetime(2026, month, dom, 9, tzinfo=UTC)


def person(employee_id: str, department: str | None = None, level: int | None = None, *,
           leave_on: date | None = None) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                            email=f"{employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=level, department=department,
                            hire_on=date(2020, 1, 1), leave_on=leave_on,
                            active=leave_on is None)


def enrolled(pid: str, programme_id: str, role: ParticipantRole, at: datetime, *,
             profiled: bool = False, diversity: dict[str, str] | None = None
             ) -> ParticipantEnrolled:
    topics = [TopicSkill(topic="python", level=3)] if profiled else []
    return ParticipantEnrolled(participant=ParticipantState(
        participant_id=pid, programme_id=programme_id, role=role,
        employee=person(f"e-{pid}"), topics_teach=topics if role == "mentor" else [],
        topics_learn=topics if role == "mentee" else [], diversity=diversity), occurred_at=at)


def invited(invitation_id: str, programme_id: str, role: ParticipantRole, employee_id: str,
            at: datetime) -> ParticipantInvited:
    return ParticipantInvited(invitation_id=invitation_id, programme_id=programme_id,
                              role=role, employee_id=employee_id, occurred_at=at)


def formed(pair_id: str, mentor: str, mentee: str, at: datetime, score: float,
           programme_id: str = "P") -> PairFormed:
    return PairFormed(pair_id=pair_id, programme_id=programme_id, mentor_participant_id=mentor,
                      mentee_participant_id=mentee, mentor_employee_id=f"e-{mentor}",
                      mentee_employee_id=f"e-{mentee}", score=score, occurred_at=at)


def scheduled(session_id: str, pair_id: str, starts: datetime) -> SessionScheduled:
    return SessionScheduled(session_id=session_id, pair_id=pair_id, programme_id="P",
                            starts_at=starts, duration_minutes=60,
                            occurred_at=starts - timedelta(days=7))


def logged(session_id: str, pair_id: str, held: datetime, minutes: int,
           author: ParticipantRole, rating: int, fit: Any, topics: list[str],
           at: datetime | None = None) -> SessionLogged:
    return SessionLogged(session_id=session_id, pair_id=pair_id, programme_id="P",
                         held_at=held, duration_minutes=minutes, logged_by_employee_id="e",
                         occurred_at=at or held, author_role=author, rating=rating, fit=fit,
                         topics=topics)


def goal(goal_id: str, pair_id: str, status: str, percent: int, at: datetime) -> GoalUpdated:
    return GoalUpdated(goal_id=goal_id, pair_id=pair_id, programme_id="P", status=status,
                       progress_percent=percent, occurred_at=at)


def fixture() -> list[EventData]:
    workforce = [("e-m1", "Eng", 2), ("e-m2", "Eng", 3), ("e-m3", "Sales", 2),
                 ("e-s1", "Eng", 8), ("e-s2", "Sales", 7), ("e-s3", "Eng", 5),
                 ("e-x1", "Eng", 9)]
    events: list[EventData] = [
        ProgrammeUpdated(programme=ProgrammeSnapshot(programme_id="P", name="P",
                                                     status="running"), occurred_at=day(1, 1)),
        *[EmployeeUpdated(employee=person(e, d, lv), occurred_at=day(1, 1))
          for e, d, lv in workforce],
        # A senior leader who left is no longer one.
        EmployeeUpdated(employee=person("e-x2", "Sales", 7, leave_on=date(2025, 12, 31)),
                        occurred_at=day(1, 1)),
        enrolled("m1", "P", "mentor", day(1, 10), profiled=True),
        enrolled("m2", "P", "mentor", day(1, 20), profiled=True),
        enrolled("m3", "P", "mentor", day(2, 5)),
        enrolled("s1", "P", "mentee", day(1, 12), profiled=True),
        enrolled("s2", "P", "mentee", day(2, 1)),
        enrolled("s3", "P", "mentee", day(2, 10)),
        enrolled("q1", "Q", "mentee", day(2, 1)),
        ParticipantWithdrawn(participant_id="m3", programme_id="P", employee_id="e-m3",
                             occurred_at=day(3, 1)),
        formed("pa", "m1", "s1", day(1, 22), 0.8), formed("pb", "m2", "s2", day(2, 11), 0.6),
        formed("pc", "m3", "s3", day(2, 20), 0.7),
        PairEnded(pair_id="pa", programme_id="P", reason="completed", occurred_at=day(3, 15)),
        PairEnded(pair_id="pc", programme_id="P", reason="withdrawal", occurred_at=day(3, 2)),
        PairAtRisk(pair_id="pb", programme_id="P", silent_since=day(2, 11), cadence_days=14,
                   occurred_at=day(3, 1)),
        scheduled("s-1", "pa", day(2, 1)), scheduled("s-2", "pa", day(2, 8)),
        scheduled("s-3", "pb", day(2, 20)), scheduled("s-4", "pb", day(3, 5)),
        SessionCancelled(session_id="s-2", pair_id="pa", programme_id="P", reason="ill",
                         occurred_at=day(2, 6)),
        logged("s-1", "pa", day(2, 1), 90, "mentor", 5, "good", ["python", "sql"]),
        logged("s-1", "pa", day(2, 1), 90, "mentee", 4, "good", ["python"]),
        # An older log of the same author, arriving late, changes nothing.
        logged("s-1", "pa", day(2, 1), 90, "mentor", 1, "poor", ["cobol"],
               at=day(2, 1) - timedelta(hours=1)),
        logged("s-3", "pb", day(2, 20), 60, "mentee", 2, "poor", ["sql"]),
        goal("g1", "pa", "achieved", 100, day(3, 15)), goal("g2", "pb", "active", 40, day(2, 25)),
        goal("g3", "pc", "missed", 10, day(3, 2)),
        # HR's invitations: e-x1 declined and was invited again (one person invited);
        # inv-2 is announced twice under two event ids (one invitation).
        invited("inv-1", "P", "mentor", "e-m1", day(1, 5)),
        invited("inv-2", "P", "mentor", "e-m2", day(1, 15)),
        invited("inv-2", "P", "mentor", "e-m2", day(1, 15)),
        invited("inv-3", "P", "mentee", "e-s1", day(1, 6)),
        invited("inv-4", "P", "mentee", "e-s2", day(1, 25)),
        invited("inv-5", "P", "mentee", "e-x1", day(2, 3)),
        invited("inv-6", "P", "mentee", "e-x1", day(2, 15)),
        invited("inv-7", "Q", "mentee", "e-q1", day(2, 1)),
    ]
    return events


async def reports(databases: DatabaseFactory, events: list[EventData],
                  *cuts: health.Cut) -> list[health.HealthReport]:
    async with analytics_database(databases, "healthreport") as (_, consumer):
        for message in messages(events):
            await consumer.handle_batch(cast(Any, [message]))
        async with consumer.sessionmaker() as session:
            return [await health.health_report(session, cut, senior_min_level=7)
                    for cut in cuts]


def funnel(report: health.HealthReport) -> list[tuple[Any, ...]]:
    return [(f.role.value, f.invited, f.opted_in, f.profiled, f.matched, f.active, f.completed,
             f.withdrawn) for f in report.funnel]


async def test_every_figure_of_a_programme_from_its_events(databases: DatabaseFactory) -> None:
    [p, q, everywhere] = await reports(databases, fixture(), health.Cut(programme_id="P"),
                                       health.Cut(programme_id="Q"), health.Cut())
    assert funnel(p) == [("mentor", 2, 3, 2, 3, 2, 1, 1), ("mentee", 3, 3, 1, 3, 3, 1, 0)]
    assert [(t.role.value, t.matched, t.median_days, t.p90_days) for t in p.time_to_match] == [
        ("mentor", 3, 15.0, 22.0), ("mentee", 3, 10.0, 10.0)]
    assert (p.pairs.formed, p.pairs.active, p.pairs.at_risk) == (3, 1, 1)
    assert [(e.reason, e.pairs) for e in p.pairs.ended] == [("completed", 1), ("withdrawal", 1)]
    s = p.sessions
    assert (s.planned, s.held, s.cancelled, s.attendance_rate, s.mentoring_hours) == (
        3, 2, 1, 0.667, 2.5)
    r = p.ratings
    assert (r.rated, r.mean, r.fit_good, r.fit_poor, r.matching_score_mean) == (
        3, 3.67, 2, 1, 0.7)
    assert [(c.value, c.count) for c in r.distribution] == [
        ("1", 0), ("2", 1), ("3", 0), ("4", 1), ("5", 1)]
    assert [(t.topic, t.sessions) for t in p.topics] == [("python", 2), ("sql", 2)]
    g = p.goals
    assert (g.set, g.active, g.achieved, g.missed, g.progress_mean) == (3, 1, 1, 1, 50.0)
    assert [(m.month, m.opt_ins) for m in p.interest_trend] == [("2026-01", 3), ("2026-02", 3)]
    leaders = p.leadership
    assert (leaders.senior_min_level, leaders.senior_employees, leaders.taking_part,
            leaders.share) == (7, 3, 2, 0.667)
    # Programme Q has one mentee and nothing else; across programmes both count.
    assert funnel(q) == [("mentor", 0, 0, 0, 0, 0, 0, 0), ("mentee", 1, 1, 0, 0, 1, 0, 0)]
    assert q.pairs.formed == 0 and q.sessions.attendance_rate is None and q.ratings.mean is None
    assert [t.median_days for t in q.time_to_match] == [None, None]
    assert funnel(everywhere) == [("mentor", 2, 3, 2, 3, 2, 1, 1),
                                  ("mentee", 4, 4, 1, 3, 4, 1, 0)]
    assert everywhere.pairs.formed == 3
    assert (p.diversity_objective, p.diversity) == (False, [])


async def test_a_period_counts_what_happened_in_it(databases: DatabaseFactory) -> None:
    [feb] = await reports(databases, fixture(), health.Cut(
        programme_id="P", start=date(2026, 2, 1), end=date(2026, 2, 28)))
    # February's opt-ins: m3 (withdrew later), s2, s3; February's invitations: e-x1's two.
    assert funnel(feb) == [("mentor", 0, 1, 0, 1, 0, 0, 1), ("mentee", 1, 2, 0, 2, 2, 0, 0)]
    # Pairs formed in February: pb (m2 waited 22 days) and pc (m3 15 days).
    assert [(t.role.value, t.matched, t.median_days, t.p90_days) for t in feb.time_to_match] == [
        ("mentor", 2, 18.5, 22.0), ("mentee", 2, 10.0, 10.0)]
    # Active on 28 February: all three; pb was flagged on 1 March; none ended in February.
    assert (feb.pairs.formed, feb.pairs.active, feb.pairs.at_risk, feb.pairs.ended) == (
        2, 3, 0, [])
    # s-4 starts in March.
    assert (feb.sessions.planned, feb.sessions.held, feb.sessions.cancelled) == (2, 2, 1)
    assert (feb.goals.set, feb.goals.active, feb.goals.progress_mean) == (1, 1, 40.0)
    assert [(m.month, m.opt_ins) for m in feb.interest_trend] == [("2026-02", 3)]
    # s1 (January) and s2 (February) take part in February.
    assert (feb.leadership.taking_part, feb.leadership.share) == (2, 0.667)


async def test_a_level_band_or_department_cut_takes_its_people_and_their_pairs(
    databases: DatabaseFactory,
) -> None:
    senior, sales = await reports(databases, fixture(),
                                  health.Cut(programme_id="P", level_band="7+"),
                                  health.Cut(programme_id="P", department="Sales"))
    # s1 (8) and s2 (7); their pairs pa and pb. Invited: e-s1, e-s2 and e-x1 (9).
    assert funnel(senior) == [("mentor", 0, 0, 0, 0, 0, 0, 0),
                              ("mentee", 3, 2, 1, 2, 2, 1, 0)]
    assert [(t.matched, t.median_days) for t in senior.time_to_match] == [(0, None), (2, 10.0)]
    assert (senior.pairs.formed, senior.pairs.active, senior.pairs.at_risk) == (2, 1, 1)
    assert [(e.reason, e.pairs) for e in senior.pairs.ended] == [("completed", 1)]
    assert (senior.goals.set, senior.goals.progress_mean) == (2, 70.0)
    assert [(m.month, m.opt_ins) for m in senior.interest_trend] == [
        ("2026-01", 1), ("2026-02", 1)]
    assert (senior.leadership.senior_employees, senior.leadership.taking_part) == (3, 2)
    # m3 and s2; pairs pb (s2) and pc (m3); one Sales senior employed (e-s2), taking part.
    # Invited from Sales: e-s2 only.
    assert funnel(sales) == [("mentor", 0, 1, 0, 1, 0, 0, 1),
                             ("mentee", 1, 1, 0, 1, 1, 0, 0)]
    assert [(e.reason, e.pairs) for e in sales.pairs.ended] == [("withdrawal", 1)]
    assert (sales.sessions.planned, sales.sessions.held) == (2, 1)
    assert (sales.leadership.senior_employees, sales.leadership.taking_part) == (1, 1)


def diverse(programme_id: str, profiles: list[tuple[ParticipantRole, str]],
            objective: bool = True, *, attribute: str = "gender") -> list[EventData]:
    events: list[EventData] = [ProgrammeUpdated(programme=ProgrammeSnapshot(
        programme_id=programme_id, name="D", status="running", diversity_objective=objective),
        occurred_at=day(1, 1))]
    events += [enrolled(f"{programme_id}-{n}", programme_id, role, day(1, 5),
                        diversity={attribute: value})
               for n, (role, value) in enumerate(profiles)]
    return events


async def test_diversity_only_where_a_programme_opts_in_and_only_in_cells_of_five(
    databases: DatabaseFactory,
) -> None:
    people: list[tuple[ParticipantRole, str]] = (
        [("mentor", "f")] * 5 + [("mentor", "m")] + [("mentee", "f")] * 4 + [("mentee", "m")] * 6)
    d, off = await reports(databases, diverse("div", people) + diverse("none", people, False),
                           health.Cut(programme_id="div"), health.Cut(programme_id="none"))
    assert d.diversity_objective and d.min_group == MIN_GROUP
    shown = {(c.role, c.value): c.people for c in d.diversity if not c.suppressed}
    hidden = {(c.role, c.value) for c in d.diversity if c.suppressed}
    # The margins are shown; every inner cell goes (1 and 4 directly, 5 and 6 with them).
    assert shown == {(None, None): 16, ("mentor", None): 6, ("mentee", None): 10,
                     (None, "f"): 9, (None, "m"): 7}
    assert hidden == {("mentor", "f"), ("mentor", "m"), ("mentee", "f"), ("mentee", "m")}
    assert all(c.people is None for c in d.diversity if c.suppressed)
    assert (off.diversity_objective, off.diversity) == (False, [])


async def test_an_erased_participant_leaves_no_diversity_attributes(
    databases: DatabaseFactory,
) -> None:
    async with analytics_database(databases, "healtherased") as (_, consumer):
        for message in messages([*diverse("div", [("mentor", "f")] * 2),
                                 EmployeeErased(employee_id="e-div-0", occurred_at=day(2, 1))]):
            await consumer.handle_batch(cast(Any, [message]))
        async with consumer.sessionmaker() as session:
            kept = {row.id: row.diversity for row in (
                await session.exec(select(Participant))).all()}
    assert kept == {"div-0": None, "div-1": {"gender": "f"}}


async def test_invitations_count_once_by_role_and_outlive_the_invitees_erasure(
    databases: DatabaseFactory,
) -> None:
    """Redelivered, repeated or after the erasure, an invitation counts once, without an id."""
    first = messages([invited("i-1", "R", "mentor", "e-a", day(1, 2))])
    events: list[EventData | Message] = [
        *first, *first,  # a redelivery of the same event
        invited("i-1", "R", "mentor", "e-a", day(1, 2)),  # the same invitation, a new event id
        invited("i-2", "R", "mentee", "e-b", day(1, 3)),
        invited("i-3", "R", "mentee", "e-c", day(3, 1)),
        EmployeeErased(employee_id="e-b", occurred_at=day(2, 1)),
        # Sent before the erasure, delivered after it: kept, without the id.
        invited("i-4", "R", "mentor", "e-b", day(1, 20)),
    ]
    async with analytics_database(databases, "healthinvited") as (_, consumer):
        for message in messages(events):
            await consumer.handle_batch(cast(Any, [message]))
        async with consumer.sessionmaker() as session:
            kept = {row.invitation_id: (row.role, row.employee_id, row.invited_at.day)
                    for row in (await session.exec(select(Invitation))).all()}
            whole, january = [await health.health_report(session, cut, senior_min_level=7)
                              for cut in (health.Cut(programme_id="R"), health.Cut(
                                  programme_id="R", start=date(2026, 1, 1),
                                  end=date(2026, 1, 31)))]
    assert kept == {"i-1": ("mentor", "e-a", 2), "i-2": ("mentee", None, 3),
                    "i-3": ("mentee", "e-c", 1), "i-4": ("mentor", None, 20)}
    assert [(f.role.value, f.invited) for f in whole.funnel] == [("mentor", 2), ("mentee", 2)]
    assert [(f.role.value, f.invited) for f in january.funnel] == [("mentor", 2), ("mentee", 1)]
    rows = health.health_rows(whole)
    assert ("funnel", "mentee", "invited", 2) in rows


@pytest.mark.parametrize("seed", range(25))
def test_no_diversity_breakdown_gives_a_cell_under_five_away(seed: int) -> None:
    rnd = random.Random(seed)
    values = ["a", "b", "c", "d"][:rnd.randint(2, 4)]
    people = [(rnd.choice(["mentor", "mentee"]), {"gender": rnd.choice(values),
                                                  "age": rnd.choice(["<30", "30+"])})
              for _ in range(rnd.randint(3, 60))]
    cells = health.diversity_cells(people)
    for attribute in ("gender", "age"):
        profiles = [(role, given[attribute], "-") for role, given in people]
        counts = cell_counts(profiles)
        published: dict[Cell, int] = {(c.role, c.value, None): cast(int, c.people)
                                      for c in cells if c.attribute == attribute
                                      and not c.suppressed}
        assert all(n >= MIN_GROUP for n in published.values())
        assert all(counts[cell] == n for cell, n in published.items())
        domains = [sorted({p[i] for p in profiles}) for i in range(3)]
        empty = {cell for cell, n in counts.items() if n == 0}
        assert derivable_small_groups(published, empty, domains) == []
        small = [cell for cell, n in counts.items() if 0 < n < MIN_GROUP]
        assert linearly_derivable(set(published), counts, small) == []


def test_csv_has_a_stable_header_and_defuses_formulas() -> None:
    text = health.to_csv([("topics", "=HYPERLINK(1)", "sessions", 2), ("x", "", "y", None)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [list(health.CSV_HEADER), ["topics", "'=HYPERLINK(1)", "sessions", "2", "", ""],
                    ["x", "", "y", "", "", ""]]


async def test_health_and_retention_export_as_csv_for_admins_only(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme = f"p-{uuid.uuid4()}"
    people: list[tuple[ParticipantRole, str]] = [("mentor", "f")] * 5 + [("mentee", "m")] * 2
    async with start_service("analytics") as svc:
        for event in diverse(programme, people):
            await stream.publish(event)
        admin = token("hr_admin")

        async def seen() -> bool:
            async with svc.client(admin) as client:
                body = (await client.get(
                    f"/api/v1/programmes/{programme}/health/report")).json()
            return bool(body["funnel"][0]["opted_in"] == 5 and body["funnel"][1]["opted_in"] == 2
                        and body["diversity_objective"])

        await wait_until(seen)
        async with svc.client(admin) as client:
            response = await client.get(f"/api/v1/programmes/{programme}/health.csv")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(response.text)))
            assert rows[0] == list(health.CSV_HEADER)
            assert ["funnel", "mentor", "opted_in", "5", "", ""] in rows
            # 2 mentees: their cell and whatever gives it away are suppressed.
            diversity = {(r[1], r[2]): r[3] for r in rows if r[0] == "diversity"}
            assert diversity["gender:mentee", "all"] == "suppressed"
            assert "2" not in diversity.values()
            across = await client.get("/api/v1/health.csv", params={"from": "2026-01-01"})
            assert across.status_code == 200 and across.text.startswith("section,group,item")
            retention = await client.get(f"/api/v1/programmes/{programme}/retention.csv",
                                         params={"as_of": "2026-06-30"})
            assert retention.status_code == 200, retention.text
            kept = list(csv.reader(io.StringIO(retention.text)))
            # Nobody the HRIS feed knows: every group suppressed, and said so, with no figure.
            assert ["group", "mentors", "suppressed", "fewer than 5 people", "", ""] in kept
            assert ["logrank", "mentor", "suppressed", "fewer than 5 people", "", ""] in kept
            assert not [row for row in kept if row[0] in ("curve", "retention")]
            assert (await client.get("/api/v1/retention.csv")).status_code == 200
            bad = await client.get("/api/v1/health/report",
                                   params={"from": "2026-03-01", "to": "2026-02-01"})
            assert bad.status_code == 422
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert "to" in bad.text
        async with svc.client(token("participant")) as client:
            for path in (f"/api/v1/programmes/{programme}/health.csv", "/api/v1/health.csv",
                         f"/api/v1/programmes/{programme}/health/report",
                         f"/api/v1/programmes/{programme}/retention.csv"):
                assert (await client.get(path)).status_code == 403, path
