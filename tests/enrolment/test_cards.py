"""Participant cards: who may see whom (from matching's events only) and what a card shows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    PairDeclined,
    PairEnded,
    PairFormed,
    PairProposed,
    ShortlistOffered,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BIO = "Product designer; I teach short-form video and how teams use chat tools."


async def _count(pending: Any, count: int) -> Any:
    got = await pending
    return got if len(got) >= count else None


@pytest.fixture
async def cohort(hris: httpx.AsyncClient, hr: httpx.AsyncClient, enrolment: Running,
                 token: Callable[..., str], events: Callable[[str], Any]) -> dict[str, str]:
    """Mentors m1, m2 and mentees s, x of one programme: participant ids, and `emp:<name>`."""
    people = {"m1": 2, "m2": 2, "s": 9, "x": 9}
    records = [{"external_id": f"card-{name}", "email": f"{name}@corp.example",
                "given_name": name.upper(), "family_name": "Tester", "job_level": level,
                "job_title": "Designer", "department": "Digital", "location": "Lyon",
                "time_zone": "Europe/Paris"} for name, level in people.items()]
    assert (await hris.post("/api/v1/employees/import", json=records)).status_code == 200
    published = await wait_until(lambda: _count(events("mentoring.employee.updated"), 4))
    employees = {e["data"]["employee"]["external_id"][5:]: e["data"]["employee"]["employee_id"]
                 for e in published}
    programme = (await hr.post("/api/v1/programmes", json={
        "name": "Cards", "mentor_max_level": 4, "mentee_min_level": 7,
        "diversity_objective": True})).json()
    ids: dict[str, str] = {}
    for name, employee_id in employees.items():
        role = "mentor" if name.startswith("m") else "mentee"
        topics = ({"topics_teach": [{"topic": "Social Media", "level": 5}]} if role == "mentor"
                  else {"topics_learn": [{"topic": "Social Media", "level": 1}]})
        async with enrolment.client(token("participant", employee_id=employee_id)) as me:
            created = await me.post(f"/api/v1/programmes/{programme['id']}/participants", json={
                "employee_id": employee_id, "role": role, "languages": ["fr"], "bio": BIO,
                "avoid_employee_ids": [employees["x"]] if name != "x" else [],
                "diversity": {"gender": "f"}, "diversity_consent": True, **topics})
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
        ids[f"emp:{name}"] = employee_id
    ids["programme"] = programme["id"]
    return ids


async def _card(enrolment: Running, token: Callable[..., str], cohort: dict[str, str],
                viewer: str, subject: str) -> httpx.Response:
    async with enrolment.client(token("participant", employee_id=cohort[f"emp:{viewer}"])) as c:
        return await c.get(f"/api/v1/participants/{cohort[subject]}/card")


async def test_cards_open_and_close_as_matching_announces_shortlists_and_pairs(
    enrolment: Running, stream: Stream, token: Callable[..., str], cohort: dict[str, str],
) -> None:
    async def status(viewer: str, subject: str) -> int:
        return (await _card(enrolment, token, cohort, viewer, subject)).status_code

    async def becomes(viewer: str, subject: str, wanted: int) -> None:
        async def check() -> bool:
            return await status(viewer, subject) == wanted
        await wait_until(check)

    p = cohort["programme"]
    # Nobody but the person sees a card before matching said anything.
    assert await status("s", "m1") == 403
    assert await status("m1", "m1") == 200

    # The shortlist offered to s opens those mentors' cards to s, not s's card to them.
    await stream.publish(ShortlistOffered(programme_id=p, mentee_participant_id=cohort["s"],
                                          mentor_participant_ids=[cohort["m1"]], occurred_at=T0))
    await becomes("s", "m1", 200)
    card = (await _card(enrolment, token, cohort, "s", "m1")).json()
    assert card == {
        "participant_id": cohort["m1"], "programme_id": p, "role": "mentor",
        "given_name": "M1", "family_name": "Tester", "job_title": "Designer",
        "department": "Digital", "location": "Lyon", "time_zone": "Europe/Paris",
        "languages": ["fr"], "topics_teach": [{"topic": "social media", "level": 5}],
        "topics_learn": [], "bio": BIO}  # no diversity, avoid list, manager or history
    assert await status("m1", "s") == 403
    assert await status("s", "m2") == 403
    # An older shortlist arriving late does not replace the newer one.
    await stream.publish(ShortlistOffered(
        programme_id=p, mentee_participant_id=cohort["s"],
        mentor_participant_ids=[cohort["m2"]], occurred_at=T0 - timedelta(hours=1)))
    # s picks m2: a proposed pair opens both cards; the decline closes them.
    pair = str(uuid.uuid4())
    await stream.publish(PairProposed(
        pair_id=pair, programme_id=p, mentor_participant_id=cohort["m2"],
        mentee_participant_id=cohort["s"], mentor_employee_id=cohort["emp:m2"],
        mentee_employee_id=cohort["emp:s"], occurred_at=T0))
    await becomes("m2", "s", 200)
    assert await status("s", "m2") == 200
    assert await status("s", "m1") == 200  # the late, older shortlist changed nothing
    await stream.publish(PairDeclined(pair_id=pair, programme_id=p, reason="declined",
                                      occurred_at=T0 + timedelta(minutes=5)))
    await becomes("m2", "s", 403)

    # Partners while the pair is active; not after it ended, even if pair-formed comes late.
    active = str(uuid.uuid4())
    formed = PairFormed(pair_id=active, programme_id=p, mentor_participant_id=cohort["m1"],
                        mentee_participant_id=cohort["s"], mentor_employee_id=cohort["emp:m1"],
                        mentee_employee_id=cohort["emp:s"], score=0.8, occurred_at=T0)
    await stream.publish(formed)
    await becomes("m1", "s", 200)
    await stream.publish(PairEnded(pair_id=active, programme_id=p, reason="completed",
                                   occurred_at=T0 + timedelta(days=1)))
    await becomes("m1", "s", 403)
    await stream.publish(formed, msg_id=str(uuid.uuid4()))  # delivered again, late
    ended_first = str(uuid.uuid4())
    await stream.publish(PairEnded(pair_id=ended_first, programme_id=p, reason="admin",
                                   occurred_at=T0 + timedelta(days=1)))
    await stream.publish(PairFormed(
        pair_id=ended_first, programme_id=p, mentor_participant_id=cohort["m2"],
        mentee_participant_id=cohort["x"], mentor_employee_id=cohort["emp:m2"],
        mentee_employee_id=cohort["emp:x"], score=0.5, occurred_at=T0))
    marker = str(uuid.uuid4())
    await stream.publish(PairProposed(
        pair_id=marker, programme_id=p, mentor_participant_id=cohort["m2"],
        mentee_participant_id=cohort["s"], mentor_employee_id=cohort["emp:m2"],
        mentee_employee_id=cohort["emp:s"], occurred_at=T0 + timedelta(days=2)))
    await becomes("m2", "s", 200)  # everything before it was applied
    assert await status("m1", "s") == 403
    assert await status("m2", "x") == 403
    assert await status("x", "m2") == 403


async def test_admins_read_every_card_an_hris_job_none_and_a_batch_answers_per_id(
    enrolment: Running, token: Callable[..., str], cohort: dict[str, str],
) -> None:
    for role in ("hr_admin", "programme_manager"):
        async with enrolment.client(token(role)) as admin:
            assert (await admin.get(f"/api/v1/participants/{cohort['s']}/card")).status_code \
                == 200
    async with enrolment.client(token("hris")) as hris:
        assert (await hris.get(f"/api/v1/participants/{cohort['s']}/card")).status_code == 403
    async with enrolment.client(token("participant", employee_id=cohort["emp:s"])) as me:
        batch = (await me.get("/api/v1/batch/participant-cards", params={
            "id": [cohort["s"], cohort["m1"], "nobody"]})).json()
        assert (await me.get("/api/v1/participants/nobody/card")).status_code == 404
    assert [item["participant_id"] for item in batch["items"]] == [cohort["s"]]
    assert {m["id"]: m["status"] for m in batch["missing"]} == {cohort["m1"]: 403,
                                                                "nobody": 404}


async def test_the_bio_is_capped_and_stays_out_of_events(
    enrolment: Running, token: Callable[..., str], cohort: dict[str, str],
    events: Callable[[str], Any],
) -> None:
    async with enrolment.client(token("participant", employee_id=cohort["emp:m1"])) as me:
        refused = await me.put(f"/api/v1/participants/{cohort['m1']}/survey",
                               json={"bio": "x" * 1001})
    assert refused.status_code == 422
    assert "bio" in refused.text
    enrolled = await events("mentoring.participant.enrolled")
    assert enrolled and all("bio" not in e["data"]["participant"] for e in enrolled)
    assert all(BIO not in str(e) for e in enrolled)


async def test_a_capacity_below_the_mentors_active_pairs_is_refused_and_nothing_written(
    enrolment: Running, stream: Stream, token: Callable[..., str], cohort: dict[str, str],
) -> None:
    """Enrolment counts a mentor's active pairs from matching's events, not its tables."""
    m1 = cohort["m1"]
    survey = f"/api/v1/participants/{m1}/survey"
    async with enrolment.client(token("participant", employee_id=cohort["emp:m1"])) as me:
        assert (await me.patch(survey, json={"mentor_capacity": 2})).status_code == 200
        pairs = {name: str(uuid.uuid4()) for name in ("s", "x")}
        for name, pair in pairs.items():
            await stream.publish(PairFormed(
                pair_id=pair, programme_id=cohort["programme"], mentor_participant_id=m1,
                mentee_participant_id=cohort[name], mentor_employee_id=cohort["emp:m1"],
                mentee_employee_id=cohort[f"emp:{name}"], score=0.7, occurred_at=T0))

        async def both_seen() -> bool:
            for name in pairs:
                if (await me.get(f"/api/v1/participants/{cohort[name]}/card")).status_code != 200:
                    return False
            return True

        await wait_until(both_seen)
        current = (await me.get(f"/api/v1/participants/{m1}")).json()
        patched = await me.patch(survey, json={"mentor_capacity": 1, "time_zone": "Asia/Tokyo"})
        replaced = await me.put(survey, json={"mentor_capacity": 1})
        for refused in (patched, replaced):
            assert refused.status_code == 409, refused.text
            assert refused.json()["field"] == "mentor_capacity"
            assert "2 active pairs" in refused.json()["detail"]
        after = (await me.get(f"/api/v1/participants/{m1}")).json()
        assert after == current  # nothing written: no new version, time zone unchanged
        # Other answers still change, and keeping the capacity is no lowering.
        assert (await me.patch(survey, json={"mentor_capacity": 2, "bio": "Still here."})
                ).status_code == 200

        await stream.publish(PairEnded(pair_id=pairs["x"], programme_id=cohort["programme"],
                                       reason="completed", occurred_at=T0 + timedelta(days=1)))

        async def freed() -> bool:
            return (await me.patch(survey, json={"mentor_capacity": 1})).status_code == 200

        await wait_until(freed)
        assert (await me.get(f"/api/v1/participants/{m1}")).json()["mentor_capacity"] == 1
