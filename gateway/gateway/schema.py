"""The GraphQL schema: the mentoring journey over the four services' REST APIs."""

from __future__ import annotations

import logging
from datetime import date, datetime
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from gateway import clients
from gateway.clients import ProblemError, gateway_problem, to_camel
from gateway.context import Info
from upward_common.problems import PROBLEM_BASE

log = logging.getLogger(__name__)


@strawberry.enum(description="Mentor = the junior who teaches; mentee = the senior who learns.")
class ParticipantRole(Enum):
    MENTOR = "mentor"
    MENTEE = "mentee"


# --- types -----------------------------------------------------------------------------
# A field that needs another call (a DataLoader) is nullable: when that service is down
# or refuses the caller, the field is null with an error beside it, and the rest of the
# answer stands.


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

    @classmethod
    def of(cls, e: clients.EmployeePublic) -> Employee:
        return cls(
            id=strawberry.ID(e.id), external_id=e.external_id, email=e.email,
            given_name=e.given_name, family_name=e.family_name, job_title=e.job_title,
            job_level=e.job_level, department=e.department,
            manager_id=strawberry.ID(e.manager_id) if e.manager_id else None,
            location=e.location, time_zone=e.time_zone, hire_on=e.hire_on,
            leave_on=e.leave_on, active=e.active,
        )

    @strawberry.field(description="Their manager, when the HRIS named one.")
    async def manager(self, info: Info) -> Employee | None:
        if self.manager_id is None:
            return None
        return Employee.of(await info.context.loaders.employee.load(self.manager_id))


@strawberry.type(description="How one programme is going, counted from events by analytics.")
class ProgrammeSummary:
    programme_id: strawberry.ID
    participants_enrolled: int
    mentors: int
    mentees: int
    pairs_formed: int
    pairs_active: int
    sessions_scheduled: int
    sessions_held: int

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
        )


@strawberry.type(description="A reverse-mentoring programme.")
class Programme:
    id: strawberry.ID
    name: str
    description: str
    status: str
    mentor_max_level: int | None
    mentee_min_level: int | None
    min_level_gap: int
    created_at: datetime

    @classmethod
    def of(cls, p: clients.ProgrammePublic) -> Programme:
        return cls(
            id=strawberry.ID(p.id), name=p.name, description=p.description, status=p.status,
            mentor_max_level=p.mentor_max_level, mentee_min_level=p.mentee_min_level,
            min_level_gap=p.min_level_gap, created_at=p.created_at,
        )

    @strawberry.field(description="Everyone enrolled, mentors and mentees (admins).")
    async def participants(self, info: Info) -> list[Participant] | None:
        loaders = info.context.loaders
        found = await loaders.programme_participants.load(self.id)
        # A pair's mentor or mentee asked for later in this request is then already known.
        loaders.participant.prime_many({p.id: p for p in found})
        return [Participant.of(p) for p in found]

    @strawberry.field(description="Enrolment, pair and session counts (admins).")
    async def summary(self, info: Info) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(await info.context.loaders.programme_summary.load(self.id))

    @strawberry.field(description="The pairs formed in this programme.")
    async def pairs(self, info: Info) -> list[Pair] | None:
        loaders = info.context.loaders
        found = await loaders.programme_pairs.load(self.id)
        loaders.pair.prime_many({p.id: p for p in found})
        return [Pair.of(p) for p in found]


@strawberry.type(description="An employee's opt-in to a programme, with their survey answers.")
class Participant:
    id: strawberry.ID
    programme_id: strawberry.ID
    employee_id: strawberry.ID
    role: ParticipantRole
    status: str
    topics_teach: list[TopicSkill]
    topics_learn: list[TopicSkill]
    interests: list[str]
    languages: list[str]
    mentor_capacity: int
    survey_version: int
    enrolled_at: datetime

    @classmethod
    def of(cls, p: clients.ParticipantPublic) -> Participant:
        return cls(
            id=strawberry.ID(p.id), programme_id=strawberry.ID(p.programme_id),
            employee_id=strawberry.ID(p.employee_id), role=ParticipantRole(p.role),
            status=p.status, topics_teach=TopicSkill.many(p.topics_teach),
            topics_learn=TopicSkill.many(p.topics_learn), interests=p.interests,
            languages=p.languages, mentor_capacity=p.mentor_capacity,
            survey_version=p.survey_version, enrolled_at=p.enrolled_at,
        )

    @strawberry.field(description="The employee behind this participation.")
    async def employee(self, info: Info) -> Employee | None:
        return Employee.of(await info.context.loaders.employee.load(self.employee_id))

    @strawberry.field(description="The programme they enrolled in.")
    async def programme(self, info: Info) -> Programme | None:
        return Programme.of(await info.context.loaders.programme.load(self.programme_id))


