"""Enrolment's rules: HRIS import, programmes and their lifecycle, enrolment, surveys, erasure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import events, imports, repository
from enrolment.models import (
    CATALOGUE_MAX,
    DEI_TOPICS,
    Employee,
    ImportReport,
    Invitation,
    InvitationCreate,
    InvitationStatus,
    Participant,
    ParticipantCreate,
    ParticipantImportRecord,
    ParticipantImportReport,
    ParticipantStatus,
    Programme,
    ProgrammeCreate,
    ProgrammeStatus,
    ProgrammeUpdate,
    RejectedRow,
    SurveyAnswers,
    SurveyChange,
    SurveyResponse,
    new_id,
    new_ids,
)
from upward_common.auth import Principal, Role
from upward_common.batch import Missing, collect
from upward_common.db import bulk_page_cache
from upward_common.events import ParticipantEnrolled, ParticipantUpdated, utcnow
from upward_common.outbox import emit_many
from upward_common.problems import Problem, conflict, invalid, not_found

# --- employees -------------------------------------------------------------------


async def import_employees(
    session: AsyncSession, rows: Sequence[tuple[int, Mapping[str, Any]]]
) -> ImportReport:
    """Upsert employees by external id; rejected rows are reported and write nothing."""
    return await imports.import_employees(session, rows)


async def get_employee(session: AsyncSession, *, user: Principal, employee_id: str) -> Employee:
    """One employee: themselves, or anyone for admins."""
    user.require_self_or_admin(employee_id)
    employee = await repository.get_employee(session, employee_id)
    if employee is None:
        raise not_found("Employee", employee_id)
    return employee


async def get_employees(
    session: AsyncSession, *, user: Principal, employee_ids: Sequence[str]
) -> tuple[list[Employee], list[Missing]]:
    """Employees by id, each as `get_employee` answers it: themselves, or anyone for admins."""
    found = await repository.employees_by_id(session, employee_ids)

    def one(employee_id: str) -> Employee:
        user.require_self_or_admin(employee_id)
        if employee_id not in found:
            raise not_found("Employee", employee_id)
        return found[employee_id]

    return collect(employee_ids, one)


async def erase_employee(session: AsyncSession, *, employee_id: str) -> Employee:
    """Forget a person on request: pseudonymise them here, tell every service, keep aggregates."""
    employee = await repository.get_employee(session, employee_id)
    if employee is None:
        raise not_found("Employee", employee_id)
    if employee.erased_at is not None:
        raise conflict("This employee has already been erased")
    now = utcnow()
    for participant in await repository.participants_of_employee(session, employee.id):
        if participant.status == ParticipantStatus.ACTIVE:
            participant.status = ParticipantStatus.WITHDRAWN
            participant.withdrawn_at = now
            events.participant_withdrawn(session, participant, "erased")
        # Role, programme and dates stay for aggregates; the answers go.
        participant.topics_teach = []
        participant.topics_learn = []
        participant.interests = []
        participant.availability = []
        participant.time_zone = None
        participant.meeting_formats = []
        participant.communication_preferences = []
        participant.languages = []
        participant.avoid_employee_ids = []
        participant.diversity = None
        participant.diversity_consent_at = None
    participants = await repository.participants_of_employee(session, employee.id)
    await repository.delete_survey_history(session, [p.id for p in participants])
    invitation_ids = await repository.delete_invitations_of(session, employee.id)
    # Our own copies of what we published about them go too.
    await events.forget_published_events_of(session, employee.id, [p.id for p in participants],
                                            invitation_ids)
    # Department, level and dates stay: retention and programme analytics need them.
    employee.external_id = imports.erased_key(employee.external_id)
    employee.user_name = None
    employee.email = f"erased-{employee.id}@invalid"
    employee.given_name = "Erased"
    employee.family_name = "Employee"
    employee.job_title = None
    employee.location = None
    employee.time_zone = None
    employee.scim_attributes = None
    employee.active = False
    employee.erased_at = now
    employee.updated_at = now
    employee.version += 1
    await session.flush()
    events.employee_erased(session, employee.id)
    return employee


# --- programmes ------------------------------------------------------------------

# What stays editable in each state: eligibility is fixed once people can enrol under
# it, the session plan once pairs run on it, and nothing changes after closing.
_LOCKED_FROM_OPEN = frozenset({"mentor_max_level", "mentee_min_level", "min_level_gap",
                               "mutual"})
_LOCKED_FROM_RUNNING = _LOCKED_FROM_OPEN | {
    "session_cadence", "session_minutes", "duration_weeks", "meeting_format",
    "matching_mode", "diversity_objective", "enrolment_opens_on", "enrolment_closes_on",
}
_TRANSITIONS: dict[ProgrammeStatus, frozenset[ProgrammeStatus]] = {
    ProgrammeStatus.DRAFT: frozenset({ProgrammeStatus.OPEN, ProgrammeStatus.CLOSED}),
    ProgrammeStatus.OPEN: frozenset({ProgrammeStatus.RUNNING, ProgrammeStatus.CLOSED}),
    ProgrammeStatus.RUNNING: frozenset({ProgrammeStatus.CLOSED}),
    ProgrammeStatus.CLOSED: frozenset(),
}


def _with_template_ids(templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Templates as stored: each keeps the id it was given, a new one gets a fresh id."""
    ids = [template.get("id") for template in templates]
    seen = {i for i in ids if i}
    if len(seen) != len([i for i in ids if i]):
        raise invalid("goal_templates", "Two goal templates have the same id")
    return [{**template, "id": template.get("id") or new_id()} for template in templates]


