"""Enrolment's part of the schema: employees, programmes, participants, invitations, surveys."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway import clients
from gateway.clients import gateway_problem, to_camel
from gateway.context import Info
from gateway.schema import analytics, matching
from gateway.schema.inputs import given, plain

if TYPE_CHECKING:
    from gateway.schema.analytics import ProgrammeSummary
    from gateway.schema.matching import MatchingConfig, MatchRun, Pair, PoolStats

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
ANALYTICS = strawberry.lazy("gateway.schema.analytics")
MATCHING = strawberry.lazy("gateway.schema.matching")


# --- types -----------------------------------------------------------------------------


@strawberry.enum(description="Mentor = the junior who teaches; mentee = the senior who learns.")
class ParticipantRole(Enum):
    MENTOR = "mentor"
    MENTEE = "mentee"


@strawberry.type(description="A topic someone can teach (proficiency 1-5) or learn (priority).")
class TopicSkill:
    topic: str
    level: int

    @classmethod
    def many(cls, skills: list[clients.TopicSkill]) -> list[TopicSkill]:
        return [cls(topic=s.topic, level=s.level) for s in skills]


@strawberry.type(description="An employee as the HRIS sent them.")
class Employee:
    id: strawberry.ID
    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None
    job_level: int | None
    department: str | None
    manager_id: strawberry.ID | None
    location: str | None
    time_zone: str | None
    hire_on: date | None
    leave_on: date | None
    active: bool
    user_name: str | None
    erased: bool = strawberry.field(description="Erased on request: pseudonymised everywhere.")

    @classmethod
    def of(cls, e: clients.EmployeePublic) -> Employee:
        return cls(
            id=strawberry.ID(e.id), external_id=e.external_id, email=e.email,
            given_name=e.given_name, family_name=e.family_name, job_title=e.job_title,
            job_level=e.job_level, department=e.department,
            manager_id=strawberry.ID(e.manager_id) if e.manager_id else None,
            location=e.location, time_zone=e.time_zone, hire_on=e.hire_on,
            leave_on=e.leave_on, active=e.active, user_name=e.user_name, erased=e.erased,
        )

    @strawberry.field(description="Their manager, when the HRIS named one.")
    async def manager(self, info: Info) -> Employee | None:
        if self.manager_id is None:
            return None
        return Employee.of(await info.context.loaders.employee.load(self.manager_id))


@strawberry.type(description="A measurable objective pairs can adopt "
                               "(e.g. +30 % proficiency within six months).")
class GoalTemplate:
    title: str
    topic: str | None
    measure: str | None
    target_change_percent: float | None
    within_months: int | None

    @classmethod
    def many(cls, goals: list[clients.GoalTemplate]) -> list[GoalTemplate]:
        return [cls(title=g.title, topic=g.topic, measure=g.measure,
                    target_change_percent=g.target_change_percent,
                    within_months=g.within_months) for g in goals]


@strawberry.type(description="Guidance or a training resource shown to participants; kind is "
                               "confidentiality, feedback, communication, training or other.")
class Guideline:
    kind: str
    title: str
    body: str
    url: str | None

    @classmethod
    def many(cls, guidelines: list[clients.Guideline]) -> list[Guideline]:
        return [cls(kind=g.kind, title=g.title, body=g.body, url=g.url) for g in guidelines]


@strawberry.type(description="A reverse-mentoring programme and its settings.")
class Programme:
    id: strawberry.ID
    name: str
    description: str
    status: str = strawberry.field(description="draft, open, running or closed.")
    objectives: str
    goal_templates: list[GoalTemplate]
    mentor_max_level: int | None = strawberry.field(
        description="Eligibility: mentors (juniors) at this job level or below.")
    mentee_min_level: int | None = strawberry.field(
        description="Eligibility: mentees (seniors) at this job level or above.")
    min_level_gap: int = strawberry.field(
        description="Eligibility: levels a mentee must be above their mentor.")
    enrolment_opens_on: date | None
    enrolment_closes_on: date | None
    capacity: int | None = strawberry.field(description="Most active participants; null: any.")
    session_cadence: str | None = strawberry.field(description="weekly, biweekly or monthly.")
    session_minutes: int | None = strawberry.field(description="30, 45 or 60.")
    duration_weeks: int | None
    meeting_format: str | None = strawberry.field(description="in_person, virtual or hybrid.")
    topics: list[str] = strawberry.field(description="The topic catalogue.")
    guidelines: list[Guideline]
    mutual: bool = strawberry.field(description="Whether the senior teaches back.")
    matching_mode: str | None = strawberry.field(
        description="admin (admin-led), shortlist (the mentee picks) or automatic.")
    diversity_objective: bool
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, p: clients.ProgrammePublic) -> Programme:
        return cls(
            id=strawberry.ID(p.id), name=p.name, description=p.description, status=p.status,
            objectives=p.objectives, goal_templates=GoalTemplate.many(p.goal_templates),
            mentor_max_level=p.mentor_max_level, mentee_min_level=p.mentee_min_level,
            min_level_gap=p.min_level_gap, enrolment_opens_on=p.enrolment_opens_on,
            enrolment_closes_on=p.enrolment_closes_on, capacity=p.capacity,
            session_cadence=p.session_cadence, session_minutes=p.session_minutes,
            duration_weeks=p.duration_weeks, meeting_format=p.meeting_format,
            topics=p.topics, guidelines=Guideline.many(p.guidelines), mutual=p.mutual,
            matching_mode=p.matching_mode, diversity_objective=p.diversity_objective,
            created_at=p.created_at, updated_at=p.updated_at,
        )

    @strawberry.field(description="Everyone enrolled, mentors and mentees (admins).")
    async def participants(self, info: Info) -> list[Participant] | None:
        loaders = info.context.loaders
        found = await loaders.programme_participants.load(self.id)
        # A pair's mentor or mentee asked for later in this request is then already known.
        loaders.participant.prime_many({p.id: p for p in found})
        return [Participant.of(p) for p in found]

    @strawberry.field(description="Enrolment, pair and session counts (admins).")
    async def summary(self, info: Info) -> Annotated[ProgrammeSummary, ANALYTICS] | None:
        found = await info.context.loaders.programme_summary.load(self.id)
        return analytics.ProgrammeSummary.of(found)

    @strawberry.field(description="The pairs formed in this programme.")
    async def pairs(self, info: Info) -> list[Annotated[Pair, MATCHING]] | None:
        loaders = info.context.loaders
        found = await loaders.programme_pairs.load(self.id)
        loaders.pair.prime_many({p.id: p for p in found})
        return [matching.Pair.of(p) for p in found]

    @strawberry.field(description="Who was invited and what they answered (admins).")
    async def invitations(self, info: Info) -> list[Invitation] | None:
        found = await info.context.loaders.programme_invitations.load(self.id)
        return [Invitation.of(i) for i in found]

    @strawberry.field(description="Matching's scoring weights and limits (admins).")
    async def matching_config(self, info: Info) -> Annotated[MatchingConfig, MATCHING] | None:
        return matching.MatchingConfig.of(await info.context.loaders.matching_config.load(self.id))

    @strawberry.field(description="The pool a match run works with (admins).")
    async def pool_stats(self, info: Info) -> Annotated[PoolStats, MATCHING] | None:
        return matching.PoolStats.of(await info.context.loaders.pool_stats.load(self.id))

    @strawberry.field(description="Whole-cohort match runs, newest first (admins).")
    async def match_runs(self, info: Info) -> list[Annotated[MatchRun, MATCHING]] | None:
        found = await info.context.loaders.programme_runs.load(self.id)
        return [matching.MatchRun.of(r) for r in found]


@strawberry.type(description="A weekly free slot in the participant's own time zone "
                               "(weekday 0 = Monday; start and end as HH:MM).")
class AvailabilityWindow:
    weekday: int
    start: str
    end: str

    @classmethod
    def many(cls, windows: list[clients.AvailabilityWindow]) -> list[AvailabilityWindow]:
        return [cls(weekday=w.weekday, start=w.start, end=w.end) for w in windows]


@strawberry.type(description="One self-declared diversity attribute (given with consent).")
class DiversityAttribute:
    name: str
    value: str

    @classmethod
    def many(cls, attributes: dict[str, str] | None) -> list[DiversityAttribute] | None:
        if attributes is None:
            return None
        return [cls(name=k, value=v) for k, v in attributes.items()]


@strawberry.type(description="Profile survey answers as one version recorded them.")
class SurveyAnswers:
    topics_teach: list[TopicSkill]
    topics_learn: list[TopicSkill]
    interests: list[str]
    availability: list[AvailabilityWindow]
    time_zone: str | None
    meeting_formats: list[str]
    communication_preferences: list[str]
    languages: list[str]
    mentor_capacity: int
    dei_opt_in: bool
    avoid_employee_ids: list[strawberry.ID]
    diversity: list[DiversityAttribute] | None = strawberry.field(
        description="Only for the person themselves and HR admins.")

    @classmethod
    def of(cls, a: clients.SurveyAnswersPublic) -> SurveyAnswers:
        return cls(**_survey_fields(a))


def _survey_fields(a: clients.SurveyAnswersPublic) -> dict[str, Any]:
    return {
        "topics_teach": TopicSkill.many(a.topics_teach),
        "topics_learn": TopicSkill.many(a.topics_learn), "interests": a.interests,
        "availability": AvailabilityWindow.many(a.availability), "time_zone": a.time_zone,
        "meeting_formats": a.meeting_formats,
        "communication_preferences": a.communication_preferences, "languages": a.languages,
        "mentor_capacity": a.mentor_capacity, "dei_opt_in": a.dei_opt_in,
        "avoid_employee_ids": [strawberry.ID(e) for e in a.avoid_employee_ids],
        "diversity": DiversityAttribute.many(a.diversity),
    }


@strawberry.type(description="One submitted version of a participant's survey.")
class SurveyVersion:
    version: int
    submitted_at: datetime
    answers: SurveyAnswers

    @classmethod
    def of(cls, v: clients.SurveyVersionPublic) -> SurveyVersion:
        return cls(version=v.version, submitted_at=v.submitted_at,
                   answers=SurveyAnswers.of(v.answers))


@strawberry.type(description="An employee's opt-in to a programme, with their survey answers.")
class Participant:
    id: strawberry.ID
    programme_id: strawberry.ID
    employee_id: strawberry.ID
    role: ParticipantRole
    status: str
    source: str | None = strawberry.field(description="self, invitation or import.")
    topics_teach: list[TopicSkill]
    topics_learn: list[TopicSkill]
    interests: list[str]
    availability: list[AvailabilityWindow]
    time_zone: str | None
    meeting_formats: list[str]
    communication_preferences: list[str]
    languages: list[str]
    mentor_capacity: int
    dei_opt_in: bool
    avoid_employee_ids: list[strawberry.ID]
    diversity: list[DiversityAttribute] | None = strawberry.field(
        description="Only for the person themselves and HR admins.")
    consent_at: datetime | None
    survey_version: int
    survey_updated_at: datetime | None
    enrolled_at: datetime
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, p: clients.ParticipantPublic) -> Participant:
        return cls(
            id=strawberry.ID(p.id), programme_id=strawberry.ID(p.programme_id),
            employee_id=strawberry.ID(p.employee_id), role=ParticipantRole(p.role),
            status=p.status, source=p.source, consent_at=p.consent_at,
            survey_version=p.survey_version, survey_updated_at=p.survey_updated_at,
            enrolled_at=p.enrolled_at, withdrawn_at=p.withdrawn_at, **_survey_fields(p),
        )

    @strawberry.field(description="The employee behind this participation.")
    async def employee(self, info: Info) -> Employee | None:
        return Employee.of(await info.context.loaders.employee.load(self.employee_id))

    @strawberry.field(description="The programme they enrolled in.")
    async def programme(self, info: Info) -> Programme | None:
        return Programme.of(await info.context.loaders.programme.load(self.programme_id))


@strawberry.type(description="HR's invitation; only the employee's acceptance enrols them.")
class Invitation:
    id: strawberry.ID
    programme_id: strawberry.ID
    employee_id: strawberry.ID
    role: ParticipantRole
    message: str
    status: str = strawberry.field(description="pending, accepted or declined.")
    participant_id: strawberry.ID | None
    invited_at: datetime
    responded_at: datetime | None

    @classmethod
    def of(cls, i: clients.InvitationPublic) -> Invitation:
        return cls(
            id=strawberry.ID(i.id), programme_id=strawberry.ID(i.programme_id),
            employee_id=strawberry.ID(i.employee_id), role=ParticipantRole(i.role),
            message=i.message, status=i.status,
            participant_id=strawberry.ID(i.participant_id) if i.participant_id else None,
            invited_at=i.invited_at, responded_at=i.responded_at,
        )

    @strawberry.field(description="The programme invited to.")
    async def programme(self, info: Info) -> Programme | None:
        return Programme.of(await info.context.loaders.programme.load(self.programme_id))

    @strawberry.field(description="The invited employee.")
    async def employee(self, info: Info) -> Employee | None:
        return Employee.of(await info.context.loaders.employee.load(self.employee_id))

    @strawberry.field(description="The participation an acceptance made.")
    async def participant(self, info: Info) -> Participant | None:
        if self.participant_id is None:
            return None
        return Participant.of(await info.context.loaders.participant.load(self.participant_id))


@strawberry.type(description="A rejected import row: which row, which field, why.")
class RejectedRow:
    row: int
    field: str
    reason: str


@strawberry.type(description="What an employee import changed; rejected rows wrote nothing.")
class ImportReport:
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RejectedRow]

    @classmethod
    def of(cls, r: clients.ImportReportPublic) -> ImportReport:
        return cls(
            created=r.created, updated=r.updated, unchanged=r.unchanged, rejected=r.rejected,
            errors=[RejectedRow(row=e.row, field=to_camel(e.field), reason=e.reason)
                    for e in r.errors],
        )


@strawberry.type(description="What a participant import did; rejected records wrote nothing.")
class ParticipantImportReport:
    enrolled: int
    updated: int
    rejected: int
    errors: list[RejectedRow]

    @classmethod
    def of(cls, r: clients.ParticipantImportReportPublic) -> ParticipantImportReport:
        return cls(
            enrolled=r.enrolled, updated=r.updated, rejected=r.rejected,
            errors=[RejectedRow(row=e.row, field=to_camel(e.field), reason=e.reason)
                    for e in r.errors],
        )


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="One employee record from the HRIS.")
class EmployeeInput:
    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None = None
    job_level: int | None = None
    department: str | None = None
    manager_external_id: str | None = None
    location: str | None = None
    time_zone: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None
    active: bool = True

    def to_record(self) -> clients.EmployeeRecord:
        return clients.EmployeeRecord(
            external_id=self.external_id, email=self.email, given_name=self.given_name,
            family_name=self.family_name, job_title=self.job_title, job_level=self.job_level,
            department=self.department, manager_external_id=self.manager_external_id,
            location=self.location, time_zone=self.time_zone, hire_date=self.hire_date,
            leave_date=self.leave_date, active=self.active,
        )


@strawberry.input(description="A measurable objective, e.g. +30 % proficiency in six months.")
class GoalTemplateInput:
    title: str
    topic: str | None = None
    measure: str | None = None
    target_change_percent: float | None = None
    within_months: int | None = None


@strawberry.input(description="Guidance or a training resource; kind is confidentiality, "
                                "feedback, communication, training or other.")
class GuidelineInput:
    title: str
    kind: str | None = None
    body: str | None = None
    url: str | None = None


@strawberry.input(description="A new programme; level bounds keep mentors junior to mentees. "
                                "Settings left out take the service's defaults.")
class ProgrammeInput:
    name: str
    description: str | None = None
    status: str | None = strawberry.field(
        default=None, description="open (default) or draft while it is set up.")
    objectives: str | None = None
    goal_templates: list[GoalTemplateInput] | None = None
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int | None = None
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    capacity: int | None = None
    session_cadence: str | None = None
    session_minutes: int | None = None
    duration_weeks: int | None = None
    meeting_format: str | None = None
    topics: list[str] | None = strawberry.field(
        default=None, description="The catalogue; left out, the seed topics.")
    guidelines: list[GuidelineInput] | None = None
    mutual: bool | None = None
    matching_mode: str | None = None
    diversity_objective: bool | None = None


@strawberry.input(description="Only the settings given change; null clears an optional one "
                                "(a level bound, the enrolment window, the capacity).")
class ProgrammeUpdateInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    objectives: str | None = strawberry.UNSET
    goal_templates: list[GoalTemplateInput] | None = strawberry.UNSET
    mentor_max_level: int | None = strawberry.UNSET
    mentee_min_level: int | None = strawberry.UNSET
    min_level_gap: int | None = strawberry.UNSET
    enrolment_opens_on: date | None = strawberry.UNSET
    enrolment_closes_on: date | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    session_cadence: str | None = strawberry.UNSET
    session_minutes: int | None = strawberry.UNSET
    duration_weeks: int | None = strawberry.UNSET
    meeting_format: str | None = strawberry.UNSET
    topics: list[str] | None = strawberry.UNSET
    guidelines: list[GuidelineInput] | None = strawberry.UNSET
    mutual: bool | None = strawberry.UNSET
    matching_mode: str | None = strawberry.UNSET
    diversity_objective: bool | None = strawberry.UNSET


@strawberry.input
class TopicSkillInput:
    topic: str
    level: int


@strawberry.input(description="A weekly free slot in the participant's own time zone.")
class AvailabilityWindowInput:
    weekday: int
    start: str
    end: str


@strawberry.input(description="One self-declared diversity attribute.")
class DiversityAttributeInput:
    name: str
    value: str


@strawberry.input(description="The whole profile survey: it replaces the previous answers, "
                                "so what is left out is reset to the service's default. "
                                "Diversity attributes are stored only with diversityConsent.")
class SurveyInput:
    topics_teach: list[TopicSkillInput] | None = None
    topics_learn: list[TopicSkillInput] | None = None
    interests: list[str] | None = None
    availability: list[AvailabilityWindowInput] | None = None
    time_zone: str | None = strawberry.field(default=None, description="IANA, e.g. Europe/Paris.")
    meeting_formats: list[str] | None = strawberry.field(
        default=None, description="in_person, virtual, hybrid.")
    communication_preferences: list[str] | None = None
    languages: list[str] | None = None
    mentor_capacity: int | None = strawberry.field(
        default=None, description="How many mentees a mentor takes.")
    dei_opt_in: bool | None = strawberry.field(
        default=None, description="A mentor teaches DEI topics only with it.")
    avoid_employee_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="People they prefer not to be paired with.")
    diversity: list[DiversityAttributeInput] | None = None
    diversity_consent: bool | None = None


@strawberry.input(description="Opting in with the survey; employeeId defaults to the caller's.")
class EnrolInput(SurveyInput):
    role: ParticipantRole
    employee_id: strawberry.ID | None = None


@strawberry.input(description="An opted-in person from a survey run elsewhere, by employeeId "
                                "or externalId; consentAt is required.")
class ParticipantImportInput(SurveyInput):
    role: ParticipantRole
    consent_at: datetime
    employee_id: strawberry.ID | None = None
    external_id: str | None = None


@strawberry.input(description="Invite an employee as mentor or mentee.")
class InviteInput:
    employee_id: strawberry.ID
    role: ParticipantRole
    message: str | None = None


def _survey(value: SurveyInput) -> dict[str, Any]:
    answers: dict[str, Any] = plain(value)
    if "diversity" in answers:
        answers["diversity"] = {a["name"]: a["value"] for a in answers["diversity"]}
    return answers


def _own_employee_id(info: Info, field: str) -> str:
    employee_id = info.context.principal.employee_id
    if employee_id is None:
        raise gateway_problem(
            422, f"The token carries no employee_id; give {field} explicitly",
            kind="validation-error", field=field,
        )
    return employee_id


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programmes and the people in them."""

    @strawberry.field(description="Every programme.")
    async def programmes(self, info: Info) -> list[Programme]:
        found = await info.context.enrolment.programmes()
        info.context.loaders.programme.prime_many({p.id: p for p in found})
        return [Programme.of(p) for p in found]

    @strawberry.field(description="One programme.")
    async def programme(self, info: Info, id: strawberry.ID) -> Programme | None:
        return Programme.of(await info.context.loaders.programme.load(id))

    @strawberry.field(description="One employee: yourself, or anyone for admins.")
    async def employee(self, info: Info, id: strawberry.ID) -> Employee | None:
        return Employee.of(await info.context.loaders.employee.load(id))

    @strawberry.field(description="One participant: yourself, or anyone for admins.")
    async def participant(self, info: Info, id: strawberry.ID) -> Participant | None:
        return Participant.of(await info.context.loaders.participant.load(id))