@strawberry.type(description="One factor of a match score and why it counted.")
class ScoreFactor:
    factor: str
    points: float
    reason: str

    @classmethod
    def many(cls, factors: list[clients.ScoreFactor]) -> list[ScoreFactor]:
        return [cls(factor=f.factor, points=f.points, reason=f.reason) for f in factors]


@strawberry.type(description="A mentor matching proposes for a mentee, best first.")
class Suggestion:
    mentor_participant_id: strawberry.ID
    mentor_employee_id: strawberry.ID
    score: float
    breakdown: list[ScoreFactor]

    @classmethod
    def of(cls, s: clients.SuggestionPublic) -> Suggestion:
        return cls(
            mentor_participant_id=strawberry.ID(s.mentor_participant_id),
            mentor_employee_id=strawberry.ID(s.mentor_employee_id), score=s.score,
            breakdown=ScoreFactor.many(s.breakdown),
        )

    @strawberry.field(description="The suggested mentor's participation.")
    async def mentor(self, info: Info) -> Participant | None:
        return Participant.of(
            await info.context.loaders.participant.load(self.mentor_participant_id)
        )


@strawberry.type(description="A mentor (junior) and a mentee (senior) paired in a programme.")
class Pair:
    id: strawberry.ID
    programme_id: strawberry.ID
    mentor_participant_id: strawberry.ID
    mentee_participant_id: strawberry.ID
    mentor_employee_id: strawberry.ID
    mentee_employee_id: strawberry.ID
    status: str
    origin: str | None
    score: float | None
    breakdown: list[ScoreFactor]
    override_reason: str | None
    overridden_rules: list[str]
    proposed_at: datetime | None
    formed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None

    @classmethod
    def of(cls, p: clients.PairPublic) -> Pair:
        return cls(
            id=strawberry.ID(p.id), programme_id=strawberry.ID(p.programme_id),
            mentor_participant_id=strawberry.ID(p.mentor_participant_id),
            mentee_participant_id=strawberry.ID(p.mentee_participant_id),
            mentor_employee_id=strawberry.ID(p.mentor_employee_id),
            mentee_employee_id=strawberry.ID(p.mentee_employee_id), status=p.status,
            origin=p.origin, score=p.score, breakdown=ScoreFactor.many(p.breakdown),
            override_reason=p.override_reason, overridden_rules=p.overridden_rules,
            proposed_at=p.proposed_at, formed_at=p.formed_at, ended_at=p.ended_at,
            end_reason=p.end_reason,
        )

    @strawberry.field(description="The junior who teaches.")
    async def mentor(self, info: Info) -> Participant | None:
        return Participant.of(
            await info.context.loaders.participant.load(self.mentor_participant_id)
        )

    @strawberry.field(description="The senior who learns.")
    async def mentee(self, info: Info) -> Participant | None:
        return Participant.of(
            await info.context.loaders.participant.load(self.mentee_participant_id)
        )

    @strawberry.field(description="The pair's sessions, planned and held.")
    async def sessions(self, info: Info) -> list[Session] | None:
        return [Session.of(s) for s in await info.context.loaders.pair_sessions.load(self.id)]

    @strawberry.field(description="The programme the pair belongs to.")
    async def programme(self, info: Info) -> Programme | None:
        return Programme.of(await info.context.loaders.programme.load(self.programme_id))