def _blackout_dates(days: Sequence[date]) -> list[str]:
    return sorted({day.isoformat() for day in days})


def _check_programme(programme: Programme) -> None:
    if (programme.enrolment_opens_on and programme.enrolment_closes_on
            and programme.enrolment_closes_on < programme.enrolment_opens_on):
        raise invalid("enrolment_closes_on", "The enrolment window closes before it opens")
    if not programme.topics:
        raise invalid("topics", "A programme needs at least one topic")


async def create_programme(session: AsyncSession, *, data: ProgrammeCreate) -> Programme:
    """Create a programme, as a draft or directly open for enrolment."""
    values = data.model_dump(exclude_none=True, mode="python")
    for key in ("goal_templates", "guidelines"):
        if key in values:
            values[key] = [item.model_dump(mode="json") for item in getattr(data, key)]
    if "goal_templates" in values:
        values["goal_templates"] = _with_template_ids(values["goal_templates"])
    if "blackout_dates" in values:
        values["blackout_dates"] = _blackout_dates(data.blackout_dates or [])
    now = utcnow()
    programme = Programme(**values, created_at=now, updated_at=now)
    programme.status = ProgrammeStatus(data.status)
    _check_programme(programme)
    await repository.add(session, programme)
    events.programme_updated(session, programme)
    return programme


async def get_programme(session: AsyncSession, *, programme_id: str) -> Programme:
    """One programme or 404."""
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    return programme


async def get_programmes(
    session: AsyncSession, *, user: Principal, programme_ids: Sequence[str]
) -> tuple[list[Programme], list[Missing]]:
    """Programmes by id, each as its own route answers: a draft is not there for participants."""
    found = await repository.programmes_by_id(session, programme_ids)

    def one(programme_id: str) -> Programme:
        programme = found.get(programme_id)
        if programme is None or (programme.status == ProgrammeStatus.DRAFT
                                 and not user.is_admin):
            raise not_found("Programme", programme_id)
        return programme

    return collect(programme_ids, one)


async def update_programme(
    session: AsyncSession, *, programme_id: str, data: ProgrammeUpdate
) -> Programme:
    """Change a programme within what its lifecycle state allows."""
    programme = await get_programme(session, programme_id=programme_id)
    status = ProgrammeStatus(programme.status)
    changes = data.model_dump(exclude_unset=True)
    if status == ProgrammeStatus.CLOSED and changes:
        raise conflict("A closed programme cannot change", field=next(iter(changes)))
    locked = {ProgrammeStatus.DRAFT: frozenset(), ProgrammeStatus.OPEN: _LOCKED_FROM_OPEN,
              ProgrammeStatus.RUNNING: _LOCKED_FROM_RUNNING}[status]
    for field, value in changes.items():
        if field in locked and value != getattr(programme, field):
            raise conflict(f"{field} cannot change once the programme is {status.value}",
                           field=field)
        if value is None and field in {"name", "description", "objectives", "topics",
                                       "goal_templates", "guidelines", "min_level_gap",
                                       "blackout_dates",
                                       "session_cadence", "session_minutes", "duration_weeks",
                                       "meeting_format", "mutual", "matching_mode",
                                       "diversity_objective"}:
            raise invalid(field, f"{field} cannot be null")
    if "topics" in changes and status != ProgrammeStatus.DRAFT:
        removed = set(programme.topics) - set(changes["topics"])
        if removed:
            raise conflict("Topics cannot be removed once people may have chosen them; "
                           f"still needed: {', '.join(sorted(removed))}", field="topics")
    if changes.get("capacity") is not None:
        enrolled = await repository.count_active_participants(session, programme.id)
        if changes["capacity"] < enrolled:
            raise conflict(f"Capacity {changes['capacity']} is below the {enrolled} "
                           "participants already enrolled", field="capacity")
    for field, value in changes.items():
        if field in {"goal_templates", "guidelines"}:
            value = [item.model_dump(mode="json") for item in getattr(data, field)]
        if field == "goal_templates":
            value = _with_template_ids(value)
        if field == "blackout_dates":
            value = _blackout_dates(data.blackout_dates or [])
        setattr(programme, field, value)
    _check_programme(programme)
    programme.updated_at = utcnow()
    await session.flush()
    events.programme_updated(session, programme)
    return programme


