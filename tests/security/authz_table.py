"""Who may do what: every route of every part and every GraphQL root field, by role and relation.

The rules come from DESIGN.md "Security and privacy", docs/architecture.md and each
service's README:

- every API but health, readiness and metrics needs a bearer JWT; a malformed token
  (roles not a non-empty list of known roles, expired, wrong audience, no subject) is a
  401 problem+json, and so is no token;
- admins are `hr_admin` and `programme_manager`; HRIS jobs (`hris`) import employees
  and provision over SCIM, and nothing else; a participant acts only for their own
  `employee_id`, and participant rights need the `participant` role (an admin's or an
  HRIS token that carries an `employee_id` does not make its holder a participant);
- consent is the person's own act: only the invited employee answers an invitation;
  logging a session is the pair's own act (admins too get 403);
- matching hides other people's pairs (404), scheduling and enrolment refuse (403).

A row is an operation x a caller's role x the caller's relation to the thing the call is
about: `own` (it is the caller's), `partner` (it belongs to the caller's partner, or the
caller is the other member of the pair), `same_programme` (the caller is another
participant of the programme), `stranger` (the caller is in another programme). Which
person of the seeded world (tests/security/world.py) plays each relation is the
operation's own: for a participant record the owner is mentee A, for answering a
proposal it is the mentor, for a session it is a member. Every token of a role carries
that person's `employee_id` (admins and HRIS jobs too: a role, not an id, must decide).
`ALLOWED` means the call got past authorisation: one of the operation's `ok` statuses
(a 409 where the call is aimed at a thing in its final state, so that the seeded world
never changes). A GraphQL root field has the rows of the route it calls.

A route that is in an OpenAPI document, or a root field in the gateway's schema, and not
in this table fails `test_every_route_is_in_the_table`: a new route joins the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.security.world import GOAL, MENTEE_SURVEY, TOPIC, World, scim_user

ALLOWED = "allowed"
Outcome = str | int  # ALLOWED, 401, 403 or 404

ADMIN_ROLES = ("hr_admin", "programme_manager")
ROLES = ("hr_admin", "programme_manager", "participant", "hris")
# Tokens that must all be refused with 401 problem+json (and "none": no token at all).
MALFORMED = ("roles_empty", "roles_number", "roles_null", "roles_object", "role_unknown",
             "expired", "wrong_audience", "missing_sub")
CALLERS = (*ROLES, "none", *MALFORMED)
RELATIONS = ("own", "partner", "same_programme", "stranger")
PROGRAMME_RELATIONS = ("own", "stranger")  # a programme's own participants, or others

# Default cast: the thing belongs to mentee A; B is A's mentor; C is another mentor of P;
# D is in programme Q only.
CAST = {"own": "A", "partner": "B", "same_programme": "C", "stranger": "D"}

Rule = Callable[[str, str], Outcome]


def public(role: str, relation: str) -> Outcome:
    return ALLOWED


def only(*roles: str) -> Rule:
    """Roles that may, whatever their relation; every other valid token gets 403."""

    def rule(role: str, relation: str) -> Outcome:
        return ALLOWED if role in roles else 403

    return rule


ADMINS = only(*ADMIN_ROLES)
HR_ADMIN = only("hr_admin")
HRIS = only("hris")
READERS = only(*ADMIN_ROLES, "participant")  # any person; not an HRIS job


def self_or_admin(other: int = 403) -> Rule:
    """Admins for anyone; a participant for their own thing only."""

    def rule(role: str, relation: str) -> Outcome:
        if role in ADMIN_ROLES:
            return ALLOWED
        if role == "participant":
            return ALLOWED if relation == "own" else other
        return 403

    return rule


def members_or_admin(other: int) -> Rule:
    """Admins, and the two members of the pair; others get `other`."""

    def rule(role: str, relation: str) -> Outcome:
        if role in ADMIN_ROLES:
            return ALLOWED
        if role == "participant":
            return ALLOWED if relation in ("own", "partner") else other
        return 403

    return rule


def members_only(role: str, relation: str) -> Outcome:
    """The pair's own act: its two members, nobody else (admins neither)."""
    return ALLOWED if role == "participant" and relation in ("own", "partner") else 403


def mentor_or_admin(role: str, relation: str) -> Outcome:
    """The proposed mentor (own) or admins; the mentee 403; other people do not see it."""
    if role in ADMIN_ROLES:
        return ALLOWED
    if role == "participant":
        answers: dict[str, Outcome] = {"own": ALLOWED, "partner": 403}
        return answers.get(relation, 404)
    return 403


def programme_participants_only(role: str, relation: str) -> Outcome:
    """Answering a pulse survey: a participant of its programme only (admins neither)."""
    return ALLOWED if role == "participant" and relation == "own" else 403


def invited_only(role: str, relation: str) -> Outcome:
    """Consent is the person's own act: the invited employee only, as a participant."""
    return ALLOWED if role == "participant" and relation == "own" else 403


# Participant cards: who reads (the cast) whose card (CARD_SUBJECT) in each relation.
# E read her shortlist (B and C) and picked C; A and B are partners; F and C were.
CARD_RELATIONS = ("own", "shortlisted", "picked", "partner", "former_partner",
                  "shortlisted_by", "same_programme", "stranger")
CARD_VIEWER = {"own": "B", "shortlisted": "E", "picked": "C", "partner": "A",
               "former_partner": "C", "shortlisted_by": "B", "same_programme": "C",
               "stranger": "D"}
CARD_SUBJECT = {"own": "B", "shortlisted": "B", "picked": "E", "partner": "B",
                "former_partner": "F", "shortlisted_by": "E", "same_programme": "A",
                "stranger": "B"}


def card_readers(role: str, relation: str) -> Outcome:
    """Admins; a participant for the people they may work with now, nobody else."""
    if role in ADMIN_ROLES:
        return ALLOWED
    if role == "participant":
        return ALLOWED if relation in ("own", "shortlisted", "picked", "partner") else 403
    return 403


def _card_of(world: World, relation: str) -> str:
    return world.participants[CARD_SUBJECT[relation]]


