"""Participants' diversity against the workforce: the baseline HR enters (aggregates only),
the shares a health report sets side by side, suppressed by the cells-of-5 rule, and the
API that takes the baseline (who may, what it refuses, that a refusal writes nothing)."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from analytics import health
from analytics.models import WorkforceBaselineSet
from analytics.surveys import MIN_GROUP, Cell
from tests.analytics.test_health_report import diverse
from tests.analytics.test_service import analytics_database, messages
from tests.analytics.test_surveys import derivable_small_groups
from tests.support.databases import DatabaseFactory
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import ParticipantRole

StartService = Callable[..., AbstractAsyncContextManager[Running]]
AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 7, 1, 9, tzinfo=UTC)


def baseline(**people: int) -> health.Baseline:
    return health.Baseline(as_of=AS_OF, people=dict(people))


def cells_of(cells: list[health.DiversityCell]) -> dict[tuple[str | None, str | None],
                                                         health.DiversityCell]:
    return {(c.role, c.value): c for c in cells}


def test_the_report_sets_each_share_beside_the_workforces() -> None:
    people = [("mentor", {"gender": "f"})] * 6 + [("mentee", {"gender": "m"})] * 9
    cells = cells_of(health.diversity_cells(people, {"gender": baseline(f=480, m=500, x=20)}))
    everyone, women, men, other = (cells[None, v] for v in (None, "f", "m", "x"))
    assert (everyone.people, everyone.share, everyone.workforce_people) == (15, None, 1000)
    assert (women.people, women.share, women.workforce_people, women.workforce_share) == (
        6, 0.4, 480, 0.48)
    assert (men.share, men.workforce_share) == (0.6, 0.5)
    # A value of the workforce that no participant has: the gap itself, 0 people.
    assert (other.people, other.suppressed, other.share, other.workforce_share) == (
        0, False, 0.0, 0.02)
    assert {c.workforce_as_of for c in cells.values()} == {AS_OF}
    # Per role: all 6 mentors are women; the inner cells are 6 and 9, both published.
    assert (cells["mentor", "f"].share, cells["mentee", "m"].share) == (1.0, 1.0)
    assert cells["mentor", "x"].people == 0


def test_an_attribute_without_a_baseline_has_no_workforce_figures() -> None:
    people = [("mentor", {"gender": "f", "age": "<30"})] * 5
    cells = health.diversity_cells(people, {"gender": baseline(f=10, m=10)})
    ages = [c for c in cells if c.attribute == "age"]
    assert ages and all(c.workforce_people is None and c.workforce_share is None
                        and c.workforce_as_of is None for c in ages)
    # Without a baseline, empty cells stay out, as before there was one.
    assert all(c.people for c in ages)


def test_small_workforce_counts_are_suppressed_and_cannot_be_worked_out() -> None:
    people = [("mentor", {"gender": "f"})] * 5 + [("mentee", {"gender": "m"})] * 5
    cells = cells_of(health.diversity_cells(people, {"gender": baseline(f=50, m=47, x=3)}))
    # 3 is under 5, and 97 of 100 would give it away: the next smallest goes with it.
    assert cells[None, "x"].workforce_people is None
    assert cells[None, "x"].workforce_share is None
    assert cells[None, "m"].workforce_people is None
    assert (cells[None, None].workforce_people, cells[None, "f"].workforce_people) == (100, 50)
    # The participants' side is suppressed on its own terms: f and m are 5 each.
    assert (cells[None, "f"].people, cells[None, "m"].people) == (5, 5)


@pytest.mark.parametrize("seed", range(30))
def test_no_published_workforce_figure_gives_a_group_under_five_away(seed: int) -> None:
    rnd = random.Random(seed)
    values = [f"v{n}" for n in range(rnd.randint(2, 6))]
    counts = {value: rnd.choice([0, 1, 2, 4, 5, 6, 9, 30, 200]) for value in values}
    if not any(counts.values()):
        counts[values[0]] = 7
    people = [(rnd.choice(["mentor", "mentee"]), {"gender": rnd.choice(values)})
              for _ in range(rnd.randint(1, 40))]
    cells = health.diversity_cells(people, {"gender": health.Baseline(as_of=AS_OF,
                                                                      people=counts)})
    published: dict[Cell, int] = {(None, c.value, None): c.workforce_people for c in cells
                                  if c.role is None and c.workforce_people is not None}
    total = sum(counts.values())
    assert all(n >= MIN_GROUP or (n == 0 and cell[1] is not None)
               for cell, n in published.items()), published
    assert all(n == (total if cell[1] is None else counts[cell[1]])
               for cell, n in published.items())
    empty = {(None, value, None) for value, n in counts.items() if n == 0}
    found = derivable_small_groups(published, empty, [["-"], sorted(counts), ["-"]])
    assert found == []
    # Every value of the baseline has its cell, participants or not.
    assert {c.value for c in cells if c.role is None} == {None, *counts}


async def test_a_report_compares_against_the_baseline_only_for_the_whole_workforce(
    databases: DatabaseFactory,
) -> None:
    people: list[tuple[ParticipantRole, str]] = [("mentor", "f")] * 6 + [("mentee", "m")] * 6
    async with analytics_database(databases, "workforce") as (_, consumer):
        for message in messages(diverse("div", people) + diverse("off", people, False)):
            await consumer.handle_batch(cast(Any, [message]))
        async with consumer.sessionmaker() as session:
            stored = await health.set_workforce_baseline(session, data=WorkforceBaselineSet(
                attribute="gender", as_of=AS_OF,
                values=[{"value": "m", "people": 300}, {"value": "f", "people": 100}]),
                now=NOW)
            await session.commit()
        async with consumer.sessionmaker() as session:
            whole, sales, off = [await health.health_report(session, cut, senior_min_level=7)
                                 for cut in (health.Cut(programme_id="div"),
                                             health.Cut(programme_id="div", department="Sales"),
                                             health.Cut(programme_id="off"))]
            listed = await health.list_workforce_baselines(session)
            # Entered again, the attribute's values are replaced, not added to.
            await health.set_workforce_baseline(session, data=WorkforceBaselineSet(
                attribute="gender", as_of=date(2026, 9, 30),
                values=[{"value": "f", "people": 120}]), now=NOW)
            await session.commit()
            again = await health.list_workforce_baselines(session)
    assert (stored.people, [v.value for v in stored.values]) == (400, ["f", "m"])
    assert listed.attributes == [stored]
    women = cells_of(whole.diversity)[None, "f"]
    assert (women.people, women.share, women.workforce_people, women.workforce_share) == (
        6, 0.5, 100, 0.25)
    rows = health.health_rows(whole)
    assert ("diversity_workforce_share", "gender:all", "f", 0.25) in rows
    assert ("diversity_share", "gender:all", "f", 0.5) in rows
    assert ("diversity_workforce", "gender:all", "all", 400) in rows
    # A department's participants are not compared against the whole workforce.
    assert all(c.workforce_as_of is None for c in sales.diversity)
    assert off.diversity == []
    [gender] = again.attributes
    assert (gender.as_of, gender.people, [v.value for v in gender.values]) == (
        date(2026, 9, 30), 120, ["f"])


async def test_hr_enters_the_baseline_and_bad_input_writes_nothing(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme = f"p-{uuid.uuid4()}"
    attribute = f"g{uuid.uuid4().hex[:8]}"
    people: list[tuple[ParticipantRole, str]] = [("mentor", "f")] * 5 + [("mentee", "m")] * 5
    body = {"attribute": attribute, "as_of": "2026-06-30",
            "values": [{"value": "f", "people": 450}, {"value": "m", "people": 550}]}
    async with start_service("analytics") as svc:
        for event in diverse(programme, people, attribute=attribute):
            await stream.publish(event)
        admin, manager = token("hr_admin"), token("programme_manager")
        async with svc.client(manager) as client:
            refused = await client.put("/api/v1/workforce-baseline", json=body)
            assert refused.status_code == 403, refused.text
            removal = await client.delete("/api/v1/workforce-baseline",
                                          params={"attribute": attribute})
            assert removal.status_code == 403
        for caller in ("participant", "hris"):
            async with svc.client(token(caller)) as client:
                assert (await client.get("/api/v1/workforce-baseline")).status_code == 403
        async with svc.client(admin) as client:
            bad_bodies = {
                "values.0.people": {**body, "values": [{"value": "f", "people": -1}]},
                "values.0.value": {**body, "values": [{"value": " ", "people": 3}]},
                "attribute": {**body, "attribute": "x" * 101},
                "as_of": {**body, "as_of": "1800-01-01"},
                "values": {**body, "values": [{"value": f"v{n}", "people": 1}
                                              for n in range(51)]},
            }
            for field, bad in bad_bodies.items():
                answer = await client.put("/api/v1/workforce-baseline", json=bad)
                assert answer.status_code == 422, (field, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert field in answer.text, (field, answer.text)
            nobody = await client.put("/api/v1/workforce-baseline", json={
                **body, "values": [{"value": "f", "people": 0}]})
            assert nobody.status_code == 422 and "values" in nobody.text
            twice = await client.put("/api/v1/workforce-baseline", json={
                **body, "values": [{"value": "f", "people": 1}, {"value": "f", "people": 2}]})
            assert twice.status_code == 422 and "twice" in twice.text
            listed = (await client.get("/api/v1/workforce-baseline")).json()["attributes"]
            assert attribute not in {item["attribute"] for item in listed}

            stored = await client.put("/api/v1/workforce-baseline", json=body)
            assert stored.status_code == 200, stored.text
            assert (stored.json()["people"], stored.json()["as_of"]) == (1000, "2026-06-30")

            async def compared() -> bool:
                report = (await client.get(
                    f"/api/v1/programmes/{programme}/health/report")).json()
                cells = {(c["role"], c["value"]): c for c in report["diversity"]
                         if c["attribute"] == attribute}
                women = cells.get((None, "f"))
                return bool(women and women["people"] == 5 and women["share"] == 0.5
                            and women["workforce_share"] == 0.45)

            await wait_until(compared)
            exported = await client.get(f"/api/v1/programmes/{programme}/health.csv")
            rows = list(csv.reader(io.StringIO(exported.text)))
            assert ["diversity_workforce_share", f"{attribute}:all", "m", "0.55", "", ""] in rows

        async with svc.client(manager) as client:
            seen = (await client.get("/api/v1/workforce-baseline")).json()["attributes"]
            assert {item["attribute"]: item["people"] for item in seen}[attribute] == 1000
        async with svc.client(admin) as client:
            gone = await client.delete("/api/v1/workforce-baseline",
                                       params={"attribute": attribute})
            assert gone.status_code == 200, gone.text
            assert gone.json()["people"] == 1000
            again = await client.delete("/api/v1/workforce-baseline",
                                        params={"attribute": attribute})
            assert again.status_code == 404
            assert again.headers["content-type"].startswith("application/problem+json")
            report = (await client.get(f"/api/v1/programmes/{programme}/health/report")).json()
            assert all(c["workforce_as_of"] is None for c in report["diversity"])