@strawberry.type(description="A mentoring session; the private note is its author's alone.")
class Session:
    id: strawberry.ID
    pair_id: strawberry.ID
    programme_id: strawberry.ID
    starts_at: datetime | None
    duration_minutes: int | None
    status: str
    held_at: datetime | None
    recap: str | None
    my_private_note: str | None

    @classmethod
    def of(cls, s: clients.SessionPublic) -> Session:
        return cls(
            id=strawberry.ID(s.id), pair_id=strawberry.ID(s.pair_id),
            programme_id=strawberry.ID(s.programme_id), starts_at=s.starts_at,
            duration_minutes=s.duration_minutes, status=s.status, held_at=s.held_at,
            recap=s.recap, my_private_note=s.my_private_note,
        )

    @strawberry.field(description="The pair this session belongs to.")
    async def pair(self, info: Info) -> Pair | None:
        return Pair.of(await info.context.loaders.pair.load(self.pair_id))


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


@strawberry.input(description="A new programme; level bounds keep mentors junior to mentees.")
class ProgrammeInput:
    name: str
    description: str | None = None
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int | None = None


@strawberry.input
class TopicSkillInput:
    topic: str
    level: int


@strawberry.input(description="Opting in; employeeId defaults to the caller's own.")
class EnrolInput:
    role: ParticipantRole
    employee_id: strawberry.ID | None = None
    topics_teach: list[TopicSkillInput] | None = None
    topics_learn: list[TopicSkillInput] | None = None
    interests: list[str] | None = None
    languages: list[str] | None = None
    mentor_capacity: int | None = None


@strawberry.input(description="Confirm a pair; overrideReason is required to pass a warning.")
class FormPairInput:
    programme_id: strawberry.ID
    mentee_participant_id: strawberry.ID
    mentor_participant_id: strawberry.ID
    override_reason: str | None = None


@strawberry.input(description="What happened in a session: a shared recap, a private note.")
class LogSessionInput:
    held_at: datetime
    duration_minutes: int
    recap: str | None = None
    private_note: str | None = None


def _skills(items: list[TopicSkillInput] | None) -> list[clients.TopicSkill] | None:
    if items is None:
        return None
    return [clients.TopicSkill(topic=i.topic, level=i.level) for i in items]


def _own_employee_id(info: Info, field: str) -> str:
    employee_id = info.context.principal.employee_id
    if employee_id is None:
        raise gateway_problem(
            422, f"The token carries no employee_id; give {field} explicitly",
            kind="validation-error", field=field,
        )
    return employee_id


# --- root types ------------------------------------------------------------------------