@strawberry.type
class InvitationQuery:
    """Invitations and survey history."""

    @strawberry.field(description="A programme's invitations (admins).")
    async def invitations(self, info: Info, programme_id: strawberry.ID) -> list[Invitation]:
        found = await info.context.loaders.programme_invitations.load(programme_id)
        return [Invitation.of(i) for i in found]

    @strawberry.field(description="The caller's own invitations, answered or not.")
    async def my_invitations(self, info: Info) -> list[Invitation]:
        employee_id = info.context.principal.employee_id
        if employee_id is None:
            return []  # a token that names no employee has been invited to nothing
        found = await info.context.enrolment.employee_invitations(employee_id)
        return [Invitation.of(i) for i in found]

    @strawberry.field(description="Every version of a participant's survey, oldest first.")
    async def survey_versions(self, info: Info,
                              participant_id: strawberry.ID) -> list[SurveyVersion]:
        found = await info.context.enrolment.survey_versions(participant_id)
        return [SurveyVersion.of(v) for v in found]


@strawberry.type
class Mutation:
    """Employees, programmes, enrolment, invitations, surveys."""

    @strawberry.mutation(description="Upsert employees as an HRIS would (hris, hr_admin).")
    async def import_employees(self, info: Info, records: list[EmployeeInput]) -> ImportReport:
        report = await info.context.enrolment.import_employees([r.to_record() for r in records])
        return ImportReport.of(report)

    @strawberry.mutation(description="Create a programme (hr_admin, programme_manager).")
    async def create_programme(self, info: Info, input: ProgrammeInput) -> Programme:
        data = clients.ProgrammeCreate.model_validate(plain(input))
        return Programme.of(await info.context.enrolment.create_programme(data))

    @strawberry.mutation(description="Change a programme's settings within what its state "
                                     "allows (admins).")
    async def update_programme(self, info: Info, programme_id: strawberry.ID,
                               input: ProgrammeUpdateInput) -> Programme:
        data = clients.ProgrammeUpdate.model_validate(given(input))
        return Programme.of(await info.context.enrolment.update_programme(programme_id, data))

    @strawberry.mutation(description="Move a programme along draft -> open -> running -> closed "
                                     "(admins).")
    async def change_programme_status(self, info: Info, programme_id: strawberry.ID,
                                      status: str) -> Programme:
        changed = await info.context.enrolment.transition_programme(programme_id, status)
        return Programme.of(changed)

    @strawberry.mutation(description="Add topics to a programme's catalogue (admins).")
    async def add_programme_topics(self, info: Info, programme_id: strawberry.ID,
                                   topics: list[str]) -> Programme:
        return Programme.of(await info.context.enrolment.add_topics(programme_id, topics))

    @strawberry.mutation(description="Opt in as mentor (junior who teaches) or mentee (senior).")
    async def enrol(self, info: Info, programme_id: strawberry.ID,
                    input: EnrolInput) -> Participant:
        employee_id = input.employee_id or _own_employee_id(info, "employeeId")
        data = clients.ParticipantCreate.model_validate(
            _survey(input) | {"employee_id": employee_id})
        return Participant.of(await info.context.enrolment.enrol(programme_id, data))

    @strawberry.mutation(description="Enrol people who opted in through a survey run elsewhere "
                                     "(hr_admin); each needs a consent time.")
    async def import_participants(self, info: Info, programme_id: strawberry.ID,
                                  records: list[ParticipantImportInput],
                                  ) -> ParticipantImportReport:
        rows = [clients.ParticipantImportRecord.model_validate(_survey(r)) for r in records]
        report = await info.context.enrolment.import_participants(programme_id, rows)
        return ParticipantImportReport.of(report)

    @strawberry.mutation(description="Invite an employee; only their acceptance enrols them "
                                     "(admins).")
    async def invite(self, info: Info, programme_id: strawberry.ID,
                     input: InviteInput) -> Invitation:
        data = clients.InvitationCreate.model_validate(plain(input))
        return Invitation.of(await info.context.enrolment.invite(programme_id, data))

    @strawberry.mutation(description="Accept an invitation with the profile survey "
                                     "(the invited employee only).")
    async def accept_invitation(self, info: Info, invitation_id: strawberry.ID,
                                input: SurveyInput | None = None) -> Participant:
        answers = clients.SurveyAnswers.model_validate(_survey(input or SurveyInput()))
        accepted = await info.context.enrolment.accept_invitation(invitation_id, answers)
        return Participant.of(accepted)

    @strawberry.mutation(description="Decline an invitation (the invited employee only).")
    async def decline_invitation(self, info: Info, invitation_id: strawberry.ID) -> Invitation:
        return Invitation.of(await info.context.enrolment.decline_invitation(invitation_id))

    @strawberry.mutation(description="Submit new survey answers: a new version matching sees "
                                     "next (the participant, or admins).")
    async def update_survey(self, info: Info, participant_id: strawberry.ID,
                            input: SurveyInput) -> Participant:
        answers = clients.SurveyAnswers.model_validate(_survey(input))
        return Participant.of(await info.context.enrolment.update_survey(participant_id,
                                                                         answers))

    @strawberry.mutation(description="Erase a person on request: pseudonymised in every "
                                     "service, aggregates kept (hr_admin).")
    async def erase_employee(self, info: Info, employee_id: strawberry.ID) -> Employee:
        return Employee.of(await info.context.enrolment.erase_employee(employee_id))

    @strawberry.mutation(description="Leave a programme; the participant's pairs end.")
    async def withdraw(self, info: Info, participant_id: strawberry.ID,
                       reason: str | None = None) -> Participant:
        return Participant.of(await info.context.enrolment.withdraw(participant_id, reason))