async def add_topics(session: AsyncSession, *, programme_id: str, topics: list[str]) -> Programme:
    """Extend a programme's topic catalogue (topics are never removed once it is open)."""
    programme = await get_programme(session, programme_id=programme_id)
    if programme.status == ProgrammeStatus.CLOSED:
        raise conflict("A closed programme cannot change", field="topics")
    known = {t.casefold() for t in programme.topics}
    added = []
    for index, topic in enumerate(topics):
        name = " ".join(topic.split())
        if not name or len(name) > 100:
            raise invalid(f"topics.{index}", "A topic is 1 to 100 characters")
        if name.casefold() not in known:
            known.add(name.casefold())
            added.append(name)
    if len(programme.topics) + len(added) > CATALOGUE_MAX:
        raise invalid("topics", f"A programme has at most {CATALOGUE_MAX} topics "
                                f"({len(programme.topics)} already)")
    if added:
        programme.topics = [*programme.topics, *added]
        programme.updated_at = utcnow()
        await session.flush()
        events.programme_updated(session, programme)
    return programme


async def transition_programme(
    session: AsyncSession, *, programme_id: str, status: ProgrammeStatus
) -> Programme:
    """Move a programme along draft -> open -> running -> closed."""
    programme = await get_programme(session, programme_id=programme_id)
    current = ProgrammeStatus(programme.status)
    if status == current:
        return programme
    if status not in _TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in _TRANSITIONS[current])) or "none"
        raise conflict(f"A {current.value} programme cannot become {status.value} "
                       f"(allowed: {allowed})", field="status")
    programme.status = status
    programme.updated_at = utcnow()
    await session.flush()
    events.programme_updated(session, programme)
    return programme


# --- enrolment and the survey ----------------------------------------------------


def _check_eligibility(programme: Programme, employee: Employee, role: str,
                       field: str = "role") -> None:
    if employee.erased_at is not None or not employee.active:
        raise invalid("employee_id", "The employee has left the company")
    level = employee.job_level
    if role == "mentor" and programme.mentor_max_level is not None and (
        level is None or level > programme.mentor_max_level
    ):
        raise invalid(field, f"Mentors must be at job level {programme.mentor_max_level} "
                             f"or below (this employee: {level})")
    if role == "mentee" and programme.mentee_min_level is not None and (
        level is None or level < programme.mentee_min_level
    ):
        raise invalid(field, f"Mentees must be at job level {programme.mentee_min_level} "
                             f"or above (this employee: {level})")


def _normalise_survey(
    programme: Programme, employee: Employee, role: str, answers: SurveyAnswers
) -> dict[str, Any]:
    """Survey answers as stored, checked against the programme's catalogue and rules."""
    catalogue = {t.casefold(): t for t in programme.topics}
    values = answers.model_dump(mode="json", include=set(_SURVEY_FIELDS))
    for key in ("topics_teach", "topics_learn"):
        seen: set[str] = set()
        for index, item in enumerate(values[key]):
            name = catalogue.get(" ".join(item["topic"].split()).casefold())
            if name is None:
                raise invalid(f"{key}.{index}.topic",
                              f"{item['topic']!r} is not in this programme's topics: "
                              f"{', '.join(programme.topics)}")
            if name in seen:
                raise invalid(f"{key}.{index}.topic", f"{name!r} is listed twice")
            seen.add(name)
            item["topic"] = name
    if role == "mentor" and not answers.dei_opt_in:
        for index, item in enumerate(values["topics_teach"]):
            if item["topic"].casefold() in DEI_TOPICS:
                raise invalid(f"topics_teach.{index}.topic",
                              "Teaching DEI topics needs the DEI opt-in (dei_opt_in: true)")
    if employee.id in answers.avoid_employee_ids:
        raise invalid("avoid_employee_ids", "You cannot avoid being paired with yourself")
    if answers.diversity is not None and not answers.diversity_consent:
        raise invalid("diversity_consent",
                      "Diversity attributes are stored only with explicit consent")
    return values