@dataclass(frozen=True)
class Call:
    """One concrete request: path with its parameters filled, query, body."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


Build = Callable[[World], Call]


@dataclass(frozen=True)
class Op:
    service: str  # enrolment, matching, scheduling, analytics, gateway
    method: str
    path: str  # the OpenAPI path template
    rule: Rule
    build: Build
    relations: tuple[str, ...] = ("own",)
    cast: Mapping[str, str] = field(default_factory=lambda: CAST)
    ok: tuple[int, ...] = (200,)
    # Run just before the call, against the seeded world (a SCIM user to delete, say).
    prepare: Callable[[World, Any], Mapping[str, str]] | None = None
    # A batch read: the id it asks for. A 200 answer is then checked per id: the rule's
    # outcome is where that id lands (ALLOWED: among the items; 403 or 404: in `missing`
    # with that status), as the route for one would have answered it.
    per_id: Callable[[World], str] | None = None
    # When the thing the call is about depends on the relation (a participant card: whose
    # card each relation reads), these replace `build` and `per_id`.
    build_for: Callable[[World, str], Call] | None = None
    per_id_for: Callable[[World, str], str] | None = None

    @property
    def key(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    def call(self, world: World, relation: str) -> Call:
        return self.build_for(world, relation) if self.build_for else self.build(world)

    def wanted_id(self, world: World, relation: str) -> str | None:
        if self.per_id_for is not None:
            return self.per_id_for(world, relation)
        return self.per_id(world) if self.per_id is not None else None


@dataclass(frozen=True)
class Field:
    """A root field of the gateway's schema, and the route whose rules it inherits."""

    kind: str  # query or mutation
    name: str
    via: str  # the key of an Op
    document: str
    variables: Callable[[World], dict[str, Any]]
    # Variables that depend on the relation (whose card each relation reads).
    variables_for: Callable[[World, str], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"graphql {self.kind} {self.name}"

    def values(self, world: World, relation: str) -> dict[str, Any]:
        if self.variables_for is not None:
            return self.variables_for(world, relation)
        return self.variables(world)


def _p(world: World, key: str = "P") -> str:
    return world.programmes[key]


def _fixed(path: str, **kwargs: Any) -> Build:
    return lambda world: Call(path, **kwargs)


def _import_json(world: World) -> list[dict[str, Any]]:
    # The same record each time: created once, unchanged afterwards.
    return [{"external_id": f"{world.tag}-import", "email": f"import.{world.tag}@example.com",
             "given_name": "Imported", "family_name": "Tester", "active": True}]


def _fresh_scim_user(world: World, api: Any) -> Mapping[str, str]:
    user = api.call("enrolment", "POST", "/scim/v2/Users", token=api.token("hris"),
                    json=scim_user(f"fresh.{uuid.uuid4().hex[:8]}@example.com"),
                    headers={"content-type": "application/scim+json"})
    assert user.status_code == 201, user.text
    return {"user_id": str(user.json()["id"])}


SCIM = {"content-type": "application/scim+json"}
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"

HEALTH = [
    Op(service, "GET", path, public, _fixed(path))
    for service in ("enrolment", "matching", "scheduling", "analytics", "gateway")
    for path in ("/healthz", "/readyz", "/metrics")
]

ENROLMENT = [
    Op("enrolment", "POST", "/api/v1/employees/import", only("hris", "hr_admin"),
       lambda w: Call("/api/v1/employees/import", json=_import_json(w))),
    Op("enrolment", "GET", "/api/v1/employees/{employee_id}", self_or_admin(),
       lambda w: Call(f"/api/v1/employees/{w.employees['A']}"), RELATIONS),
    # Y was erased while seeding: a second erasure is a 409 for whoever may erase.
    Op("enrolment", "POST", "/api/v1/employees/{employee_id}/erase", HR_ADMIN,
       lambda w: Call(f"/api/v1/employees/{w.employees['Y']}/erase"), ("own", "stranger"),
       cast={"own": "Y", "stranger": "D"}, ok=(409,)),
    Op("enrolment", "GET", "/api/v1/employees/{employee_id}/invitations", self_or_admin(),
       lambda w: Call(f"/api/v1/employees/{w.employees['A']}/invitations"), RELATIONS),
    Op("enrolment", "GET", "/api/v1/batch/employees", self_or_admin(),
       lambda w: Call("/api/v1/batch/employees", params={"id": w.employees["A"]}), RELATIONS,
       per_id=lambda w: w.employees["A"]),
    Op("enrolment", "GET", "/api/v1/batch/participants", self_or_admin(),
       lambda w: Call("/api/v1/batch/participants", params={"id": w.participants["A"]}),
       RELATIONS, per_id=lambda w: w.participants["A"]),
    Op("enrolment", "GET", "/api/v1/batch/programmes", READERS,
       lambda w: Call("/api/v1/batch/programmes", params={"id": _p(w)}), PROGRAMME_RELATIONS,
       per_id=_p),
    Op("enrolment", "GET", "/api/v1/programmes", READERS, _fixed("/api/v1/programmes")),
    Op("enrolment", "POST", "/api/v1/programmes", ADMINS,
       _fixed("/api/v1/programmes", json={"name": "Probe"}), ok=(201,)),
    Op("enrolment", "GET", "/api/v1/programmes/{programme_id}", READERS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}"), PROGRAMME_RELATIONS),
    Op("enrolment", "PATCH", "/api/v1/programmes/{programme_id}", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}", json={"description": "Probe"}),
       PROGRAMME_RELATIONS),
    # Open to open changes nothing.
    Op("enrolment", "POST", "/api/v1/programmes/{programme_id}/status", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/status", json={"status": "open"}),
       PROGRAMME_RELATIONS),
    Op("enrolment", "POST", "/api/v1/programmes/{programme_id}/topics", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/topics", json={"topics": [TOPIC]}),
       PROGRAMME_RELATIONS),
    # A is a mentee of P already: 409 for whoever may enrol A.
    Op("enrolment", "POST", "/api/v1/programmes/{programme_id}/participants", self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/participants",
                      json=MENTEE_SURVEY | {"employee_id": w.employees["A"],
                                            "role": "mentee"}),
       RELATIONS, ok=(409,)),
    Op("enrolment", "GET", "/api/v1/programmes/{programme_id}/participants", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/participants"), PROGRAMME_RELATIONS),
    Op("enrolment", "POST", "/api/v1/programmes/{programme_id}/participants/import", HR_ADMIN,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/participants/import", json=[]),
       PROGRAMME_RELATIONS, ok=(200, 400, 422)),
    Op("enrolment", "POST", "/api/v1/programmes/{programme_id}/invitations", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/invitations",
                      json={"employee_id": w.employees["A"], "role": "mentee"}),
       PROGRAMME_RELATIONS, ok=(409,)),
    Op("enrolment", "GET", "/api/v1/programmes/{programme_id}/invitations", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/invitations"), PROGRAMME_RELATIONS),
    # A declined this invitation while seeding.
    Op("enrolment", "POST", "/api/v1/invitations/{invitation_id}/accept", invited_only,
       lambda w: Call(f"/api/v1/invitations/{w.invitation_a}/accept", json={}), RELATIONS,
       ok=(409,)),
    Op("enrolment", "POST", "/api/v1/invitations/{invitation_id}/decline", invited_only,
       lambda w: Call(f"/api/v1/invitations/{w.invitation_a}/decline"), RELATIONS,
       ok=(409,)),
    # The participant record is not the participant card: a partner does not read it.
    Op("enrolment", "GET", "/api/v1/participants/{participant_id}", self_or_admin(),
       lambda w: Call(f"/api/v1/participants/{w.participants['A']}"), RELATIONS),
    # The answers A gave already: no new version.
    Op("enrolment", "PUT", "/api/v1/participants/{participant_id}/survey", self_or_admin(),
       lambda w: Call(f"/api/v1/participants/{w.participants['A']}/survey",
                      json=MENTEE_SURVEY), RELATIONS),
    Op("enrolment", "PATCH", "/api/v1/participants/{participant_id}/survey", self_or_admin(),
       lambda w: Call(f"/api/v1/participants/{w.participants['A']}/survey",
                      json={"languages": MENTEE_SURVEY["languages"]}), RELATIONS),
    Op("enrolment", "GET", "/api/v1/participants/{participant_id}/survey/versions",
       self_or_admin(),
       lambda w: Call(f"/api/v1/participants/{w.participants['A']}/survey/versions"),
       RELATIONS),
    Op("enrolment", "GET", "/api/v1/employees", ADMINS,
       _fixed("/api/v1/employees", params={"search": "tester", "limit": "2"})),
    Op("enrolment", "GET", "/api/v1/employees/by-external-id/{external_id}",
       only(*ADMIN_ROLES, "hris"),
       lambda w: Call(f"/api/v1/employees/by-external-id/{w.tag}-A")),
    # A person's own participations (an admin's token names no employee: none).
    Op("enrolment", "GET", "/api/v1/me/participations", READERS,
       _fixed("/api/v1/me/participations")),
    Op("enrolment", "GET", "/api/v1/participants/{participant_id}/card", card_readers,
       _fixed("/"), CARD_RELATIONS, cast=CARD_VIEWER,
       build_for=lambda w, r: Call(f"/api/v1/participants/{_card_of(w, r)}/card")),
    Op("enrolment", "GET", "/api/v1/batch/participant-cards", card_readers,
       _fixed("/"), CARD_RELATIONS, cast=CARD_VIEWER,
       build_for=lambda w, r: Call("/api/v1/batch/participant-cards",
                                   params={"id": _card_of(w, r)}),
       per_id_for=_card_of),
    # F withdrew while seeding; C was F's mentor.
    Op("enrolment", "POST", "/api/v1/participants/{participant_id}/withdraw", self_or_admin(),
       lambda w: Call(f"/api/v1/participants/{w.participants['F']}/withdraw", json={}),
       RELATIONS, cast={"own": "F", "partner": "C", "same_programme": "A", "stranger": "D"},
       ok=(409,)),
]

