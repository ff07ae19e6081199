"""Pulse surveys: a participant answers once and anonymously; results only for groups of 5
or more, and no published cut gives a smaller group away by differencing."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import product
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from analytics.config import DEV_PULSE_SURVEY_SECRET, AnalyticsSettings
from analytics.health import CSV_HEADER
from analytics.surveys import MIN_GROUP, Cell, Profile, cell_counts, suppressed_cells
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    EmployeeSnapshot,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantWithdrawn,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
QUESTIONS = [
    {"kind": "scale", "prompt": "How useful are your sessions?"},
    {"kind": "nps", "prompt": "Would you recommend the programme to a colleague?"},
    {"kind": "choice", "prompt": "How often do you meet?",
     "choices": ["weekly", "fortnightly", "monthly"]},
    {"kind": "text", "prompt": "What would you change?"},
]


# --- an attacker who differences published cuts -------------------------------------


def derivable_small_groups(published: Mapping[Cell, int], empty: set[Cell],
                           domains: list[list[str]]) -> list[tuple[Cell, int]]:
    """Groups of 1 to 4 respondents a reader recovers from published counts alone.

    The reader knows every published cell's count, which cells are empty, and that a
    cell is the sum of its children along any dimension; they subtract and add until
    nothing new comes out. A group is a derived cell, or the remainder a parent leaves
    over its known children (the union of the hidden ones).
    """
    known = dict(published) | dict.fromkeys(empty, 0)
    every = [cell for cell in product(*[[None, *d] for d in domains])]
    found: list[tuple[Cell, int]] = []

    def children(cell: Cell, axis: int) -> list[Cell]:
        return [tuple(value if i == axis else v for i, v in enumerate(cell))  # type: ignore[misc]
                for value in domains[axis]]

    changed = True
    while changed:
        changed = False
        for cell in every:
            for axis in (i for i, v in enumerate(cell) if v is None):
                kids = children(cell, axis)
                hidden = [kid for kid in kids if kid not in known]
                if cell in known:
                    rest = known[cell] - sum(known[kid] for kid in kids if kid in known)
                    if hidden and 0 < rest < MIN_GROUP:
                        found.append((cell, rest))
                    if len(hidden) == 1:
                        known[hidden[0]] = rest
                        changed = True
                elif not hidden:
                    known[cell] = sum(known[kid] for kid in kids)
                    changed = True
    found += [(cell, n) for cell, n in known.items() if 0 < n < MIN_GROUP]
    return found


def linearly_derivable(published: set[Cell], counts: Mapping[Cell, int],
                       cells: list[Cell]) -> list[Cell]:
    """Of `cells`, those any sum and difference of published cells adds up to."""
    atoms = [c for c, n in counts.items() if n and all(v is not None for v in c)]

    def vector(cell: Cell) -> np.ndarray[Any, Any]:
        return np.array([float(all(w is None or w == a for w, a in zip(cell, atom, strict=True)))
                         for atom in atoms])

    basis = np.array([vector(c) for c in published]) if published else np.zeros((0, len(atoms)))
    rank = np.linalg.matrix_rank(basis) if len(basis) else 0
    return [cell for cell in cells
            if np.linalg.matrix_rank(np.vstack([basis, vector(cell)])) == rank]


def generated(seed: int) -> list[Profile]:
    rnd = random.Random(seed)
    departments = ["Sales", "IT", "HR", "Ops", "Legal"][:rnd.randint(2, 5)]
    return [(rnd.choice(["mentor", "mentee"]), rnd.choice(departments),
             rnd.choice(["1-3", "4-6", "7+"])) for _ in range(rnd.randint(5, 90))]


@pytest.mark.parametrize("seed", range(40))
def test_no_published_cut_gives_a_group_under_five_away(seed: int) -> None:
    profiles = generated(seed)
    counts = cell_counts(profiles)
    hidden = suppressed_cells(counts)
    published = {cell: n for cell, n in counts.items() if n and cell not in hidden}
    assert all(n >= MIN_GROUP for n in published.values())
    domains = [sorted({p[i] for p in profiles}) for i in range(3)]
    empty = {cell for cell, n in counts.items() if n == 0}
    assert derivable_small_groups(published, empty, domains) == []
    # Nor by any other sum or difference of published cuts.
    small = [cell for cell, n in counts.items() if 0 < n < MIN_GROUP]
    assert linearly_derivable(set(published), counts, small) == []


def test_a_suppressed_child_takes_a_sibling_with_it() -> None:
    # 6 mentors and 3 mentees: with everyone (9) and mentors (6) published, mentees would be
    # 9 - 6 = 3, so mentors are suppressed too.
    profiles: list[Profile] = [("mentor", "Sales", "1-3")] * 6 + [("mentee", "Sales", "7+")] * 3
    hidden = suppressed_cells(cell_counts(profiles))
    assert (None, None, None) not in hidden
    assert ("mentee", None, None) in hidden
    assert ("mentor", None, None) in hidden
    # Without the small group nothing is hidden but the empty cells.
    hidden = suppressed_cells(cell_counts(profiles[:6]))
    assert ("mentor", None, None) not in hidden


def test_the_pulse_survey_secret_is_refused_at_its_default_outside_development() -> None:
    with pytest.raises(ValueError, match="ANALYTICS_PULSE_SURVEY_SECRET"):
        AnalyticsSettings(environment="production", jwks_url="https://login.example.com/jwks",
                          pulse_survey_secret=DEV_PULSE_SURVEY_SECRET)
    with pytest.raises(ValueError, match="32 characters"):
        AnalyticsSettings(environment="development", pulse_survey_secret="short")
    assert AnalyticsSettings(environment="development").pulse_survey_secret


# --- through the service --------------------------------------------------------------


@dataclass
class Person:
    employee_id: str
    role: ParticipantRole
    department: str
    level: int


def snapshot(person: Person) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=person.employee_id, external_id=f"x-{person.employee_id}",
                            email=f"{person.employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=person.level,
                            department=person.department, hire_on=date(2020, 1, 6))


async def enrol(stream: Stream, programme_id: str, people: list[Person]) -> None:
    for person in people:
        await stream.publish(EmployeeUpdated(employee=snapshot(person), occurred_at=T0))
        await stream.publish(ParticipantEnrolled(participant=ParticipantState(
            participant_id=f"p-{person.employee_id}", programme_id=programme_id,
            role=person.role, employee=snapshot(person)), occurred_at=T0))


async def settled(svc: Running, admin: str, programme_id: str, expected: int) -> None:
    async def seen() -> bool:
        async with svc.client(admin) as client:
            summary = (await client.get(f"/api/v1/programmes/{programme_id}/summary")).json()
        return bool(summary["participants_enrolled"] == expected)

    await wait_until(seen)


def answers(scale: int, nps: int, choice: str, text: str | None = None) -> dict[str, Any]:
    given: list[dict[str, Any]] = [{"question_id": "q1", "value": scale},
                                   {"question_id": "q2", "value": nps},
                                   {"question_id": "q3", "choice": choice}]
    if text is not None:
        given.append({"question_id": "q4", "text": text})
    return {"answers": given}


async def create_survey(svc: Running, admin: str, programme_id: str) -> str:
    async with svc.client(admin) as client:
        response = await client.post(f"/api/v1/programmes/{programme_id}/pulse-surveys",
                                     json={"title": "Pulse, November", "questions": QUESTIONS})
    assert response.status_code == 201, response.text
    body = response.json()
    assert [q["id"] for q in body["questions"]] == ["q1", "q2", "q3", "q4"]
    assert body["status"] == "open"
    return str(body["id"])


def sync_url(svc: Running) -> str:
    url: str = svc.app.state.settings.database_url
    return make_url(url).set(drivername="sqlite" if url.startswith("sqlite")
                             else "postgresql+psycopg").render_as_string(hide_password=False)


async def test_a_participant_answers_once_and_the_answer_carries_no_identity(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id = str(uuid.uuid4())
    people = [Person(f"emp-{uuid.uuid4().hex[:8]}", "mentor", "Sales", 2) for _ in range(5)]
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        await enrol(stream, programme_id, people)
        await settled(svc, admin, programme_id, 5)
        survey_id = await create_survey(svc, admin, programme_id)
        path = f"/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}"
        for index, person in enumerate(people):
            async with svc.client(token("participant", employee_id=person.employee_id)) as c:
                first = await c.post(f"{path}/responses", json=answers(
                    index + 1, 10, "weekly", f"more time {person.employee_id}"))
                assert first.status_code == 201, first.text
                again = await c.post(f"{path}/responses", json=answers(1, 0, "monthly"))
                assert again.status_code == 409, again.text
                assert again.headers["content-type"].startswith("application/problem+json")

        engine = sa.create_engine(sync_url(svc))
        try:
            inspector = sa.inspect(engine)
            response_columns = {c["name"] for c in inspector.get_columns(
                "analytics_pulse_response")}
            respondent_columns = {c["name"] for c in inspector.get_columns(
                "analytics_pulse_respondent")}
            assert response_columns == {"id", "survey_id", "role", "department", "level_band",
                                        "answers"}
            assert respondent_columns == {"survey_id", "respondent_key"}
            assert not inspector.get_foreign_keys("analytics_pulse_response")
            assert not inspector.get_foreign_keys("analytics_pulse_respondent")
            with engine.connect() as connection:
                responses = connection.execute(sa.text(
                    "SELECT * FROM analytics_pulse_response")).all()
                keys = connection.scalars(sa.text(
                    "SELECT respondent_key FROM analytics_pulse_respondent")).all()
                if engine.dialect.name == "sqlite":
                    # No hidden row number orders the answers by arrival.
                    with pytest.raises(sa.exc.OperationalError):
                        connection.execute(sa.text("SELECT rowid FROM analytics_pulse_response"))
        finally:
            engine.dispose()
        assert len(responses) == 5 and len(keys) == 5
        stored = " ".join(str(tuple(row)) for row in responses)
        for person in people:
            # The text a person wrote may name them; nothing else does.
            assert stored.count(person.employee_id) == 1
            assert f"p-{person.employee_id}" not in stored
        for key in keys:
            assert key not in stored and len(key) == 64
        assert all(len(row.id) == 32 for row in responses)


async def test_only_the_programmes_participants_answer_and_only_admins_read_results(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    member = Person("emp-member", "mentee", "IT", 7)
    leaver = Person("emp-leaver", "mentor", "IT", 2)
    outsider = Person("emp-outsider", "mentor", "IT", 2)
    async with start_service("analytics") as svc:
        admin = token("programme_manager")
        await enrol(stream, programme_id, [member, leaver])
        await enrol(stream, other, [outsider])
        await stream.publish(ParticipantWithdrawn(
            participant_id="p-emp-leaver", programme_id=programme_id, employee_id="emp-leaver",
            occurred_at=T0 + timedelta(minutes=1)))
        await settled(svc, admin, programme_id, 1)
        await settled(svc, admin, other, 1)
        survey_id = await create_survey(svc, admin, programme_id)
        path = f"/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}"
        for caller in [token("participant", employee_id="emp-outsider"),
                       token("participant", employee_id="emp-leaver"),
                       token("hr_admin", employee_id="emp-member"), token("hris")]:
            async with svc.client(caller) as client:
                response = await client.post(f"{path}/responses", json=answers(3, 7, "weekly"))
                assert response.status_code == 403, response.text
                assert (await client.get(path)).status_code in (403, 200)
        async with svc.client(token("participant", employee_id="emp-outsider")) as client:
            assert (await client.get(path)).status_code == 403
        async with svc.client(token("participant", employee_id="emp-member")) as client:
            assert (await client.get(path)).status_code == 200
            listed = await client.get(f"/api/v1/programmes/{programme_id}/pulse-surveys")
            assert [s["id"] for s in listed.json()["items"]] == [survey_id]
            assert (await client.post(
                f"/api/v1/programmes/{programme_id}/pulse-surveys",
                json={"title": "x", "questions": QUESTIONS})).status_code == 403
            assert (await client.post(f"{path}/close")).status_code == 403
            response = await client.post(f"{path}/responses", json=answers(3, 7, "weekly"))
            assert response.status_code == 201, response.text
            assert (await client.get(f"{path}/results")).status_code == 403
        async with svc.client(admin) as client:
            # Results that move while answers arrive would give each new answer away.
            assert (await client.get(f"{path}/results")).status_code == 409
            assert (await client.post(f"{path}/close")).status_code == 200
            assert (await client.post(f"{path}/close")).status_code == 409
            results = await client.get(f"{path}/results")
            assert results.status_code == 200
            # One respondent: suppressed, and not even the count is told.
            assert results.json()["suppressed"] is True
            assert results.json()["respondents"] is None
            assert results.json()["questions"] == []
            wrong = await client.get(
                f"/api/v1/programmes/{other}/pulse-surveys/{survey_id}/results")
            assert wrong.status_code == 404
        async with svc.client(token("participant", employee_id="emp-member")) as client:
            late = await client.post(f"{path}/responses", json=answers(3, 7, "weekly"))
            assert late.status_code == 409


async def test_answers_that_do_not_fit_the_questions_are_refused_naming_the_field(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id = str(uuid.uuid4())
    member = Person("emp-m1", "mentor", "IT", 2)
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        await enrol(stream, programme_id, [member])
        await settled(svc, admin, programme_id, 1)
        base = f"/api/v1/programmes/{programme_id}/pulse-surveys"
        async with svc.client(admin) as client:
            for bad, field in [
                ({"title": "x", "questions": []}, "questions"),
                ({"title": "x", "questions": [{"kind": "choice", "prompt": "?",
                                               "choices": ["only"]}]}, "questions.0"),
                ({"title": "x", "questions": [{"kind": "stars", "prompt": "?"}]},
                 "questions.0.kind"),
                ({"title": "x" * 201, "questions": QUESTIONS}, "title"),
                ({"title": "x", "questions": QUESTIONS * 6}, "questions"),
            ]:
                response = await client.post(base, json=bad)
                assert response.status_code == 422, (bad, response.text)
                assert response.json()["field"].startswith(field), response.text
            assert (await client.get(base)).json()["items"] == []
        survey_id = await create_survey(svc, admin, programme_id)
        path = f"{base}/{survey_id}/responses"
        async with svc.client(token("participant", employee_id="emp-m1")) as client:
            for bad_answers, field in [
                (answers(6, 7, "weekly"), "answers.0"),
                (answers(3, 11, "weekly"), "answers.1.value"),
                (answers(3, 7, "daily"), "answers.2"),
                ({"answers": [{"question_id": "q1", "value": 3}]}, "answers"),
                ({"answers": [*answers(3, 7, "weekly")["answers"],
                              {"question_id": "q9", "text": "hi"}]}, "answers.3.question_id"),
                (answers(3, 7, "weekly", "x" * 4001), "answers.3.text"),
            ]:
                response = await client.post(path, json=bad_answers)
                assert response.status_code == 422, (bad_answers, response.text)
                assert response.json()["field"] == field, response.text
            # Nothing was written: the participant can still answer.
            assert (await client.post(path, json=answers(3, 7, "weekly"))).status_code == 201


async def test_results_are_published_for_groups_of_five_with_complementary_suppression(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id = str(uuid.uuid4())
    rnd = random.Random(14)
    departments = ["Sales", "IT", "Ops"]
    people = [Person(f"emp-{i}", "mentor" if i < 6 else "mentee",
                     rnd.choice(departments), rnd.choice([2, 5, 8])) for i in range(26)]
    # The first 4 answer before the threshold is tested, then the rest.
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        await enrol(stream, programme_id, people)
        await settled(svc, admin, programme_id, len(people))
        surveys = [await create_survey(svc, admin, programme_id) for _ in range(2)]
        few, many = surveys
        for survey_id, who in [(few, people[:4]), (many, people)]:
            path = f"/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}"
            for index, person in enumerate(who):
                async with svc.client(token("participant",
                                            employee_id=person.employee_id)) as client:
                    response = await client.post(f"{path}/responses", json=answers(
                        1 + index % 5, index % 11, ["weekly", "monthly"][index % 2],
                        f"idea {index:02d}"))
                    assert response.status_code == 201, response.text
            async with svc.client(admin) as client:
                assert (await client.post(f"{path}/close")).status_code == 200

        async with svc.client(admin) as client:
            path = f"/api/v1/programmes/{programme_id}/pulse-surveys"
            small = (await client.get(f"{path}/{few}/results")).json()
            assert small["suppressed"] is True and small["questions"] == []
            # The CSV export applies the same suppression.
            small_csv = await client.get(f"{path}/{few}/results.csv")
            assert small_csv.status_code == 200
            assert small_csv.headers["content-type"].startswith("text/csv")
            assert list(csv.reader(io.StringIO(small_csv.text))) == [
                list(CSV_HEADER), ["cut", "", "suppressed", "true", "", ""]]
            many_csv = list(csv.reader(io.StringIO(
                (await client.get(f"{path}/{many}/results.csv")).text)))
            assert ["cut", "", "respondents", "26", "", ""] in many_csv
            assert ["q4", "text", "", "idea 00", "", ""] in many_csv

            published: dict[Cell, int] = {}
            shown: dict[Cell, dict[str, Any]] = {}
            bands = ["1-3", "4-6", "7+"]
            domains = [["mentee", "mentor"], sorted(departments), bands]
            for role, department, band in product(*[[None, *d] for d in domains]):
                params = {k: v for k, v in (("role", role), ("department", department),
                                            ("level_band", band)) if v is not None}
                response = await client.get(f"{path}/{many}/results", params=params)
                assert response.status_code == 200, response.text
                body = response.json()
                if not body["suppressed"]:
                    assert body["respondents"] >= MIN_GROUP
                    published[(role, department, band)] = body["respondents"]
                    shown[(role, department, band)] = body
                else:
                    assert body["respondents"] is None and body["questions"] == []

    everyone = shown[(None, None, None)]
    assert everyone["respondents"] == 26
    by_kind = {q["kind"]: q for q in everyone["questions"]}
    assert by_kind["scale"]["answered"] == 26
    assert sum(d["count"] for d in by_kind["nps"]["distribution"]) == 26
    assert {d["value"]: d["count"] for d in by_kind["choice"]["distribution"]} == {
        "weekly": 13, "fortnightly": 0, "monthly": 13}
    # Free text of a published group, sorted by value (never in the order of answering).
    assert by_kind["text"]["texts"] == sorted(f"idea {i:02d}" for i in range(26))
    # 6 mentors and 20 mentees: both roles are at least 5, and each is published only if
    # the suppression rule leaves no small group derivable, which the reader checks below.
    profiles = [(p.role, p.department, "1-3" if p.level <= 3 else "4-6" if p.level <= 6
                 else "7+") for p in people]
    counts = cell_counts(profiles)
    empty = {cell for cell in product(*[[None, *d] for d in domains])
             if counts.get(cell, 0) == 0}
    assert published, "something is published"
    assert any(cell not in published and n >= MIN_GROUP for cell, n in counts.items()), (
        "some cell of 5 or more is suppressed to protect a smaller one")
    assert derivable_small_groups(published, empty, domains) == []
    for cell, n in published.items():
        assert counts[cell] == n