def _acts_for_someone_else(user: Principal, employee_id: str) -> bool:
    """An admin acting for another employee (admins pass the self-or-admin gate)."""
    return user.employee_id != employee_id


def _refuse_consent_for_others(given: Sequence[str]) -> None:
    """Consent is the person's own act: an admin may not give it, or declare for them."""
    if given:
        raise Problem(
            403, f"{given[0]} can be set only by the person themselves; an admin's update "
                 "leaves their diversity answers and consent as they are",
            kind="consent-is-personal", title="Only the person can consent", field=given[0],
            errors=[{"field": name, "message": "only the person themselves can set this"}
                    for name in given])


_SURVEY_FIELDS = frozenset(SurveyAnswers.model_fields) - {"diversity_consent"}


_ANSWERS = tuple(key for key in SurveyAnswers.model_fields if key != "diversity_consent")


def _survey_columns(values: Mapping[str, Any], consent: bool,
                    consented_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The participant columns normalised answers set (diversity kept only with consent)."""
    columns = dict(values)
    if values.get("diversity") is None:
        columns["diversity"] = None
        columns["diversity_consent_at"] = None
    elif consent and consented_at is None:
        columns["diversity_consent_at"] = now
    columns["survey_updated_at"] = now
    return columns


def _apply_survey(participant: Participant, values: dict[str, Any], consent: bool,
                  *, now: datetime | None = None) -> None:
    columns = _survey_columns(values, consent, participant.diversity_consent_at,
                              now or utcnow())
    for key, value in columns.items():
        setattr(participant, key, value)


def _survey_answers(participant: Participant) -> dict[str, Any]:
    return {key: getattr(participant, key) for key in _ANSWERS}


async def _record_version(session: AsyncSession, participant: Participant) -> None:
    session.add(SurveyResponse(participant_id=participant.id, version=participant.survey_version,
                               answers=_survey_answers(participant),
                               submitted_at=participant.survey_updated_at or utcnow()))
    await session.flush()


async def _check_can_join(
    session: AsyncSession, programme: Programme, employee: Employee, role: str
) -> None:
    if await repository.find_participant(session, programme_id=programme.id,
                                         employee_id=employee.id, role=role):
        raise conflict(f"Employee is already enrolled as {role} in this programme",
                       field="role")
    if not programme.mutual:
        others = await repository.participants_of_employee(session, employee.id,
                                                           programme_id=programme.id)
        if any(p.status == ParticipantStatus.ACTIVE for p in others):
            raise conflict("Only a mutual programme lets someone enrol both as mentor and "
                           "as mentee", field="role")
    if programme.capacity is not None and (
        await repository.count_active_participants(session, programme.id) >= programme.capacity
    ):
        raise conflict(f"The programme is full ({programme.capacity} participants)",
                       field="programme_id")


async def _join(
    session: AsyncSession, *, programme: Programme, employee: Employee, role: str,
    answers: SurveyAnswers, source: str, consent_at: Any, enrolled_by: str | None = None,
) -> Participant:
    values = _normalise_survey(programme, employee, role, answers)
    await _check_can_join(session, programme, employee, role)
    participant = Participant(programme_id=programme.id, employee_id=employee.id, role=role,
                              source=source, consent_at=consent_at, enrolled_at=utcnow(),
                              enrolled_by=enrolled_by)
    _apply_survey(participant, values, answers.diversity_consent)
    await repository.add(session, participant)
    await _record_version(session, participant)
    await events.participant_enrolled(session, participant, employee, programme)
    return participant


def _check_window(programme: Programme, today: date) -> None:
    if programme.status != ProgrammeStatus.OPEN:
        raise conflict(f"Programme is {programme.status}; enrolment needs it open",
                       field="programme_id")
    if programme.enrolment_opens_on is not None and today < programme.enrolment_opens_on:
        raise conflict(f"Enrolment opens on {programme.enrolment_opens_on}",
                       field="programme_id")
    if programme.enrolment_closes_on is not None and today > programme.enrolment_closes_on:
        raise conflict(f"Enrolment closed on {programme.enrolment_closes_on}",
                       field="programme_id")


async def _employee_for(session: AsyncSession, employee_id: str) -> Employee:
    employee = await repository.get_employee(session, employee_id)
    if employee is None:
        raise invalid("employee_id", f"Employee {employee_id} does not exist")
    return employee


async def enrol(
    session: AsyncSession, *, user: Principal, programme_id: str, data: ParticipantCreate
) -> Participant:
    """An employee opts in as mentor or mentee; window, eligibility and capacity are checked.

    An admin may enrol someone else: recorded as `source: admin` with the admin's
    subject, without consent and without the person's diversity answers.
    """
    user.require_self_or_admin(data.employee_id)
    by_admin = _acts_for_someone_else(user, data.employee_id)
    if by_admin:
        _refuse_consent_for_others(data.consent_given())
    programme = await get_programme(session, programme_id=programme_id)
    _check_window(programme, utcnow().date())
    employee = await _employee_for(session, data.employee_id)
    _check_eligibility(programme, employee, data.role)
    if by_admin:
        return await _join(session, programme=programme, employee=employee, role=data.role,
                           answers=data, source="admin", consent_at=None,
                           enrolled_by=_subject(user))
    return await _join(session, programme=programme, employee=employee, role=data.role,
                       answers=data, source="self", consent_at=utcnow())


def _subject(user: Principal) -> str:
    # OpenID Connect caps `sub` at 255 ASCII characters, the column's size.
    return user.sub[:255]


async def get_participant(
    session: AsyncSession, *, user: Principal, participant_id: str
) -> Participant:
    """One participant: themselves, or anyone for admins."""
    participant = await repository.get_participant(session, participant_id)
    if participant is None:
        raise not_found("Participant", participant_id)
    user.require_self_or_admin(participant.employee_id)
    return participant


async def get_participants(
    session: AsyncSession, *, user: Principal, participant_ids: Sequence[str]
) -> tuple[list[Participant], list[Missing]]:
    """Participants by id, each as `get_participant` answers it: themselves, or admins."""
    found = await repository.participants_by_id(session, participant_ids)

    def one(participant_id: str) -> Participant:
        participant = found.get(participant_id)
        if participant is None:
            raise not_found("Participant", participant_id)
        user.require_self_or_admin(participant.employee_id)
        return participant

    return collect(participant_ids, one)


async def update_survey(
    session: AsyncSession, *, user: Principal, participant_id: str, answers: SurveyAnswers
) -> Participant:
    """Replace the survey answers with a new version that matching sees next.

    An admin's update leaves the person's diversity answers and consent as they are.
    """
    participant = await get_participant(session, user=user, participant_id=participant_id)
    by_admin = _acts_for_someone_else(user, participant.employee_id)
    if by_admin:
        _refuse_consent_for_others(answers.consent_given())
    return await _store_survey(session, participant, answers, by_admin=by_admin)


async def change_survey(
    session: AsyncSession, *, user: Principal, participant_id: str, change: SurveyChange
) -> Participant:
    """Change only the answers sent (PATCH); every other answer is kept as it was."""
    participant = await get_participant(session, user=user, participant_id=participant_id)
    by_admin = _acts_for_someone_else(user, participant.employee_id)
    sent = change.sent()
    if by_admin:
        _refuse_consent_for_others([k for k in ("diversity", "diversity_consent") if k in sent])
    current = _survey_answers(participant)
    current["diversity_consent"] = participant.diversity_consent_at is not None
    try:
        answers = SurveyAnswers.model_validate({**current, **sent})
    except ValidationError as exc:
        field, reason = imports.first_error(exc)
        raise invalid(field, reason) from exc
    return await _store_survey(session, participant, answers, by_admin=by_admin)


async def _store_survey(session: AsyncSession, participant: Participant,
                        answers: SurveyAnswers, *, by_admin: bool) -> Participant:
    if participant.status != ParticipantStatus.ACTIVE:
        raise conflict("A withdrawn participant's survey cannot change")
    programme = await get_programme(session, programme_id=participant.programme_id)
    if programme.status == ProgrammeStatus.CLOSED:
        raise conflict("The programme is closed", field="programme_id")
    employee = await _employee_for(session, participant.employee_id)
    values = _normalise_survey(programme, employee, participant.role, answers)
    await _check_mentor_capacity(session, participant, values)
    consent = answers.diversity_consent
    if by_admin:
        values["diversity"] = participant.diversity
        consent = participant.diversity_consent_at is not None
    if all(getattr(participant, k) == v for k, v in values.items()):
        return participant  # same answers: no new version, no event
    _apply_survey(participant, values, consent)
    participant.survey_version += 1
    await session.flush()
    await _record_version(session, participant)
    await events.participant_updated(session, participant, employee, programme)
    return participant


async def _check_mentor_capacity(session: AsyncSession, participant: Participant,
                                 values: Mapping[str, Any]) -> None:
    """A mentor cannot take fewer mentees than the active pairs they have (409).

    The active pairs are the ones matching announced (pair-formed, not yet ended or
    declined): enrolment never reads matching's tables. Only a lowered capacity is
    checked, so other answers still change for a mentor already over it.
    """
    if _lowers_capacity(participant, values):
        _refuse_below_active_pairs(
            participant, values, await repository.active_pairs_of_mentor(session, participant.id))


def _lowers_capacity(participant: Participant, values: Mapping[str, Any]) -> bool:
    capacity = values.get("mentor_capacity")
    return (participant.role == "mentor" and capacity is not None
            and capacity < participant.mentor_capacity)


def _refuse_below_active_pairs(participant: Participant, values: Mapping[str, Any],
                               active: int) -> None:
    capacity = values.get("mentor_capacity")
    if _lowers_capacity(participant, values) and capacity is not None and capacity < active:
        raise conflict(f"mentor_capacity {capacity} is below this mentor's {active} active "
                       "pairs; end a pair first", field="mentor_capacity")


async def survey_history(
    session: AsyncSession, *, user: Principal, participant_id: str
) -> Sequence[SurveyResponse]:
    """Every version of a participant's survey, oldest first."""
    await get_participant(session, user=user, participant_id=participant_id)
    return await repository.survey_history(session, participant_id)


async def withdraw(
    session: AsyncSession, *, user: Principal, participant_id: str, reason: str | None
) -> Participant:
    """Leave a programme; the participant's pairs end downstream."""
    participant = await get_participant(session, user=user, participant_id=participant_id)
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise conflict("Participant has already withdrawn")
    participant.status = ParticipantStatus.WITHDRAWN
    participant.withdrawn_at = utcnow()
    await session.flush()
    events.participant_withdrawn(session, participant, reason)
    return participant


def can_see_diversity(user: Principal, participant: Participant) -> bool:
    """Self-declared attributes: the person themselves and HR admins only."""
    return user.has(Role.HR_ADMIN) or user.employee_id == participant.employee_id


# --- invitations -----------------------------------------------------------------


async def invite(
    session: AsyncSession, *, programme_id: str, data: InvitationCreate
) -> Invitation:
    """HR invites an employee; nothing is enrolled until they accept."""
    programme = await get_programme(session, programme_id=programme_id)
    if programme.status not in (ProgrammeStatus.DRAFT, ProgrammeStatus.OPEN):
        raise conflict(f"Programme is {programme.status}; invitations need draft or open",
                       field="programme_id")
    employee = await _employee_for(session, data.employee_id)
    _check_eligibility(programme, employee, data.role)
    if await repository.find_participant(session, programme_id=programme.id,
                                         employee_id=employee.id, role=data.role):
        raise conflict(f"Employee is already enrolled as {data.role}", field="employee_id")
    if await repository.pending_invitation(session, programme_id=programme.id,
                                           employee_id=employee.id, role=data.role):
        raise conflict("An invitation is already waiting for an answer", field="employee_id")
    invitation = Invitation(programme_id=programme.id, employee_id=employee.id, role=data.role,
                            message=data.message, invited_at=utcnow())
    await repository.add(session, invitation)
    events.participant_invited(session, invitation)
    return invitation


async def _own_invitation(
    session: AsyncSession, user: Principal, invitation_id: str
) -> Invitation:
    invitation = await repository.get_invitation(session, invitation_id)
    if invitation is None:
        raise not_found("Invitation", invitation_id)
    # Only the invited person answers: HR cannot enrol someone by accepting for them.
    if user.employee_id != invitation.employee_id:
        raise Problem(403, "Only the invited employee can answer an invitation",
                      kind="forbidden")
    if invitation.status != InvitationStatus.PENDING:
        raise conflict(f"The invitation was already {invitation.status}")
    return invitation


async def accept_invitation(
    session: AsyncSession, *, user: Principal, invitation_id: str, answers: SurveyAnswers
) -> Participant:
    """The invited employee accepts with their survey answers and becomes a participant."""
    invitation = await _own_invitation(session, user, invitation_id)
    programme = await get_programme(session, programme_id=invitation.programme_id)
    if programme.status != ProgrammeStatus.OPEN:
        raise conflict(f"Programme is {programme.status}; accepting needs it open",
                       field="programme_id")
    employee = await _employee_for(session, invitation.employee_id)
    _check_eligibility(programme, employee, invitation.role)
    participant = await _join(session, programme=programme, employee=employee,
                              role=invitation.role, answers=answers, source="invitation",
                              consent_at=utcnow())
    invitation.status = InvitationStatus.ACCEPTED
    invitation.participant_id = participant.id
    invitation.responded_at = utcnow()
    await session.flush()
    return participant


async def decline_invitation(
    session: AsyncSession, *, user: Principal, invitation_id: str
) -> Invitation:
    """The invited employee says no; nothing is enrolled."""
    invitation = await _own_invitation(session, user, invitation_id)
    invitation.status = InvitationStatus.DECLINED
    invitation.responded_at = utcnow()
    await session.flush()
    return invitation


async def list_invitations(
    session: AsyncSession, *, user: Principal, programme_id: str | None = None,
    employee_id: str | None = None,
) -> Sequence[Invitation]:
    """A programme's invitations (its route admits admins) or an employee's (self or admins)."""
    if programme_id is not None:
        await get_programme(session, programme_id=programme_id)
    else:
        user.require_self_or_admin(employee_id)
    return await repository.list_invitations(session, programme_id=programme_id,
                                             employee_id=employee_id)


# --- participant import ----------------------------------------------------------


async def import_participants(
    session: AsyncSession, *, user: Principal, programme_id: str,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
) -> ParticipantImportReport:
    """Enrol opted-in people from a survey run elsewhere; a record without consent is rejected.

    Set-based, like the employee import: the records are checked in memory against
    one read of the people, participations and active pairs they name, then the new
    participants, their survey versions and the events land in bulk writes. A rejected
    record writes nothing; the report and events are those of a record-by-record run.
    """
    programme = await get_programme(session, programme_id=programme_id)
    if programme.status not in (ProgrammeStatus.DRAFT, ProgrammeStatus.OPEN):
        raise conflict(f"Programme is {programme.status}; imports need draft or open",
                       field="programme_id")
    with imports.paused_gc():
        async with bulk_page_cache(session):
            return await _import_participants(session, user=user, programme=programme,
                                              rows=rows)


def _rejected(report: ParticipantImportReport, number: int, error: Exception) -> None:
    if isinstance(error, ValidationError):
        field, reason = imports.first_error(error)
        report.errors.append(RejectedRow(row=number, field=field, reason=reason))
    elif isinstance(error, Problem):
        report.errors.append(RejectedRow(row=number, field=error.field or "row",
                                         reason=error.detail))
    else:  # pragma: no cover - only the two above are raised
        raise error


async def _import_participants(
    session: AsyncSession, *, user: Principal, programme: Programme,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
) -> ParticipantImportReport:
    report = ParticipantImportReport()
    now = utcnow()
    records: list[tuple[int, ParticipantImportRecord]] = []
    for number, raw in rows:
        try:
            record = ParticipantImportRecord.model_validate(raw)
            if record.consent_at > now:
                raise invalid("consent_at", "consent_at is in the future")
            records.append((number, record))
        except (ValidationError, Problem) as error:
            _rejected(report, number, error)

    # One read of everything the records refer to.
    by_id = await repository.employees_by_id(
        session, [r.employee_id for _, r in records if r.employee_id])
    by_external = await repository.employees_by_external_id(
        session, list(dict.fromkeys(r.external_id for _, r in records
                                    if not r.employee_id and r.external_id)))
    participations = await repository.list_participants(session, programme.id)
    existing = {(p.employee_id, p.role): p for p in participations}
    active_roles: dict[str, int] = {}
    for p in participations:
        if p.status == ParticipantStatus.ACTIVE:
            active_roles[p.employee_id] = active_roles.get(p.employee_id, 0) + 1
    enrolled = sum(active_roles.values())
    pairs = await repository.active_pairs_by_mentor(
        session, [p.id for p in participations if p.role == "mentor"])

    # New participants are plain rows (building ORM objects costs more than the
    # rest of a record's work); changed ones are the loaded objects.
    template = Participant(programme_id=programme.id, employee_id="", role="mentee",
                           source="import", enrolled_at=now,
                           enrolled_by=_subject(user)).model_dump()
    template["status"] = ParticipantStatus.ACTIVE.value
    added: list[dict[str, Any]] = []
    changed: list[Participant] = []
    ordered: list[tuple[type[ParticipantEnrolled | ParticipantUpdated],
                        Participant | dict[str, Any], Employee]] = []
    seen: set[tuple[str, str]] = set()
    for number, record in records:
        try:
            if record.employee_id:
                employee = by_id.get(record.employee_id)
                field, ident = "employee_id", record.employee_id
            else:
                assert record.external_id is not None
                employee = by_external.get(record.external_id)
                field, ident = "external_id", record.external_id
            if employee is None:
                raise invalid(field, f"no employee {ident}")
            key = (employee.id, str(record.role))
            if key in seen:
                raise invalid("employee_id", "this person and role appear twice in the file")
            _check_eligibility(programme, employee, record.role)
            # Every check runs before the record's first change, so a rejected
            # record leaves nothing behind.
            current = existing.get(key)
            if current is None:
                values = _normalise_survey(programme, employee, record.role, record)
                if not programme.mutual and active_roles.get(employee.id, 0):
                    raise conflict("Only a mutual programme lets someone enrol both as mentor "
                                   "and as mentee", field="role")
                if programme.capacity is not None and enrolled >= programme.capacity:
                    raise conflict(f"The programme is full ({programme.capacity} "
                                   "participants)", field="programme_id")
                row = template.copy()
                row.update(employee_id=employee.id, role=record.role,
                           consent_at=record.consent_at)
                row.update(_survey_columns(values, record.diversity_consent, None, now))
                added.append(row)
                ordered.append((ParticipantEnrolled, row, employee))
                active_roles[employee.id] = active_roles.get(employee.id, 0) + 1
                enrolled += 1
                report.enrolled += 1
            else:
                if current.status != ParticipantStatus.ACTIVE:
                    raise conflict("this participant has withdrawn", field="employee_id")
                values = _normalise_survey(programme, employee, record.role, record)
                _refuse_below_active_pairs(current, values, pairs.get(current.id, 0))
                if any(getattr(current, k) != v for k, v in values.items()):
                    _apply_survey(current, values, record.diversity_consent, now=now)
                    current.survey_version += 1
                    current.consent_at = record.consent_at
                    changed.append(current)
                    ordered.append((ParticipantUpdated, current, employee))
                    report.updated += 1
            seen.add(key)
        except (ValidationError, Problem) as error:
            _rejected(report, number, error)
    report.errors.sort(key=lambda e: e.row)
    report.rejected = len(report.errors)

    # New ids grow in file order: the rows land in key order (see `new_ids`).
    for row, participant_id in zip(added, new_ids(len(added)), strict=True):
        row["id"] = participant_id
    await session.flush()  # the changed participants, in one executemany
    versioned = [*added, *map(events.participant_row, changed)]
    await repository.insert_participant_rows(session, added, [
        {"id": version_id, "participant_id": row["id"], "version": row["survey_version"],
         "answers": {key: row[key] for key in _ANSWERS}, "submitted_at": now}
        for row, version_id in zip(versioned, new_ids(len(versioned)), strict=True)])
    chains = await repository.manager_chains(
        session, list({e.id: e for _, _, e in ordered}.values()))
    dumped: dict[str, dict[str, Any]] = {}
    await emit_many(session, [
        kind(participant=events.participant_state_of(
            p if isinstance(p, dict) else events.participant_row(p),
            dumped.get(e.id) or dumped.setdefault(e.id, e.model_dump()), programme,
            chains[e.id]), occurred_at=now)
        for kind, p, e in ordered])
    return report


# --- the caller's own participations -------------------------------------------------


async def my_participations(session: AsyncSession, *, user: Principal) -> Sequence[Participant]:
    """The caller's participations in every programme (a person: a participant or an admin).

    A token that names no employee (an admin's, whose employee_id counts for participants
    only) has none; an HRIS job is no person and is refused.
    """
    user.require(Role.PARTICIPANT, Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    if user.employee_id is None:
        return []
    return await repository.participants_of_employee(session, user.employee_id)


# --- employee search and lookup by the HRIS's id -----------------------------------------


async def search_employees(
    session: AsyncSession, *, text: str | None, department: str | None, job_level: int | None,
    include_inactive: bool, after: str | None, limit: int,
) -> tuple[int, Sequence[Employee], bool]:
    """A page of employees matching a name or e-mail fragment, department and level."""
    anchor = None
    if after is not None:
        anchor = await repository.get_employee(session, after)
        if anchor is None:
            raise invalid("after", f"No employee {after!r} to read on from; start again "
                                   "without after")
    return await repository.find_employees(
        session, text=(text or "").strip() or None, department=department, job_level=job_level,
        include_inactive=include_inactive, after=anchor, limit=limit)


async def employee_by_external_id(session: AsyncSession, *, external_id: str) -> Employee:
    """The employee the HRIS knows by `external_id` (erased people are gone)."""
    employee = await repository.employee_by_external_id(session, external_id)
    if employee is None or employee.erased_at is not None:
        raise not_found("Employee", external_id)
    return employee