@strawberry.type
class Query:
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

    @strawberry.field(description="The best mentors for a mentee, with the score's breakdown.")
    async def suggestions(self, info: Info, programme_id: strawberry.ID,
                          mentee_participant_id: strawberry.ID,
                          limit: int = 3) -> list[Suggestion]:
        found = await info.context.matching.suggestions(programme_id, mentee_participant_id,
                                                        limit)
        return [Suggestion.of(s) for s in found.suggestions]

    @strawberry.field(description="Pairs, by programme and/or participant.")
    async def pairs(self, info: Info, programme_id: strawberry.ID | None = None,
                    participant_id: strawberry.ID | None = None) -> list[Pair]:
        found = await info.context.matching.pairs(programme_id=programme_id,
                                                  participant_id=participant_id)
        info.context.loaders.pair.prime_many({p.id: p for p in found})
        return [Pair.of(p) for p in found]

    @strawberry.field(description="One pair.")
    async def pair(self, info: Info, id: strawberry.ID) -> Pair | None:
        return Pair.of(await info.context.loaders.pair.load(id))

    @strawberry.field(description="A pair's sessions.")
    async def sessions(self, info: Info, pair_id: strawberry.ID) -> list[Session]:
        return [Session.of(s) for s in await info.context.loaders.pair_sessions.load(pair_id)]

    @strawberry.field(description="One session: for the pair's members, or admins.")
    async def session(self, info: Info, id: strawberry.ID) -> Session | None:
        return Session.of(await info.context.scheduling.session(id))

    @strawberry.field(description="The caller's own sessions, across their pairs.")
    async def my_sessions(self, info: Info) -> list[Session]:
        scheduling = info.context.scheduling
        found = await scheduling.employee_sessions(info.context.principal.employee_id)
        return [Session.of(s) for s in found]

    @strawberry.field(description="Enrolment, pair and session counts of a programme (admins).")
    async def programme_summary(self, info: Info,
                                programme_id: strawberry.ID) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(
            await info.context.loaders.programme_summary.load(programme_id)
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Upsert employees as an HRIS would (hris, hr_admin).")
    async def import_employees(self, info: Info, records: list[EmployeeInput]) -> ImportReport:
        report = await info.context.enrolment.import_employees([r.to_record() for r in records])
        return ImportReport.of(report)

    @strawberry.mutation(description="Create a programme (hr_admin, programme_manager).")
    async def create_programme(self, info: Info, input: ProgrammeInput) -> Programme:
        created = await info.context.enrolment.create_programme(clients.ProgrammeCreate(
            name=input.name, description=input.description,
            mentor_max_level=input.mentor_max_level, mentee_min_level=input.mentee_min_level,
            min_level_gap=input.min_level_gap,
        ))
        return Programme.of(created)

    @strawberry.mutation(description="Opt in as mentor (junior who teaches) or mentee (senior).")
    async def enrol(self, info: Info, programme_id: strawberry.ID,
                    input: EnrolInput) -> Participant:
        employee_id = input.employee_id or _own_employee_id(info, "employeeId")
        enrolled = await info.context.enrolment.enrol(programme_id, clients.ParticipantCreate(
            employee_id=employee_id, role=input.role.value,
            topics_teach=_skills(input.topics_teach), topics_learn=_skills(input.topics_learn),
            interests=input.interests, languages=input.languages,
            mentor_capacity=input.mentor_capacity,
        ))
        return Participant.of(enrolled)

    @strawberry.mutation(description="Leave a programme; the participant's pairs end.")
    async def withdraw(self, info: Info, participant_id: strawberry.ID,
                       reason: str | None = None) -> Participant:
        return Participant.of(await info.context.enrolment.withdraw(participant_id, reason))

    @strawberry.mutation(description="Confirm a pair from matching's suggestions (admins).")
    async def form_pair(self, info: Info, input: FormPairInput) -> Pair:
        formed = await info.context.matching.form_pair(clients.PairCreate(
            programme_id=input.programme_id, mentee_participant_id=input.mentee_participant_id,
            mentor_participant_id=input.mentor_participant_id,
            override_reason=input.override_reason,
        ))
        return Pair.of(formed)

    @strawberry.mutation(description="End a pair: reason is completed, poor_fit, withdrawal, "
                                     "departure, inactivity or admin.")
    async def end_pair(self, info: Info, pair_id: strawberry.ID, reason: str,
                       note: str | None = None) -> Pair:
        return Pair.of(await info.context.matching.end_pair(pair_id, reason, note))

    @strawberry.mutation(description="Record that a session was held (a member of the pair).")
    async def log_session(self, info: Info, session_id: strawberry.ID,
                          input: LogSessionInput) -> Session:
        logged = await info.context.scheduling.log_session(session_id, clients.SessionLog(
            held_at=input.held_at, duration_minutes=input.duration_minutes,
            recap=input.recap, private_note=input.private_note,
        ))
        return Session.of(logged)


class MaskUnexpectedErrors(MaskErrors):
    """Problems and GraphQL's own errors reach the client; a bug's message could leak internals."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected,
                         error_message="An unexpected error occurred; it has been logged")

    @staticmethod
    def _is_unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        return original is not None and not isinstance(original, ProblemError | GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"status": 500, "type": PROBLEM_BASE + "internal",
                             "title": "Internal Server Error", "field": None, "errors": []}
        return masked


class GatewaySchema(strawberry.Schema):
    """Logs what is the gateway's or a service's fault, not every refused request."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            original = error.original_error
            if isinstance(original, ProblemError):
                if original.status >= 500:
                    log.warning("downstream failure", extra={"problem": original.extensions,
                                                             "path": error.path})
            else:
                super().process_errors([error], execution_context)


schema = GatewaySchema(
    query=Query,
    mutation=Mutation,
    extensions=[MaskUnexpectedErrors],
)