SCIM_OPS = [
    Op("enrolment", "GET", "/scim/v2/ServiceProviderConfig", HRIS,
       _fixed("/scim/v2/ServiceProviderConfig")),
    Op("enrolment", "GET", "/scim/v2/ResourceTypes", HRIS, _fixed("/scim/v2/ResourceTypes")),
    Op("enrolment", "GET", "/scim/v2/ResourceTypes/{name}", HRIS,
       _fixed("/scim/v2/ResourceTypes/User")),
    Op("enrolment", "GET", "/scim/v2/Schemas", HRIS, _fixed("/scim/v2/Schemas")),
    Op("enrolment", "GET", "/scim/v2/Schemas/{schema_id}", HRIS,
       _fixed(f"/scim/v2/Schemas/{CORE_USER}")),
    Op("enrolment", "GET", "/scim/v2/Users", HRIS, _fixed("/scim/v2/Users")),
    Op("enrolment", "POST", "/scim/v2/Users", HRIS,
       lambda w: Call("/scim/v2/Users", headers=SCIM,
                      json=scim_user(f"new.{uuid.uuid4().hex[:8]}@example.com")), ok=(201,)),
    Op("enrolment", "POST", "/scim/v2/Users/.search", HRIS,
       _fixed("/scim/v2/Users/.search", headers=SCIM, json={
           "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
           "count": 1})),
    # Searching across resource types is documented as not implemented.
    Op("enrolment", "POST", "/scim/v2/.search", HRIS,
       _fixed("/scim/v2/.search", headers=SCIM, json={
           "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}), ok=(501,)),
    Op("enrolment", "GET", "/scim/v2/Users/{user_id}", HRIS,
       lambda w: Call(f"/scim/v2/Users/{w.scim_z}")),
    Op("enrolment", "PUT", "/scim/v2/Users/{user_id}", HRIS,
       lambda w: Call(f"/scim/v2/Users/{w.scim_z}", headers=SCIM,
                      json=scim_user(w.scim_z_user_name))),
    Op("enrolment", "PATCH", "/scim/v2/Users/{user_id}", HRIS,
       lambda w: Call(f"/scim/v2/Users/{w.scim_z}", headers=SCIM, json={
           "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "title", "value": "Tester"}]})),
    Op("enrolment", "DELETE", "/scim/v2/Users/{user_id}", HRIS,
       lambda w: Call("/scim/v2/Users/{user_id}"), ok=(204,), prepare=_fresh_scim_user),
]

_AB_MENTOR = {"own": "B", "partner": "A", "same_programme": "C", "stranger": "D"}
_FC_MEMBERS = {"own": "F", "partner": "C", "same_programme": "A", "stranger": "D"}

MATCHING = [
    Op("matching", "GET", "/api/v1/programmes/{programme_id}/mentees/{participant_id}"
       "/suggestions", self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/mentees/{w.participants['A']}/suggestions"),
       RELATIONS),
    # A is paired already: 409 for whoever may pick for A.
    Op("matching", "POST", "/api/v1/programmes/{programme_id}/mentees/{participant_id}/pick",
       self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/mentees/{w.participants['A']}/pick",
                      json={"mentor_participant_id": w.participants["C"]}),
       RELATIONS, ok=(409,)),
    Op("matching", "GET", "/api/v1/programmes/{programme_id}/pool", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pool"), PROGRAMME_RELATIONS),
    Op("matching", "GET", "/api/v1/programmes/{programme_id}/matching-config", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/matching-config"), PROGRAMME_RELATIONS),
    Op("matching", "PUT", "/api/v1/programmes/{programme_id}/matching-config", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/matching-config", json={}),
       PROGRAMME_RELATIONS),
    Op("matching", "PATCH", "/api/v1/programmes/{programme_id}/matching-config", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/matching-config", json={}),
       PROGRAMME_RELATIONS),
    Op("matching", "POST", "/api/v1/pairs", ADMINS,
       lambda w: Call("/api/v1/pairs", json={
           "programme_id": _p(w), "mentee_participant_id": w.participants["A"],
           "mentor_participant_id": w.participants["C"]}), ok=(409,)),
    Op("matching", "GET", "/api/v1/pairs", READERS, _fixed("/api/v1/pairs")),
    Op("matching", "GET", "/api/v1/batch/pairs", members_or_admin(404),
       lambda w: Call("/api/v1/batch/pairs", params={"id": w.pair_ab}), RELATIONS,
       per_id=lambda w: w.pair_ab),
    Op("matching", "GET", "/api/v1/pairs/{pair_id}", members_or_admin(404),
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}"), RELATIONS),
    # Pair AB is active, not proposed: 409 for whoever may answer; B is its mentor.
    Op("matching", "POST", "/api/v1/pairs/{pair_id}/accept", mentor_or_admin,
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/accept"), RELATIONS, cast=_AB_MENTOR,
       ok=(409,)),
    Op("matching", "POST", "/api/v1/pairs/{pair_id}/decline", mentor_or_admin,
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/decline", json={}), RELATIONS,
       cast=_AB_MENTOR, ok=(409,)),
    # Pair FC has ended.
    Op("matching", "POST", "/api/v1/pairs/{pair_id}/end", members_or_admin(404),
       lambda w: Call(f"/api/v1/pairs/{w.pair_fc}/end", json={"reason": "poor_fit"}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("matching", "POST", "/api/v1/programmes/{programme_id}/match-runs", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w, 'R')}/match-runs", json={"dry_run": True}),
       PROGRAMME_RELATIONS, ok=(201,)),
    Op("matching", "GET", "/api/v1/programmes/{programme_id}/match-runs", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/match-runs"), PROGRAMME_RELATIONS),
    Op("matching", "GET", "/api/v1/match-runs/{run_id}", ADMINS,
       lambda w: Call(f"/api/v1/match-runs/{w.run_dry}")),
    Op("matching", "POST", "/api/v1/match-runs/{run_id}/publish", ADMINS,
       lambda w: Call(f"/api/v1/match-runs/{w.run_published}/publish"), ok=(409,)),
]

SCHEDULING = [
    Op("scheduling", "GET", "/api/v1/pairs/{pair_id}/sessions", members_or_admin(403),
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/sessions"), RELATIONS),
    Op("scheduling", "GET", "/api/v1/batch/pair-sessions", members_or_admin(403),
       lambda w: Call("/api/v1/batch/pair-sessions", params={"id": w.pair_ab}), RELATIONS,
       per_id=lambda w: w.pair_ab),
    Op("scheduling", "GET", "/api/v1/sessions", self_or_admin(),
       lambda w: Call("/api/v1/sessions", params={"employee_id": w.employees["A"]}),
       RELATIONS),
    Op("scheduling", "GET", "/api/v1/sessions/{session_id}", members_or_admin(403),
       lambda w: Call(f"/api/v1/sessions/{w.session_ab}"), RELATIONS),
    # FC's session was cancelled when the pair ended.
    Op("scheduling", "POST", "/api/v1/sessions/{session_id}/log", members_only,
       lambda w: Call(f"/api/v1/sessions/{w.session_fc}/log", json={
           "held_at": "2026-01-05T10:00:00+00:00", "duration_minutes": 30}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    # Plans: admins read; accepting, moving and cancelling are the pair's own acts. FC's
    # pair ended, so its plan and occurrences are final (409 once past authorisation).
    Op("scheduling", "GET", "/api/v1/pairs/{pair_id}/plan", members_or_admin(403),
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/plan"), RELATIONS),
    Op("scheduling", "POST", "/api/v1/plans/{plan_id}/accept", members_only,
       lambda w: Call(f"/api/v1/plans/{w.plan_fc}/accept"),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("scheduling", "POST", "/api/v1/plans/{plan_id}/slot", members_only,
       lambda w: Call(f"/api/v1/plans/{w.plan_fc}/slot",
                      json={"weekday": 0, "local_start": "10:00"}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("scheduling", "POST", "/api/v1/sessions/{session_id}/reschedule", members_only,
       lambda w: Call(f"/api/v1/sessions/{w.session_fc}/reschedule", json={
           "starts_at": "2030-01-07T10:00:00+00:00"}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("scheduling", "POST", "/api/v1/sessions/{session_id}/cancel", members_only,
       lambda w: Call(f"/api/v1/sessions/{w.session_fc}/cancel", json={"reason": "ill"}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("scheduling", "GET", "/api/v1/plans/{plan_id}/invitation.ics", members_or_admin(403),
       lambda w: Call(f"/api/v1/plans/{w.plan_ab}/invitation.ics"), RELATIONS),
    # A feed secret is one person's own (E's here, so that A's seeded feed stays live).
    Op("scheduling", "POST", "/api/v1/calendar-feeds", only("participant"),
       _fixed("/api/v1/calendar-feeds"), cast={"own": "E"}, ok=(201,)),
    Op("scheduling", "DELETE", "/api/v1/calendar-feeds", only("participant"),
       _fixed("/api/v1/calendar-feeds"), cast={"own": "E"}),
    # The caller's own changes soon, across their plans: a participant's, nobody else's.
    Op("scheduling", "GET", "/api/v1/me/changes", only("participant"),
       _fixed("/api/v1/me/changes", params={"within_hours": "48"})),
    # Public by secret: calendar apps send no bearer token, so none is asked for (and a
    # bad one changes nothing); the 256-bit secret in the path is the key, and an unknown
    # or revoked one is a 404 (tests/scheduling/test_plans.py).
    Op("scheduling", "GET", "/api/v1/calendar/{token}.ics", public,
       lambda w: Call(w.feed_a)),
    # Nobody logged FC's session, so a member has no log of their own to correct: 404.
    Op("scheduling", "PATCH", "/api/v1/sessions/{session_id}/log", members_only,
       lambda w: Call(f"/api/v1/sessions/{w.session_fc}/log", json={"rating": 3}),
       RELATIONS, cast=_FC_MEMBERS, ok=(404,)),
    Op("scheduling", "GET", "/api/v1/pairs/{pair_id}/goals", members_or_admin(403),
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/goals"), RELATIONS),
    # FC has ended: it takes no new goal (409 for its members).
    Op("scheduling", "POST", "/api/v1/pairs/{pair_id}/goals", members_only,
       lambda w: Call(f"/api/v1/pairs/{w.pair_fc}/goals", json=GOAL), RELATIONS,
       cast=_FC_MEMBERS, ok=(409,)),
    # AB's goal was achieved while seeding: a closed goal takes no progress or status (409).
    Op("scheduling", "POST", "/api/v1/goals/{goal_id}/progress", members_only,
       lambda w: Call(f"/api/v1/goals/{w.goal_ab}/progress",
                      json={"value": 1, "recorded_on": "2026-01-05"}), RELATIONS, ok=(409,)),
    Op("scheduling", "POST", "/api/v1/goals/{goal_id}/status", members_only,
       lambda w: Call(f"/api/v1/goals/{w.goal_ab}/status", json={"status": "missed"}),
       RELATIONS, ok=(409,)),
    # Touchpoints: the pair's own act to record (FC has ended: 409 for its members); admins
    # read counts only.
    Op("scheduling", "POST", "/api/v1/pairs/{pair_id}/touchpoints", members_only,
       lambda w: Call(f"/api/v1/pairs/{w.pair_fc}/touchpoints", json={
           "kind": "call", "at": "2026-01-05T10:00:00+00:00", "minutes": 10}),
       RELATIONS, cast=_FC_MEMBERS, ok=(409,)),
    Op("scheduling", "GET", "/api/v1/pairs/{pair_id}/touchpoints", members_or_admin(403),
       lambda w: Call(f"/api/v1/pairs/{w.pair_ab}/touchpoints"), RELATIONS),
    # Group sessions: admins schedule (a start in the past: 422 once past authorisation,
    # so nothing is written), change and cancel them (P's seeded one is cancelled: 409);
    # the programme's participants read and answer them.
    Op("scheduling", "POST", "/api/v1/programmes/{programme_id}/group-sessions", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/group-sessions", json={
           "title": "Gathering", "starts_at": "2020-01-05T17:00:00Z", "duration_minutes": 60}),
       PROGRAMME_RELATIONS, ok=(422,)),
    Op("scheduling", "GET", "/api/v1/programmes/{programme_id}/group-sessions", self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/group-sessions"), PROGRAMME_RELATIONS),
    Op("scheduling", "GET", "/api/v1/group-sessions", only("participant"),
       _fixed("/api/v1/group-sessions"), PROGRAMME_RELATIONS),
    Op("scheduling", "PATCH", "/api/v1/group-sessions/{group_session_id}", ADMINS,
       lambda w: Call(f"/api/v1/group-sessions/{w.group_session_p}", json={"title": "Later"}),
       ok=(409,)),
    Op("scheduling", "POST", "/api/v1/group-sessions/{group_session_id}/cancel", ADMINS,
       lambda w: Call(f"/api/v1/group-sessions/{w.group_session_p}/cancel",
                      json={"reason": "Again"}), ok=(409,)),
    Op("scheduling", "POST", "/api/v1/group-sessions/{group_session_id}/rsvp",
       programme_participants_only,
       lambda w: Call(f"/api/v1/group-sessions/{w.group_session_p}/rsvp",
                      json={"response": "yes"}), PROGRAMME_RELATIONS, ok=(409,)),
]

ANALYTICS = [
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/summary", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/summary"), PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/batch/programme-summaries", ADMINS,
       lambda w: Call("/api/v1/batch/programme-summaries", params={"id": _p(w)}),
       PROGRAMME_RELATIONS, per_id=_p),
    Op("analytics", "POST", "/api/v1/programmes/{programme_id}/pulse-surveys", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w, 'R')}/pulse-surveys", json={
           "title": "Probe", "questions": [{"kind": "nps", "prompt": "Recommend?"}]}),
       PROGRAMME_RELATIONS, ok=(201,)),
    # A's own programme (P) or not (D is in Q only).
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/pulse-surveys", self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pulse-surveys"), PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}",
       self_or_admin(),
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pulse-surveys/{w.pulse_survey}"),
       PROGRAMME_RELATIONS),
    # The seeded survey is closed already.
    Op("analytics", "POST",
       "/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}/close", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pulse-surveys/{w.pulse_survey}/close"),
       PROGRAMME_RELATIONS, ok=(409,)),
    # A answered while seeding, and the survey is closed: 409 for whoever may answer.
    Op("analytics", "POST",
       "/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}/responses",
       programme_participants_only,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pulse-surveys/{w.pulse_survey}/responses",
                      json={"answers": [{"question_id": "q1", "value": 3}]}),
       PROGRAMME_RELATIONS, ok=(409,)),
    Op("analytics", "GET",
       "/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}/results", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/pulse-surveys/{w.pulse_survey}/results"),
       PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/celebrations", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/celebrations"), PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/health", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/health"), PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/batch/programme-health", ADMINS,
       lambda w: Call("/api/v1/batch/programme-health", params={"id": _p(w)}),
       PROGRAMME_RELATIONS, per_id=_p),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/retention", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/retention",
                      params={"window_months": "12", "as_of": "2026-06-30"}),
       PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/retention", ADMINS,
       _fixed("/api/v1/retention", params={"as_of": "2026-06-30"})),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/health/report", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/health/report",
                      params={"from": "2026-01-01", "to": "2026-12-31", "level_band": "7+"}),
       PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/health/report", ADMINS,
       _fixed("/api/v1/health/report", params={"department": "Sales"})),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/health.csv", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/health.csv"), PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/health.csv", ADMINS, _fixed("/api/v1/health.csv")),
    Op("analytics", "GET", "/api/v1/programmes/{programme_id}/retention.csv", ADMINS,
       lambda w: Call(f"/api/v1/programmes/{_p(w)}/retention.csv",
                      params={"window_months": "12", "as_of": "2026-06-30"}),
       PROGRAMME_RELATIONS),
    Op("analytics", "GET", "/api/v1/retention.csv", ADMINS,
       _fixed("/api/v1/retention.csv", params={"as_of": "2026-06-30"})),
    Op("analytics", "GET",
       "/api/v1/programmes/{programme_id}/pulse-surveys/{survey_id}/results.csv", ADMINS,
       lambda w: Call(
           f"/api/v1/programmes/{_p(w)}/pulse-surveys/{w.pulse_survey}/results.csv"),
       PROGRAMME_RELATIONS),
    # The same past participation each time: imported once, unchanged afterwards.
    Op("analytics", "POST", "/api/v1/participation-history", HR_ADMIN,
       lambda w: Call("/api/v1/participation-history", json=[{
           "employee_id": w.employees["A"], "programme_id": _p(w), "role": "mentee",
           "started_on": "2024-01-08", "ended_on": "2024-12-20"}])),
    # The workforce's head counts, entered by HR: the same each time; once removed, the
    # next removal finds none (404).
    Op("analytics", "GET", "/api/v1/workforce-baseline", ADMINS,
       _fixed("/api/v1/workforce-baseline")),
    Op("analytics", "PUT", "/api/v1/workforce-baseline", HR_ADMIN,
       _fixed("/api/v1/workforce-baseline", json={
           "attribute": "authz", "as_of": "2026-06-30",
           "values": [{"value": "a", "people": 40}, {"value": "b", "people": 60}]})),
    Op("analytics", "DELETE", "/api/v1/workforce-baseline", HR_ADMIN,
       _fixed("/api/v1/workforce-baseline", params={"attribute": "authz"}), ok=(200, 404)),
    # Replaying the stream leaves every figure as it was; a second call while one runs
    # is a 409.
    Op("analytics", "POST", "/api/v1/admin/rebuild", HR_ADMIN,
       _fixed("/api/v1/admin/rebuild"), ok=(202, 409)),
    Op("analytics", "GET", "/api/v1/admin/rebuild", HR_ADMIN, _fixed("/api/v1/admin/rebuild")),
]

GATEWAY = [
    Op("gateway", "POST", "/api/v1/employees/import", only("hris", "hr_admin"),
       lambda w: Call("/api/v1/employees/import", json=_import_json(w))),
    # GraphiQL: the page itself runs nothing and loads without a token.
    Op("gateway", "GET", "/graphql", public,
       _fixed("/graphql", headers={"accept": "text/html"})),
    # The transport; every root field has its own rows below.
    Op("gateway", "POST", "/graphql", only(*ROLES),
       _fixed("/graphql", json={"query": "{ __typename }"})),
    # Not in the gateway's OpenAPI (forwarded as-is), but a public address all the same.
    Op("gateway", "GET", "/scim/v2/Users", HRIS, _fixed("/scim/v2/Users")),
]

OPS: list[Op] = [*HEALTH, *ENROLMENT, *SCIM_OPS, *MATCHING, *SCHEDULING, *ANALYTICS,
                 *GATEWAY]
BY_KEY = {op.key: op for op in OPS}
assert len(BY_KEY) == len(OPS), "an operation is in the table twice"


def _q(kind: str, name: str, via: str, args: str, call: str,
       variables: Callable[[World], dict[str, Any]]) -> Field:
    head = f"{kind} ({args})" if args else kind
    # A mutation says why it was refused in its payload's errors, not as a GraphQL error.
    selection = "__typename errors { code }" if kind == "mutation" else "__typename"
    return Field(kind, name, via, f"{head} {{ {name}{call} {{ {selection} }} }}", variables)


def _survey() -> dict[str, Any]:
    return {"languages": MENTEE_SURVEY["languages"], "interests": MENTEE_SURVEY["interests"],
            "topicsLearn": [{"topic": TOPIC, "level": 1}]}


E, M, S, A = "enrolment", "matching", "scheduling", "analytics"
FIELDS: list[Field] = [
    _q("query", "programmes", f"{E} GET /api/v1/programmes", "", "", lambda w: {}),
    _q("query", "programme", f"{E} GET /api/v1/programmes/{{programme_id}}", "$id: ID!",
       "(programmeId: $id)", lambda w: {"id": _p(w)}),
    _q("query", "employee", f"{E} GET /api/v1/employees/{{employee_id}}", "$id: ID!",
       "(employeeId: $id)", lambda w: {"id": w.employees["A"]}),
    _q("query", "participant", f"{E} GET /api/v1/participants/{{participant_id}}", "$id: ID!",
       "(participantId: $id)", lambda w: {"id": w.participants["A"]}),
    _q("query", "me", f"{E} GET /api/v1/me/participations", "", "", lambda w: {}),
    _q("query", "employees", f"{E} GET /api/v1/employees", "", '(search: "tester", first: 2)',
       lambda w: {}),
    _q("query", "employeeByExternalId",
       f"{E} GET /api/v1/employees/by-external-id/{{external_id}}", "$x: String!",
       "(externalId: $x)", lambda w: {"x": f"{w.tag}-A"}),
    Field("query", "participantCard", f"{E} GET /api/v1/participants/{{participant_id}}/card",
          "query ($id: ID!) { participantCard(participantId: $id) { __typename } }",
          lambda w: {}, variables_for=lambda w, r: {"id": _card_of(w, r)}),
    _q("query", "suggestions",
       f"{M} GET /api/v1/programmes/{{programme_id}}/mentees/{{participant_id}}/suggestions",
       "$p: ID!, $m: ID!", "(programmeId: $p, menteeParticipantId: $m, limit: 3)",
       lambda w: {"p": _p(w), "m": w.participants["A"]}),
    _q("query", "pairs", f"{M} GET /api/v1/pairs", "", "", lambda w: {}),
    _q("query", "pair", f"{M} GET /api/v1/pairs/{{pair_id}}", "$id: ID!", "(pairId: $id)",
       lambda w: {"id": w.pair_ab}),
    _q("query", "sessions", f"{S} GET /api/v1/pairs/{{pair_id}}/sessions", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("query", "session", f"{S} GET /api/v1/sessions/{{session_id}}", "$id: ID!",
       "(sessionId: $id)", lambda w: {"id": w.session_ab}),
    # The caller's own sessions and invitations: only the `own` rows of those routes.
    _q("query", "mySessions", f"{S} GET /api/v1/sessions", "", "", lambda w: {}),
    _q("query", "invitations", f"{E} GET /api/v1/programmes/{{programme_id}}/invitations",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "myInvitations", f"{E} GET /api/v1/employees/{{employee_id}}/invitations",
       "", "", lambda w: {}),
    _q("query", "surveyVersions",
       f"{E} GET /api/v1/participants/{{participant_id}}/survey/versions", "$id: ID!",
       "(participantId: $id)", lambda w: {"id": w.participants["A"]}),
    _q("query", "matchingConfig", f"{M} GET /api/v1/programmes/{{programme_id}}/matching-config",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "poolStats", f"{M} GET /api/v1/programmes/{{programme_id}}/pool", "$p: ID!",
       "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "matchRuns", f"{M} GET /api/v1/programmes/{{programme_id}}/match-runs",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "matchRun", f"{M} GET /api/v1/match-runs/{{run_id}}", "$id: ID!",
       "(matchRunId: $id, offset: 0)", lambda w: {"id": w.run_dry}),
    _q("query", "programmeSummary", f"{A} GET /api/v1/programmes/{{programme_id}}/summary",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "programmeHealth", f"{A} GET /api/v1/programmes/{{programme_id}}/health",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "healthReport", f"{A} GET /api/v1/health/report", "",
       '(department: "Sales")', lambda w: {}),
    _q("query", "programmeRetention",
       f"{A} GET /api/v1/programmes/{{programme_id}}/retention", "$p: ID!",
       '(programmeId: $p, windowMonths: 12, asOf: "2026-06-30")', lambda w: {"p": _p(w)}),
    _q("mutation", "importParticipationHistory", f"{A} POST /api/v1/participation-history",
       "$r: [ParticipationHistoryInput!]!", "(rows: $r)", lambda w: {"r": [
           {"employeeId": w.employees["A"], "programmeId": _p(w), "role": "MENTEE",
            "startedOn": "2024-01-08", "endedOn": "2024-12-20"}]}),
    _q("query", "workforceBaseline", f"{A} GET /api/v1/workforce-baseline", "", "",
       lambda w: {}),
    _q("mutation", "setWorkforceBaseline", f"{A} PUT /api/v1/workforce-baseline",
       "$i: WorkforceBaselineInput!", "(input: $i)", lambda w: {"i": {
           "attribute": "authz", "asOf": "2026-06-30",
           "values": [{"value": "a", "people": 40}, {"value": "b", "people": 60}]}}),
    _q("mutation", "removeWorkforceBaseline", f"{A} DELETE /api/v1/workforce-baseline",
       "", '(attribute: "authz-gateway")', lambda w: {}),
    _q("mutation", "importEmployees", f"{E} POST /api/v1/employees/import",
       "$r: [EmployeeInput!]!", "(records: $r)", lambda w: {"r": [
           {"externalId": f"{w.tag}-import", "email": f"import.{w.tag}@example.com",
            "givenName": "Imported", "familyName": "Tester", "active": True}]}),
    _q("mutation", "createProgramme", f"{E} POST /api/v1/programmes", "",
       '(input: {name: "Probe"})', lambda w: {}),
    _q("mutation", "updateProgramme", f"{E} PATCH /api/v1/programmes/{{programme_id}}",
       "$p: ID!", '(programmeId: $p, input: {description: "Probe"})', lambda w: {"p": _p(w)}),
    _q("mutation", "changeProgrammeStatus",
       f"{E} POST /api/v1/programmes/{{programme_id}}/status", "$p: ID!",
       '(programmeId: $p, status: OPEN)', lambda w: {"p": _p(w)}),
    _q("mutation", "addProgrammeTopics", f"{E} POST /api/v1/programmes/{{programme_id}}/topics",
       "$p: ID!, $t: [String!]!", "(programmeId: $p, topics: $t)",
       lambda w: {"p": _p(w), "t": [TOPIC]}),
    _q("mutation", "enrol", f"{E} POST /api/v1/programmes/{{programme_id}}/participants",
       "$p: ID!, $i: EnrolInput!", "(programmeId: $p, input: $i)",
       lambda w: {"p": _p(w), "i": _survey() | {"employeeId": w.employees["A"],
                                                "role": "MENTEE"}}),
    _q("mutation", "importParticipants",
       f"{E} POST /api/v1/programmes/{{programme_id}}/participants/import", "$p: ID!",
       "(programmeId: $p, records: [])", lambda w: {"p": _p(w)}),
    _q("mutation", "invite", f"{E} POST /api/v1/programmes/{{programme_id}}/invitations",
       "$p: ID!, $e: ID!", "(programmeId: $p, input: {employeeId: $e, role: MENTEE})",
       lambda w: {"p": _p(w), "e": w.employees["A"]}),
    _q("mutation", "acceptInvitation", f"{E} POST /api/v1/invitations/{{invitation_id}}/accept",
       "$id: ID!", "(invitationId: $id)", lambda w: {"id": w.invitation_a}),
    _q("mutation", "declineInvitation",
       f"{E} POST /api/v1/invitations/{{invitation_id}}/decline", "$id: ID!",
       "(invitationId: $id)", lambda w: {"id": w.invitation_a}),
    _q("mutation", "updateSurvey", f"{E} PATCH /api/v1/participants/{{participant_id}}/survey",
       "$id: ID!, $i: SurveyInput!", "(participantId: $id, input: $i)",
       lambda w: {"id": w.participants["A"], "i": _survey()}),
    _q("mutation", "eraseEmployee", f"{E} POST /api/v1/employees/{{employee_id}}/erase",
       "$id: ID!", "(employeeId: $id)", lambda w: {"id": w.employees["Y"]}),
    _q("mutation", "withdraw", f"{E} POST /api/v1/participants/{{participant_id}}/withdraw",
       "$id: ID!", "(participantId: $id)", lambda w: {"id": w.participants["F"]}),
    _q("mutation", "formPair", f"{M} POST /api/v1/pairs", "$i: FormPairInput!", "(input: $i)",
       lambda w: {"i": {"programmeId": _p(w), "menteeParticipantId": w.participants["A"],
                        "mentorParticipantId": w.participants["C"]}}),
    _q("mutation", "endPair", f"{M} POST /api/v1/pairs/{{pair_id}}/end", "$id: ID!",
       '(pairId: $id, reason: POOR_FIT)', lambda w: {"id": w.pair_fc}),
    _q("mutation", "pickMentor",
       f"{M} POST /api/v1/programmes/{{programme_id}}/mentees/{{participant_id}}/pick",
       "$p: ID!, $m: ID!, $t: ID!",
       "(programmeId: $p, menteeParticipantId: $m, mentorParticipantId: $t)",
       lambda w: {"p": _p(w), "m": w.participants["A"], "t": w.participants["C"]}),
    _q("mutation", "acceptPair", f"{M} POST /api/v1/pairs/{{pair_id}}/accept", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("mutation", "declinePair", f"{M} POST /api/v1/pairs/{{pair_id}}/decline", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("mutation", "updateMatchingConfig",
       f"{M} PATCH /api/v1/programmes/{{programme_id}}/matching-config", "$p: ID!",
       "(programmeId: $p, input: {})", lambda w: {"p": _p(w)}),
    _q("mutation", "runMatching", f"{M} POST /api/v1/programmes/{{programme_id}}/match-runs",
       "$p: ID!", '(programmeId: $p, objective: MAX_SCORE, dryRun: true)',
       lambda w: {"p": _p(w, "R")}),
    _q("mutation", "publishMatchRun", f"{M} POST /api/v1/match-runs/{{run_id}}/publish",
       "$id: ID!", "(matchRunId: $id)", lambda w: {"id": w.run_published}),
    _q("mutation", "logSession", f"{S} POST /api/v1/sessions/{{session_id}}/log",
       "$id: ID!, $i: LogSessionInput!", "(sessionId: $id, input: $i)",
       lambda w: {"id": w.session_fc,
                  "i": {"heldAt": "2026-01-05T10:00:00+00:00", "durationMinutes": 30}}),
    _q("query", "pulseSurveys", f"{A} GET /api/v1/programmes/{{programme_id}}/pulse-surveys",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "pulseSurveyResults",
       f"{A} GET /api/v1/programmes/{{programme_id}}/pulse-surveys/{{survey_id}}/results",
       "$p: ID!, $s: ID!", "(programmeId: $p, pulseSurveyId: $s)",
       lambda w: {"p": _p(w), "s": w.pulse_survey}),
    _q("query", "celebrations", f"{A} GET /api/v1/programmes/{{programme_id}}/celebrations",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("mutation", "createPulseSurvey",
       f"{A} POST /api/v1/programmes/{{programme_id}}/pulse-surveys",
       "$p: ID!", '(programmeId: $p, input: {title: "Probe", questions: '
       '[{kind: NPS, prompt: "Recommend?"}]})', lambda w: {"p": _p(w, "R")}),
    _q("mutation", "closePulseSurvey",
       f"{A} POST /api/v1/programmes/{{programme_id}}/pulse-surveys/{{survey_id}}/close",
       "$p: ID!, $s: ID!", "(programmeId: $p, pulseSurveyId: $s)",
       lambda w: {"p": _p(w), "s": w.pulse_survey}),
    _q("mutation", "answerPulseSurvey",
       f"{A} POST /api/v1/programmes/{{programme_id}}/pulse-surveys/{{survey_id}}/responses",
       "$p: ID!, $s: ID!", '(programmeId: $p, pulseSurveyId: $s, answers: '
       '[{questionId: "q1", value: 3}])', lambda w: {"p": _p(w), "s": w.pulse_survey}),
    _q("query", "pairPlan", f"{S} GET /api/v1/pairs/{{pair_id}}/plan", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("mutation", "acceptPlan", f"{S} POST /api/v1/plans/{{plan_id}}/accept", "$id: ID!",
       "(planId: $id)", lambda w: {"id": w.plan_fc}),
    _q("mutation", "proposePlanSlot", f"{S} POST /api/v1/plans/{{plan_id}}/slot",
       "$id: ID!, $i: ProposePlanSlotInput!", "(planId: $id, input: $i)",
       lambda w: {"id": w.plan_fc, "i": {"weekday": 0, "localStart": "10:00"}}),
    _q("mutation", "rescheduleSession", f"{S} POST /api/v1/sessions/{{session_id}}/reschedule",
       "$id: ID!, $i: RescheduleSessionInput!", "(sessionId: $id, input: $i)",
       lambda w: {"id": w.session_fc, "i": {"startsAt": "2030-01-07T10:00:00+00:00"}}),
    _q("mutation", "cancelSession", f"{S} POST /api/v1/sessions/{{session_id}}/cancel",
       "$id: ID!, $i: CancelSessionInput!", "(sessionId: $id, input: $i)",
       lambda w: {"id": w.session_fc, "i": {"reason": "ill"}}),
    _q("mutation", "issueCalendarFeed", f"{S} POST /api/v1/calendar-feeds", "", "",
       lambda w: {}),
    _q("query", "myUpcomingChanges", f"{S} GET /api/v1/me/changes", "", "(withinHours: 48)",
       lambda w: {}),
    _q("mutation", "revokeCalendarFeed", f"{S} DELETE /api/v1/calendar-feeds", "", "",
       lambda w: {}),
    _q("mutation", "correctSessionLog", f"{S} PATCH /api/v1/sessions/{{session_id}}/log",
       "$id: ID!", "(sessionId: $id, input: {rating: 3})", lambda w: {"id": w.session_fc}),
    _q("query", "goals", f"{S} GET /api/v1/pairs/{{pair_id}}/goals", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("mutation", "createGoal", f"{S} POST /api/v1/pairs/{{pair_id}}/goals",
       "$id: ID!, $i: CreateGoalInput!", "(pairId: $id, input: $i)",
       lambda w: {"id": w.pair_fc, "i": {"text": GOAL["text"], "measure": GOAL["measure"],
                                          "unit": GOAL["unit"], "baseline": GOAL["baseline"],
                                          "target": GOAL["target"], "dueOn": GOAL["due_on"]}}),
    _q("mutation", "updateGoalProgress", f"{S} POST /api/v1/goals/{{goal_id}}/progress",
       "$id: ID!", '(goalId: $id, value: 1, recordedOn: "2026-01-05")',
       lambda w: {"id": w.goal_ab}),
    _q("mutation", "setGoalStatus", f"{S} POST /api/v1/goals/{{goal_id}}/status", "$id: ID!",
       "(goalId: $id, status: MISSED)", lambda w: {"id": w.goal_ab}),
    _q("query", "touchpoints", f"{S} GET /api/v1/pairs/{{pair_id}}/touchpoints", "$id: ID!",
       "(pairId: $id)", lambda w: {"id": w.pair_ab}),
    _q("mutation", "recordTouchpoint", f"{S} POST /api/v1/pairs/{{pair_id}}/touchpoints",
       "$id: ID!", '(pairId: $id, input: {kind: CALL, at: "2026-01-05T10:00:00+00:00", '
       'minutes: 10})', lambda w: {"id": w.pair_fc}),
    _q("query", "groupSessions", f"{S} GET /api/v1/programmes/{{programme_id}}/group-sessions",
       "$p: ID!", "(programmeId: $p)", lambda w: {"p": _p(w)}),
    _q("query", "myGroupSessions", f"{S} GET /api/v1/group-sessions", "", "", lambda w: {}),
    _q("mutation", "scheduleGroupSession",
       f"{S} POST /api/v1/programmes/{{programme_id}}/group-sessions", "$p: ID!",
       '(programmeId: $p, input: {title: "Gathering", startsAt: "2020-01-05T17:00:00Z", '
       'durationMinutes: 60})', lambda w: {"p": _p(w)}),
    _q("mutation", "updateGroupSession",
       f"{S} PATCH /api/v1/group-sessions/{{group_session_id}}", "$id: ID!",
       '(groupSessionId: $id, input: {title: "Later"})', lambda w: {"id": w.group_session_p}),
    _q("mutation", "cancelGroupSession",
       f"{S} POST /api/v1/group-sessions/{{group_session_id}}/cancel", "$id: ID!",
       '(groupSessionId: $id, reason: "Again")', lambda w: {"id": w.group_session_p}),
    _q("mutation", "rsvpGroupSession",
       f"{S} POST /api/v1/group-sessions/{{group_session_id}}/rsvp", "$id: ID!",
       "(groupSessionId: $id, response: YES)", lambda w: {"id": w.group_session_p}),
]
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
assert len(FIELDS_BY_KEY) == len(FIELDS), "a root field is in the table twice"
for _field in FIELDS:
    assert _field.via in BY_KEY, f"{_field.key} follows {_field.via}, which is not in the table"

# The fields that act on the caller's own things have only the `own` rows of their route.
OWN_ONLY_FIELDS = frozenset({"mySessions", "myInvitations"})




@dataclass(frozen=True)
class Row:
    """One generated case: what a caller of a role and relation gets from one operation."""

    target: Op | Field
    role: str
    relation: str
    expected: Outcome

    @property
    def id(self) -> str:
        return f"{self.target.key} | {self.role} | {self.relation}"


def relations_of(target: Op | Field) -> tuple[str, ...]:
    if isinstance(target, Field):
        if target.name in OWN_ONLY_FIELDS:
            return ("own",)
        return BY_KEY[target.via].relations
    return target.relations


def rule_of(target: Op | Field) -> Rule:
    return BY_KEY[target.via].rule if isinstance(target, Field) else target.rule


def expand(target: Op | Field) -> list[Row]:
    """Every role x relation of one operation; tokens that are no token once each."""
    rows: list[Row] = []
    rule = rule_of(target)
    for role in CALLERS:
        if role in ROLES:
            rows += [Row(target, role, relation, rule(role, relation))
                     for relation in relations_of(target)]
        else:
            refused: Outcome = ALLOWED if rule is public else 401
            rows.append(Row(target, role, relations_of(target)[0], refused))
    return rows


# Rows where today's code breaks the rules, with what fixes them: marked xfail(strict), so
# each starts to pass (and its marker must go) when the fix lands. None are open.
KNOWN_FAILURES: list[tuple[Callable[[Row], bool], str]] = []


TARGETS: list[Op | Field] = [*OPS, *FIELDS]
ROWS: list[Row] = [row for target in TARGETS for row in expand(target)]


def table_size() -> dict[str, int]:
    return {
        "rows": len(ROWS),
        "routes": len(OPS),
        "graphql_fields": len(FIELDS),
        "roles": len(ROLES) + 1 + len(MALFORMED),
        "relations": len(RELATIONS),
    }
