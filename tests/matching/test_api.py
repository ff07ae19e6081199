"""The matching API as admins and participants use it: suggestions, pairs, pool, config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text

from matching.api import router
from tests.matching.conftest import (
    Feed,
    at,
    employee,
    participant,
    published,
    skills,
    wait_pool,
    wait_published,
    wishes,
)
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from tests.support.tokens import signed_token
from upward_common.auth import ProgrammeAdmin
from upward_common.events import ParticipantState, ParticipantWithdrawn

PROGRAMME = "prog-api"


@dataclass
class Cohort:
    jane: ParticipantState
    best: ParticipantState
    second: ParticipantState
    too_senior: ParticipantState
    reports_to_jane: ParticipantState
    same_manager: ParticipantState


async def cohort(feed: Feed, admin: httpx.AsyncClient) -> Cohort:
    await feed.programme(PROGRAMME, matching_mode="shortlist")
    boss = "emp-boss"
    jane_person = employee("emp-jane", given_name="Jane", job_level=8, department="Sales",
                           manager_id=boss, manager_chain=[boss])
    jane = participant(PROGRAMME, "mentee", jane_person, "p-jane",
                       topics_learn=wishes("Data analytics", "AI tools"),
                       interests=["climbing", "jazz"])
    best = participant(PROGRAMME, "mentor", employee("emp-best", given_name="Bo", job_level=3),
                       "p-best", topics_teach=skills("Data analytics", level=5) +
                       skills("AI tools", level=4), interests=["jazz"])
    second = participant(PROGRAMME, "mentor", employee("emp-second", job_level=4),
                         "p-second", topics_teach=skills("AI tools", level=3))
    too_senior = participant(PROGRAMME, "mentor", employee("emp-senior", job_level=7),
                             "p-senior", topics_teach=skills("Data analytics", level=5))
    reports = participant(PROGRAMME, "mentor",
                          employee("emp-report", job_level=2, manager_id="emp-jane",
                                   manager_chain=["emp-jane", boss]),
                          "p-report", topics_teach=skills("Data analytics", level=5))
    peer = participant(PROGRAMME, "mentor",
                       employee("emp-peer", job_level=2, manager_id=boss, manager_chain=[boss]),
                       "p-peer", topics_teach=skills("Data analytics", level=5))
    for state in (jane, best, second, too_senior, reports, peer):
        await feed.enrol(state)
    await wait_pool(admin, PROGRAMME, mentees=1, mentors=5)
    return Cohort(jane, best, second, too_senior, reports, peer)


async def test_suggestions_rank_eligible_mentors_with_readable_breakdowns(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    c = await cohort(feed, admin)
    response = await admin.get(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["programme_id"] == PROGRAMME and body["mentee_participant_id"] == "p-jane"
    ranked = [s["mentor_participant_id"] for s in body["suggestions"]]
    # Level gap, reporting line and shared manager keep three mentors out.
    assert ranked == [c.best.participant_id, c.second.participant_id]
    top = body["suggestions"][0]
    assert top["mentor_employee_id"] == "emp-best"
    assert 0 <= top["score"] <= 100
    assert round(sum(f["points"] for f in top["breakdown"]), 2) == top["score"]
    reasons = {f["factor"]: f["reason"] for f in top["breakdown"]}
    assert reasons["complementarity"].startswith(
        "teaches Data analytics (5/5), which Jane ranks first")
    assert "jazz" in reasons["interests"]
    assert body["suggestions"][0]["score"] > body["suggestions"][1]["score"]

    one = await admin.get(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions",
                          params={"limit": 1})
    assert [s["mentor_participant_id"] for s in one.json()["suggestions"]] == ["p-best"]


async def test_a_participant_sees_only_their_own_suggestions(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    path = f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions"
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        assert (await jane.get(path)).status_code == 200
    async with matching.client(token("participant", employee_id="emp-best")) as other:
        response = await other.get(path)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_token_without_the_participant_role_does_not_act_as_the_mentee(
    feed: Feed, admin: httpx.AsyncClient, matching: Running,
) -> None:
    await cohort(feed, admin)
    pair = (await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})).json()
    suggestions = f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions"
    async with matching.client(signed_token(roles=["hris"], employee_id="emp-jane")) as hris:
        assert (await hris.get(suggestions)).status_code == 403
        # An HRIS job reads no pairs at all: the role gate refuses it before any lookup.
        assert (await hris.get("/api/v1/pairs")).status_code == 403
        assert (await hris.get(f"/api/v1/pairs/{pair['id']}")).status_code == 403
        ended = await hris.post(f"/api/v1/pairs/{pair['id']}/end", json={"reason": "poor_fit"})
        assert ended.status_code == 403
    for claims in [{"roles": [], "employee_id": "emp-jane"}, {"roles": 5},
                   {"roles": None}, {"roles": {"hr_admin": True}},
                   {"roles": ["participant"], "employee_id": 42}]:
        async with matching.client(signed_token(**claims)) as client:
            response = await client.get(suggestions)
        assert response.status_code == 401, (claims, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get(f"/api/v1/pairs/{pair['id']}")).json()["status"] == "active"


async def test_admin_forms_a_pair_and_pair_formed_is_published(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    await cohort(feed, admin)
    response = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})
    assert response.status_code == 201, response.text
    pair = response.json()
    assert pair["status"] == "active"
    assert pair["mentor_employee_id"] == "emp-best" and pair["mentee_employee_id"] == "emp-jane"
    assert pair["formed_at"] and pair["ended_at"] is None and pair["end_reason"] is None
    assert pair["score"] == round(sum(f["points"] for f in pair["breakdown"]), 2)
    [event] = await wait_published(nats_server.url, "mentoring.pair.formed", 1)
    assert event["data"]["pair_id"] == pair["id"]
    assert event["data"]["score"] == pair["score"]

    fetched = await admin.get(f"/api/v1/pairs/{pair['id']}")
    assert fetched.json() == pair
    # The mentee now has a pair: a second one is refused and names the rule.
    again = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-second"})
    assert again.status_code == 409
    assert again.json()["rule"] == "mentee_already_paired"
    assert again.json()["field"] == "mentee_participant_id"


async def test_hard_constraints_reject_with_the_rule_and_write_nothing(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await cohort(feed, admin)

    async def attempt(mentor: str, **extra: Any) -> httpx.Response:
        return await admin.post("/api/v1/pairs", json={
            "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
            "mentor_participant_id": mentor, **extra})

    level = await attempt("p-senior")
    assert level.status_code == 409
    assert level.headers["content-type"].startswith("application/problem+json")
    assert level.json()["rule"] == "level_gap"
    assert level.json()["field"] == "mentor_participant_id"
    line = await attempt("p-report", override_reason="they get on well")
    assert line.status_code == 409 and line.json()["rule"] == "reporting_line"
    peer = await attempt("p-peer")
    assert peer.status_code == 409 and peer.json()["rule"] == "same_manager"
    assert peer.json()["field"] == "override_reason"
    unknown = await attempt("p-nobody")
    assert unknown.status_code == 422 and unknown.json()["field"] == "mentor_participant_id"
    wrong_role = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-best",
        "mentor_participant_id": "p-second"})
    assert wrong_role.status_code == 422
    assert wrong_role.json()["field"] == "mentee_participant_id"
    assert (await admin.get("/api/v1/pairs")).json() == []

    # Sharing a manager is a programme limit: an admin may bend it with a reason.
    overridden = await attempt("p-peer", override_reason="Different sites, agreed with HR")
    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["override_reason"] == "Different sites, agreed with HR"
    assert overridden.json()["overridden_rules"] == ["same_manager"]


async def test_only_admins_pair_people(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        response = await jane.post("/api/v1/pairs", json={
            "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
            "mentor_participant_id": "p-best"})
        assert response.status_code == 403


async def test_participants_list_only_their_own_pairs(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    other = participant(PROGRAMME, "mentee", employee("emp-other", job_level=9), "p-other",
                        topics_learn=wishes("AI tools"))
    await feed.enrol(other)
    await wait_pool(admin, PROGRAMME, mentees=2)
    first = (await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})).json()
    second = (await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-other",
        "mentor_participant_id": "p-second"})).json()

    everything = await admin.get("/api/v1/pairs", params={"programme_id": PROGRAMME})
    assert {p["id"] for p in everything.json()} == {first["id"], second["id"]}
    by_participant = await admin.get("/api/v1/pairs", params={"participant_id": "p-second"})
    assert [p["id"] for p in by_participant.json()] == [second["id"]]

    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        mine = await jane.get("/api/v1/pairs", params={"programme_id": PROGRAMME})
        assert [p["id"] for p in mine.json()] == [first["id"]]
        assert (await jane.get(f"/api/v1/pairs/{first['id']}")).status_code == 200
        hidden = await jane.get(f"/api/v1/pairs/{second['id']}")
        assert hidden.status_code == 404


async def test_ending_a_pair_frees_the_place_and_a_rematch_excludes_the_old_partner(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer, matching: Running,
    token: Callable[..., str],
) -> None:
    await cohort(feed, admin)
    pair = (await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})).json()
    stats = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()
    assert stats["free_capacity"] == 4 and stats["unpaired_mentees"] == 0

    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        refused = await jane.post(f"/api/v1/pairs/{pair['id']}/end", json={"reason": "admin"})
        assert refused.status_code == 422 and refused.json()["field"] == "reason"
        ended = await jane.post(f"/api/v1/pairs/{pair['id']}/end", json={"reason": "poor_fit"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended" and ended.json()["end_reason"] == "poor_fit"
    assert ended.json()["ended_at"]
    [event] = await wait_published(nats_server.url, "mentoring.pair.ended", 1)
    assert event["data"] == {**event["data"], "pair_id": pair["id"], "reason": "poor_fit"}

    stats = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()
    assert stats["free_capacity"] == 5 and stats["unpaired_mentees"] == 1
    suggestions = (await admin.get(
        f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions")).json()["suggestions"]
    assert [s["mentor_participant_id"] for s in suggestions] == ["p-second"]
    again = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best", "override_reason": "try again"})
    assert again.status_code == 409 and again.json()["rule"] == "previously_paired"
    twice = await admin.post(f"/api/v1/pairs/{pair['id']}/end", json={"reason": "admin"})
    assert twice.status_code == 409


async def test_pool_statistics_show_what_a_run_works_with(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await cohort(feed, admin)
    stats = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()
    assert stats == {"programme_id": PROGRAMME, "mentors": 5, "mentees": 1,
                     "total_capacity": 5, "free_capacity": 5, "unpaired_mentees": 1,
                     "eligible_pairs": 2}
    missing = await admin.get("/api/v1/programmes/nope/pool")
    assert missing.status_code == 404


async def test_shortlist_pick_then_the_mentor_accepts_or_declines(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str],
    nats_server: NatsServer,
) -> None:
    await cohort(feed, admin)
    async with matching.client(token("participant", employee_id="emp-jane")) as jane, \
            matching.client(token("participant", employee_id="emp-best")) as best, \
            matching.client(token("participant", employee_id="emp-second")) as second:
        picked = await jane.post(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick",
                                 json={"mentor_participant_id": "p-best"})
        assert picked.status_code == 201, picked.text
        proposal = picked.json()
        assert proposal["status"] == "proposed" and proposal["formed_at"] is None
        # The proposal holds the mentee: no second pick while it is open.
        again = await jane.post(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick",
                                json={"mentor_participant_id": "p-second"})
        assert again.status_code == 409 and again.json()["rule"] == "mentee_already_paired"
        # Only the proposed mentor answers.
        assert (await jane.post(f"/api/v1/pairs/{proposal['id']}/accept")).status_code == 403
        declined = await best.post(f"/api/v1/pairs/{proposal['id']}/decline", json={})
        assert declined.json()["status"] == "declined"
        # A declined mentor is not offered again; the mentee picks the next one.
        shortlist = (await jane.get(
            f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions")).json()
        assert [s["mentor_participant_id"] for s in shortlist["suggestions"]] == ["p-second"]
        second_pick = (await jane.post(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick",
                                       json={"mentor_participant_id": "p-second"})).json()
        accepted = await second.post(f"/api/v1/pairs/{second_pick['id']}/accept")
        assert accepted.status_code == 200
        assert accepted.json()["status"] == "active" and accepted.json()["formed_at"]
    [event] = await wait_published(nats_server.url, "mentoring.pair.formed", 1)
    assert event["data"]["pair_id"] == second_pick["id"]
    # Enrolment opens and closes participant cards from these (it never reads matching).
    proposed = await wait_published(nats_server.url, "mentoring.pair.proposed", 2)
    assert [(e["data"]["pair_id"], e["data"]["mentor_participant_id"],
             e["data"]["mentee_participant_id"]) for e in proposed] == [
        (proposal["id"], "p-best", "p-jane"), (second_pick["id"], "p-second", "p-jane")]
    [no] = await wait_published(nats_server.url, "mentoring.pair.declined", 1)
    assert no["data"] == {**no["data"], "pair_id": proposal["id"], "reason": "declined"}
    [offered] = await wait_published(nats_server.url, "mentoring.shortlist.offered", 1)
    assert offered["data"] == {**offered["data"], "programme_id": PROGRAMME,
                               "mentee_participant_id": "p-jane",
                               "mentor_participant_ids": ["p-second"]}


async def test_matching_config_weights_change_the_scores(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    path = f"/api/v1/programmes/{PROGRAMME}/matching-config"
    defaults = (await admin.get(path)).json()
    assert defaults["weights"]["complementarity"] == 35
    assert defaults["diversity_applies"] is False
    suggestions = f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions"
    before = (await admin.get(suggestions)).json()["suggestions"][0]

    only_topics = {"weights": {f: 0 for f in ("interests", "availability", "language",
                                              "format", "department", "level_gap")}}
    updated = await admin.put(path, json=only_topics)
    assert updated.status_code == 200, updated.text
    after = (await admin.get(suggestions)).json()["suggestions"][0]
    assert [f["factor"] for f in after["breakdown"]] == ["complementarity"]
    assert after["score"] != before["score"]
    # Data analytics 5/5 ranked first (weight 5) and AI tools 4/5 second (weight 4).
    assert after["score"] == round(100 * (5 * 1.0 + 4 * 0.8) / 9, 2)

    rejected = await admin.put(path, json={"weights": {"complementarity": -1}})
    assert rejected.status_code == 422
    assert rejected.json()["field"] == "weights.complementarity"
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        assert (await jane.put(path, json=only_topics)).status_code == 403


async def test_a_programme_limit_on_time_zones_is_enforced(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await cohort(feed, admin)
    far = participant(PROGRAMME, "mentor",
                      employee("emp-far", job_level=1, time_zone="Asia/Tokyo"), "p-far",
                      topics_teach=skills("Data analytics", level=5))
    await feed.enrol(far)
    await wait_pool(admin, PROGRAMME, mentors=6)
    path = f"/api/v1/programmes/{PROGRAMME}/matching-config"
    assert (await admin.put(path, json={"max_time_zone_hours": 3})).status_code == 200
    ranked = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions",
                              params={"limit": 10})).json()["suggestions"]
    assert "p-far" not in [s["mentor_participant_id"] for s in ranked]
    refused = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-far"})
    assert refused.status_code == 409 and refused.json()["rule"] == "time_zone_distance"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"weights": {"interests": NaN}}', "weights.interests"),
        ('{"weights": {"interests": Infinity}}', "weights.interests"),
        ('{"weights": {"format": -Infinity}}', "weights.format"),
        # Each finite, but their sum is infinite: every score would normalise to nothing.
        ('{"weights": {"interests": 1e308, "language": 1e308}}', "weights.interests"),
        ('{"weights": {"complementarity": 1000.5}}', "weights.complementarity"),
        ('{"max_time_zone_hours": NaN}', "max_time_zone_hours"),
        ('{"ideal_overlap_hours": Infinity}', "ideal_overlap_hours"),
        ('{"dei_topics": [' + ", ".join(['"t"'] * 51) + "]}", "dei_topics"),
        ('{"dei_topics": ["' + "t" * 101 + '"]}', "dei_topics.0"),
        ('{"diversity_values": [' + ", ".join(['"v"'] * 21) + "]}", "diversity_values"),
        ('{"diversity_values": ["yes\\u0000"]}', "diversity_values.0"),
        ('{"diversity_attribute": "' + "a" * 65 + '"}', "diversity_attribute"),
    ],
)
async def test_matching_config_refuses_values_out_of_bounds_and_keeps_the_old(
    feed: Feed, admin: httpx.AsyncClient, body: str, field: str,
) -> None:
    await feed.programme(PROGRAMME)
    await wait_pool(admin, PROGRAMME, mentors=0)
    path = f"/api/v1/programmes/{PROGRAMME}/matching-config"
    before = (await admin.get(path)).json()
    response = await admin.put(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    assert (await admin.get(path)).json() == before


async def test_the_heaviest_weights_still_score(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await cohort(feed, admin)
    path = f"/api/v1/programmes/{PROGRAMME}/matching-config"
    heaviest = {f: 1000 for f in ("complementarity", "interests", "availability", "language",
                                  "format", "department", "level_gap", "diversity")}
    assert (await admin.put(path, json={"weights": heaviest})).status_code == 200
    ranked = (await admin.get(
        f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/suggestions")).json()["suggestions"]
    assert ranked and 0 < ranked[0]["score"] <= 100


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/pairs", {"programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
                                   "mentor_participant_id": "p" * 65}, "mentor_participant_id"),
        ("POST", "/api/v1/pairs", {"programme_id": "prog api", "mentee_participant_id": "p-jane",
                                   "mentor_participant_id": "p-best"}, "programme_id"),
        ("POST", "/api/v1/pairs", {"programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
                                   "mentor_participant_id": "p-peer",
                                   "override_reason": "r" * 4_001}, "override_reason"),
        ("POST", "/api/v1/pairs", {"programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
                                   "mentor_participant_id": "p-peer",
                                   "override_reason": "ok\u0000"}, "override_reason"),
        ("POST", f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick",
         {"mentor_participant_id": ""}, "mentor_participant_id"),
        ("GET", "/api/v1/pairs?participant_id=" + "p" * 65, None, "participant_id"),
        # programme_id may repeat: the refusal names the one at fault by its place.
        ("GET", "/api/v1/pairs?programme_id=.hidden", None, "programme_id.0"),
        ("GET", f"/api/v1/programmes/{'x' * 65}/pool", None, "programme_id"),
        ("GET", f"/api/v1/programmes/{PROGRAMME}/mentees/p%20jane/suggestions", None,
         "participant_id"),
        ("GET", "/api/v1/match-runs/" + "r" * 65, None, "run_id"),
    ],
)
async def test_ids_and_texts_are_capped_and_a_refusal_writes_nothing(
    feed: Feed, admin: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None,
    field: str,
) -> None:
    await cohort(feed, admin)
    response = await admin.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert (await admin.get("/api/v1/pairs")).json() == []


async def test_a_pair_note_is_capped(feed: Feed, admin: httpx.AsyncClient) -> None:
    await cohort(feed, admin)
    pair = (await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})).json()
    refused = await admin.post(f"/api/v1/pairs/{pair['id']}/end",
                               json={"reason": "admin", "note": "n" * 4_001})
    assert refused.status_code == 422 and refused.json()["field"] == "note"
    assert (await admin.get(f"/api/v1/pairs/{pair['id']}")).json()["status"] == "active"


# Every admin route of matching: (method, path, body). The bodies are malformed on purpose.
ADMIN_ROUTES = [
    ("GET", f"/api/v1/programmes/{PROGRAMME}/pool", None),
    ("GET", f"/api/v1/programmes/{PROGRAMME}/matching-config", None),
    ("PUT", f"/api/v1/programmes/{PROGRAMME}/matching-config", {"weights": {"interests": -1}}),
    ("PATCH", f"/api/v1/programmes/{PROGRAMME}/matching-config", {"ideal_level_gap": 99}),
    ("POST", "/api/v1/pairs", {"programme_id": PROGRAMME}),
    ("POST", f"/api/v1/programmes/{PROGRAMME}/match-runs", {"objective": "most_votes"}),
    ("GET", f"/api/v1/programmes/{PROGRAMME}/match-runs", None),
    ("GET", "/api/v1/match-runs/run-unknown", None),
    ("POST", "/api/v1/match-runs/run-unknown/publish", None),
]


async def test_admin_routes_refuse_everyone_else_before_reading_the_request(
    matching: Running, token: Callable[..., str]
) -> None:
    # The role gate is in the route's signature: it answers before the body is
    # validated or anything is looked up, with the same problem body as ever.
    for roles in (("participant",), ("hris",)):
        async with matching.client(token(*roles, employee_id="emp-jane")) as caller:
            for method, path, body in ADMIN_ROUTES:
                response = await caller.request(method, path, json=body)
                assert response.status_code == 403, (roles, method, path, response.text)
                problem = response.json()
                assert problem["detail"] == (
                    "This needs one of the roles: hr_admin, programme_manager"), path
                assert response.headers["content-type"].startswith("application/problem+json")


def test_admin_routes_declare_their_role_gate() -> None:
    gate = get_args(ProgrammeAdmin)[1].dependency
    gated = {(method, route.path) for route in router.routes if isinstance(route, APIRoute)
             for method in route.methods
             if any(d.call is gate for d in route.dependant.dependencies)}
    expected = {(method, path.replace(PROGRAMME, "{programme_id}")
                 .replace("run-unknown", "{run_id}")) for method, path, _ in ADMIN_ROUTES}
    assert gated == expected


async def test_a_matching_config_patch_keeps_what_it_does_not_name(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    path = f"/api/v1/programmes/{PROGRAMME}/matching-config"
    first = {"weights": {"interests": 0, "department": 7}, "max_time_zone_hours": 3,
             "allow_shared_manager": True, "dei_topics": ["DEI perspectives"],
             "ideal_level_gap": 6}
    assert (await admin.put(path, json=first)).status_code == 200
    changed = await admin.patch(path, json={"weights": {"department": 2},
                                            "min_overlap_hours": 1})
    assert changed.status_code == 200, changed.text
    config = changed.json()
    assert config["weights"]["interests"] == 0 and config["weights"]["department"] == 2
    assert config["max_time_zone_hours"] == 3 and config["allow_shared_manager"] is True
    assert config["dei_topics"] == ["DEI perspectives"] and config["ideal_level_gap"] == 6
    assert config["min_overlap_hours"] == 1
    # A null removes a limit, or restores a setting's default.
    cleared = (await admin.patch(path, json={"max_time_zone_hours": None,
                                             "ideal_level_gap": None})).json()
    assert cleared["max_time_zone_hours"] is None and cleared["ideal_level_gap"] == 4
    assert cleared["allow_shared_manager"] is True
    bad = await admin.patch(path, json={"ideal_level_gap": 40})
    assert bad.status_code == 422 and bad.json()["field"] == "ideal_level_gap"
    assert (await admin.patch(path, json={"speed": 1})).status_code == 422
    assert (await admin.get(path)).json()["ideal_level_gap"] == 4
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        assert (await jane.patch(path, json={})).status_code == 403


async def test_in_an_admin_programme_a_mentee_cannot_pick(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await cohort(feed, admin)
    await feed.programme(PROGRAMME, minutes=5, matching_mode="admin")
    await wait_until(lambda: _mode_is(matching, "admin"))
    pick = f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick"
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        refused = await jane.post(pick, json={"mentor_participant_id": "p-best"})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert body["rule"] == "matching_mode" and body["matching_mode"] == "admin"
        assert "matching_mode is admin" in body["detail"]
    # Admins still form pairs themselves.
    formed = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": "p-jane",
        "mentor_participant_id": "p-best"})
    assert formed.status_code == 201, formed.text
    await feed.programme(PROGRAMME, minutes=6, matching_mode="shortlist")
    await wait_until(lambda: _mode_is(matching, "shortlist"))
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        again = await jane.post(pick, json={"mentor_participant_id": "p-second"})
        assert again.json().get("rule") != "matching_mode", again.text


async def _mode_is(matching: Running, mode: str) -> bool | None:
    async with matching.app.state.engine.connect() as connection:
        found = await connection.execute(
            text("SELECT matching_mode FROM matching_programme WHERE id = :id"),
            {"id": PROGRAMME})
        return True if found.scalar() == mode else None


async def test_a_proposal_dropped_by_a_withdrawal_is_announced_as_declined(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str],
    nats_server: NatsServer,
) -> None:
    """Enrolment closes the two cards of a proposal that will never form."""
    await cohort(feed, admin)
    async with matching.client(token("participant", employee_id="emp-jane")) as jane:
        picked = await jane.post(f"/api/v1/programmes/{PROGRAMME}/mentees/p-jane/pick",
                                 json={"mentor_participant_id": "p-best"})
    assert picked.status_code == 201, picked.text
    await feed.publish(ParticipantWithdrawn(participant_id="p-best", programme_id=PROGRAMME,
                                            employee_id="emp-best", occurred_at=at(30)))
    [declined] = await wait_published(nats_server.url, "mentoring.pair.declined", 1)
    assert declined["data"] == {**declined["data"], "pair_id": picked.json()["id"],
                                "reason": "withdrawal"}
    assert await published(nats_server.url, "mentoring.pair.ended") == []


async def test_the_level_gap_rules_follow_the_deployments_job_level_scale(
    feed: Feed, admin: httpx.AsyncClient,
) -> None:
    """The scale comes with programme.updated (enrolment's setting), not a fixed 1-20."""
    scales = {"p-scale-10": 10, "p-scale-20": 20, "p-scale-100": 100}
    for programme_id, top in scales.items():
        await feed.programme(programme_id, job_level_max=top)
        await wait_pool(admin, programme_id, mentors=0)

    async def config(programme_id: str) -> dict[str, Any]:
        path = f"/api/v1/programmes/{programme_id}/matching-config"

        async def known() -> dict[str, Any] | None:
            body = (await admin.get(path)).json()
            return dict(body) if body["ideal_level_gap"] is not None else None

        return await wait_until(known)

    # The default ideal gap is the same share of each scale: 4 of 20.
    defaults = {p: (await config(p))["ideal_level_gap"] for p in scales}
    assert defaults == {"p-scale-10": 2, "p-scale-20": 4, "p-scale-100": 21}
    # The widest gap a scale allows is accepted, one more is refused naming the field.
    for programme_id, top in scales.items():
        path = f"/api/v1/programmes/{programme_id}/matching-config"
        widest = await admin.patch(path, json={"ideal_level_gap": top - 1})
        assert widest.status_code == 200 and widest.json()["ideal_level_gap"] == top - 1
        beyond = await admin.put(path, json={"ideal_level_gap": top})
        assert beyond.status_code == 422 and beyond.json()["field"] == "ideal_level_gap"
        assert (await config(programme_id))["ideal_level_gap"] == top - 1
        # Back to the default: the scale's own, not 4.
        reset = await admin.patch(path, json={"ideal_level_gap": None})
        assert reset.json()["ideal_level_gap"] == defaults[programme_id]
