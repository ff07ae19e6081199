"""The people and things each relation of the authorisation table needs, made through the APIs.

Programme P is open (shortlist mode). In it: mentee A paired with mentor B (pair AB,
whose first session scheduling plans, and whose goal A set and closed as achieved),
mentor C proposed to mentee E (E picked C from the shortlist), and mentee F, whose pair
with C has ended (its planned session was cancelled) and who then withdrew. E read her
shortlist (B and C) before picking C, so she may read their participant cards. D is a
mentor in programme Q only. A was invited into Q and declined. Y was erased. Programme
R has nobody; it holds a published match run and a dry one. Z is a user the HRIS made
over SCIM, to be changed or deleted.

Acts that would change this world (ending a pair, logging a session, withdrawing,
erasing, answering an invitation, publishing a run, setting or progressing a goal) are
aimed at things already in their final state (pair FC, session FC, F, Y, A's declined
invitation, the published run, AB's achieved goal): a caller who gets past authorisation
gets a 409 (correcting FC's log, which nobody wrote: a 404), and the world stays as it is.

Mentor = the junior who teaches (levels 3), mentee = the senior who learns (level 10).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.platform import RunningPlatform, wait_for

TOPIC = "social media"
SURVEY: dict[str, Any] = {"languages": ["en"], "interests": ["cycling"]}
MENTOR_SURVEY: dict[str, Any] = SURVEY | {
    "topics_teach": [{"topic": TOPIC, "level": 4}], "mentor_capacity": 3}
MENTEE_SURVEY: dict[str, Any] = SURVEY | {"topics_learn": [{"topic": TOPIC, "level": 1}]}
GOAL: dict[str, Any] = {"text": "Post on LinkedIn every week", "measure": "posts a month",
                        "unit": "posts", "baseline": 0, "target": 4, "due_on": "2100-01-01"}

@dataclass
class World:
    tag: str
    employees: dict[str, str] = field(default_factory=dict)      # person -> employee id
    participants: dict[str, str] = field(default_factory=dict)   # person -> participant id
    programmes: dict[str, str] = field(default_factory=dict)     # P, Q, R -> programme id
    pair_ab: str = ""
    pair_fc: str = ""
    session_fc: str = ""
    plan_fc: str = ""
    plan_ab: str = ""
    feed_a: str = ""  # the path of A's secret calendar feed
    proposal_ec: str = ""
    session_ab: str = ""
    goal_ab: str = ""
    invitation_a: str = ""
    run_published: str = ""
    run_dry: str = ""
    scim_z: str = ""
    scim_z_user_name: str = ""
    pulse_survey: str = ""  # of P, answered by A, closed
    group_session_p: str = ""  # a group session of P, cancelled (its final state)


def _ok(response: httpx.Response, *expected: int) -> Any:
    assert response.status_code in (expected or (200, 201)), (
        f"{response.request.method} {response.request.url}: "
        f"{response.status_code} {response.text}")
    return response.json() if response.content else None


class _Api:
    def __init__(self, platform: RunningPlatform) -> None:
        self.platform = platform

    def call(self, service: str, method: str, path: str, *, token: str,
             **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.platform.urls[service], timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            return client.request(method, path, **kwargs)


def build_world(platform: RunningPlatform) -> World:
    """Seed one world; every call goes through a service's public API."""
    api = _Api(platform)
    tag = uuid.uuid4().hex[:8]
    world = World(tag=tag)
    hris = platform.token("hris")
    admin = platform.token("hr_admin")

    def ext(person: str) -> str:
        return f"{tag}-{person}"

    rows = [
        ("X0", 15, ""), ("X1", 12, "X0"),
        ("A", 10, "X0"), ("E", 10, "X0"), ("F", 10, "X0"),
        ("B", 3, "X1"), ("C", 3, "X1"), ("D", 3, "X1"), ("Y", 3, "X1"),
    ]
    csv = "external_id,email,given_name,family_name,job_title,job_level,department," \
          "manager_external_id,location,time_zone\n"
    csv += "".join(
        f"{ext(p)},{p.lower()}.{tag}@example.com,{p},Tester,Title,{level},"
        f"{'Board' if level > 5 else 'Digital'},{ext(m) if m else ''},London,Europe/London\n"
        for p, level, m in rows)
    _ok(api.call("enrolment", "POST", "/api/v1/employees/import", token=hris, content=csv,
                 headers={"content-type": "text/csv"}))
    for person, _, _ in rows:
        found = _ok(api.call("enrolment", "GET", "/scim/v2/Users", token=hris,
                             params={"filter": f'externalId eq "{ext(person)}"'}))
        world.employees[person] = found["Resources"][0]["id"]

    def programme(name: str) -> str:
        created = _ok(api.call("enrolment", "POST", "/api/v1/programmes", token=admin, json={
            "name": f"{name} {tag}", "mentor_max_level": 5, "mentee_min_level": 8,
            "min_level_gap": 3, "matching_mode": "shortlist"}), 201)
        return str(created["id"])

    for name in ("P", "Q", "R"):
        world.programmes[name] = programme(name)

    def enrol(person: str, programme_key: str, role: str) -> str:
        survey = MENTOR_SURVEY if role == "mentor" else MENTEE_SURVEY
        token = platform.token("participant", employee_id=world.employees[person])
        created = _ok(api.call(
            "enrolment", "POST", f"/api/v1/programmes/{world.programmes[programme_key]}"
            "/participants", token=token,
            json=survey | {"employee_id": world.employees[person], "role": role}), 201)
        return str(created["id"])

    for person, programme_key, role in (("A", "P", "mentee"), ("B", "P", "mentor"),
                                        ("C", "P", "mentor"), ("E", "P", "mentee"),
                                        ("F", "P", "mentee"), ("D", "Q", "mentor")):
        world.participants[person] = enrol(person, programme_key, role)

    invitation = _ok(api.call(
        "enrolment", "POST", f"/api/v1/programmes/{world.programmes['Q']}/invitations",
        token=admin, json={"employee_id": world.employees["A"], "role": "mentee"}), 201)
    world.invitation_a = str(invitation["id"])
    a_token = platform.token("participant", employee_id=world.employees["A"])
    _ok(api.call("enrolment", "POST", f"/api/v1/invitations/{world.invitation_a}/decline",
                 token=a_token))
    _ok(api.call("enrolment", "POST", f"/api/v1/employees/{world.employees['Y']}/erase",
                 token=admin))

    # The events reach matching: HR pairs A with B, E picks C from the shortlist.
    def paired(mentee: str, mentor: str) -> Any:
        response = api.call("matching", "POST", "/api/v1/pairs", token=admin, json={
            "programme_id": world.programmes["P"],
            "mentee_participant_id": world.participants[mentee],
            "mentor_participant_id": world.participants[mentor]})
        return response.json() if response.status_code == 201 else None

    world.pair_ab = str(wait_for(lambda: paired("A", "B"))["id"])
    world.pair_fc = str(wait_for(lambda: paired("F", "C"))["id"])
    e_token = platform.token("participant", employee_id=world.employees["E"])

    def picked() -> Any:
        response = api.call(
            "matching", "POST", f"/api/v1/programmes/{world.programmes['P']}/mentees/"
            f"{world.participants['E']}/pick", token=e_token,
            json={"mentor_participant_id": world.participants["C"]})
        return response.json() if response.status_code == 201 else None

    # E reads her shortlist first (B and C): matching announces it, enrolment opens the cards.
    def shortlist() -> Any:
        response = api.call(
            "matching", "GET", f"/api/v1/programmes/{world.programmes['P']}/mentees/"
            f"{world.participants['E']}/suggestions", token=e_token)
        found = response.json() if response.status_code == 200 else {}
        offered = {s["mentor_participant_id"] for s in found.get("suggestions", [])}
        return offered >= {world.participants["B"], world.participants["C"]} or None

    wait_for(shortlist)
    world.proposal_ec = str(wait_for(picked)["id"])

    def run(dry: bool) -> Any:
        response = api.call("matching", "POST",
                            f"/api/v1/programmes/{world.programmes['R']}/match-runs",
                            token=admin, json={"objective": "max_score", "dry_run": dry})
        return response.json() if response.status_code == 201 else None

    world.run_dry = str(wait_for(lambda: run(True))["id"])
    published = str(run(True)["id"])
    _ok(api.call("matching", "POST", f"/api/v1/match-runs/{published}/publish", token=admin))
    world.run_published = published

    def planned(pair_id: str, status: str = "planned") -> Any:
        sessions = _ok(api.call("scheduling", "GET", f"/api/v1/pairs/{pair_id}/sessions",
                                token=admin))
        return sessions[0]["id"] if sessions and sessions[0]["status"] == status else None

    world.session_ab = str(wait_for(lambda: planned(world.pair_ab)))
    # A sets a goal for AB and closes it: a goal in its final state.
    goal = _ok(api.call("scheduling", "POST", f"/api/v1/pairs/{world.pair_ab}/goals",
                        token=a_token, json=GOAL), 201)
    world.goal_ab = str(goal["id"])
    _ok(api.call("scheduling", "POST", f"/api/v1/goals/{world.goal_ab}/status", token=a_token,
                 json={"status": "achieved"}))
    world.session_fc = str(wait_for(lambda: planned(world.pair_fc)))
    _ok(api.call("matching", "POST", f"/api/v1/pairs/{world.pair_fc}/end", token=admin,
                 json={"reason": "completed"}))
    wait_for(lambda: planned(world.pair_fc, "cancelled"))
    world.plan_fc = str(_ok(api.call("scheduling", "GET", f"/api/v1/pairs/{world.pair_fc}/plan",
                                     token=admin))["id"])
    world.plan_ab = str(_ok(api.call("scheduling", "GET", f"/api/v1/pairs/{world.pair_ab}/plan",
                                     token=admin))["id"])
    # A group session of P, cancelled: RSVPs, changes and cancelling it are 409s.
    gathering = _ok(api.call(
        "scheduling", "POST", f"/api/v1/programmes/{world.programmes['P']}/group-sessions",
        token=admin, json={"title": "Monthly gathering", "starts_at": "2100-01-05T17:00:00Z",
                           "duration_minutes": 60}), 201)
    world.group_session_p = str(gathering["id"])
    _ok(api.call("scheduling", "POST", f"/api/v1/group-sessions/{world.group_session_p}/cancel",
                 token=admin, json={"reason": "Moved online"}))
    a_token = platform.token("participant", employee_id=world.employees["A"])
    world.feed_a = str(_ok(api.call("scheduling", "POST", "/api/v1/calendar-feeds",
                                    token=a_token), 201)["path"])
    f_token = platform.token("participant", employee_id=world.employees["F"])
    _ok(api.call("enrolment", "POST", f"/api/v1/participants/{world.participants['F']}"
                 "/withdraw", token=f_token, json={}))

    # A pulse survey of P that A answered (once analytics has heard of A) and HR closed.
    survey = _ok(api.call("analytics", "POST",
                          f"/api/v1/programmes/{world.programmes['P']}/pulse-surveys",
                          token=admin, json={"title": "Pulse", "questions": [
                              {"kind": "scale", "prompt": "How useful are the sessions?"}]}),
                 201)
    world.pulse_survey = str(survey["id"])
    survey_path = f"/api/v1/programmes/{world.programmes['P']}/pulse-surveys/{survey['id']}"

    def answered() -> bool:
        response = api.call("analytics", "POST", f"{survey_path}/responses", token=a_token,
                            json={"answers": [{"question_id": "q1", "value": 4}]})
        return response.status_code == 201

    wait_for(answered)
    _ok(api.call("analytics", "POST", f"{survey_path}/close", token=admin))

    # Enrolment has heard matching: E sees B's card (shortlist), C sees E's (her pick) and
    # no longer F's (their pair ended).
    def card_status(viewer: str, subject: str) -> int:
        token = platform.token("participant", employee_id=world.employees[viewer])
        return api.call("enrolment", "GET",
                        f"/api/v1/participants/{world.participants[subject]}/card",
                        token=token).status_code

    wait_for(lambda: card_status("E", "B") == 200 and card_status("C", "E") == 200
             and card_status("C", "F") == 403 and card_status("A", "B") == 200)

    world.scim_z_user_name = f"z.{tag}@example.com"
    user = _ok(api.call("enrolment", "POST", "/scim/v2/Users", token=hris,
                        json=scim_user(world.scim_z_user_name),
                        headers={"content-type": "application/scim+json"}), 201)
    world.scim_z = str(user["id"])
    return world


def scim_user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name, "name": {"givenName": "Zed", "familyName": "Tester"},
        "emails": [{"value": user_name, "primary": True}], "active": True, **extra,
    }
