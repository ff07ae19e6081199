"""Enrolment's part of the schema: employees, programmes, participants, invitations, surveys."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway import clients
from gateway.clients import gateway_problem, identifier, to_camel
from gateway.context import Info
from gateway.prefetch import loaded, prefetch_page
from gateway.schema import analytics, matching
from gateway.schema.errors import USER_ERRORS, ErrorCode, UserError, attempt, maybe, member
from gateway.schema.inputs import (
    EmployeeId,
    InvitationId,
    ParticipantId,
    ProgrammeId,
    described,
    given,
    plain,
)
from gateway.schema.pagination import DEFAULT_FIRST, After, Connection, First, Window, by_id

if TYPE_CHECKING:
    from gateway.schema.analytics import ProgrammeSummary
    from gateway.schema.matching import MatchingConfig, MatchRun, Pair, PoolStats

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
ANALYTICS = strawberry.lazy("gateway.schema.analytics")
MATCHING = strawberry.lazy("gateway.schema.matching")

SERVICE = "enrolment"


# --- closed sets -----------------------------------------------------------------------


@strawberry.enum(description="Mentor = the junior who teaches; mentee = the senior who learns.")
class ParticipantRole(Enum):
    MENTOR = strawberry.enum_value("mentor", description="The junior who teaches.")
    MENTEE = strawberry.enum_value("mentee", description="The senior who learns.")


@strawberry.enum(description="Where a programme is in its life: draft -> open -> running -> "
                             "closed.")
class ProgrammeStatus(Enum):
    DRAFT = strawberry.enum_value("draft", description="Being set up; only admins see it.")
    OPEN = strawberry.enum_value("open", description="Open for enrolment.")
    RUNNING = strawberry.enum_value("running", description="Pairs are meeting.")
    CLOSED = strawberry.enum_value("closed", description="Over; kept for the record.")


@strawberry.enum(description="How often a programme's pairs are meant to meet.")
class SessionCadence(Enum):
    WEEKLY = strawberry.enum_value("weekly", description="Every week.")
    BIWEEKLY = strawberry.enum_value("biweekly", description="Every other week.")
    MONTHLY = strawberry.enum_value("monthly", description="Once a month.")


@strawberry.enum(description="Where sessions are held.")
class MeetingFormat(Enum):
    IN_PERSON = strawberry.enum_value("in_person", description="Face to face.")
    VIRTUAL = strawberry.enum_value("virtual", description="By video call.")
    HYBRID = strawberry.enum_value("hybrid", description="Some of each.")


@strawberry.enum(description="Who decides a programme's pairs.")
class MatchingMode(Enum):
    ADMIN = strawberry.enum_value(
        "admin", description="Admin-led: an admin forms pairs from matching's suggestions.")
    SHORTLIST = strawberry.enum_value(
        "shortlist", description="The mentee picks from a shortlist; the mentor accepts.")
    AUTOMATIC = strawberry.enum_value(
        "automatic", description="A whole-cohort match run forms the pairs.")


@strawberry.enum(description="What a guideline is about.")
class GuidelineKind(Enum):
    CONFIDENTIALITY = strawberry.enum_value(
        "confidentiality", description="What stays between the pair.")
    FEEDBACK = strawberry.enum_value("feedback", description="Giving and taking feedback.")
    COMMUNICATION = strawberry.enum_value("communication", description="How to talk across "
                                                                         "levels.")
    TRAINING = strawberry.enum_value("training", description="A training resource.")
    OTHER = strawberry.enum_value("other", description="Anything else.")


@strawberry.enum(description="Whether a participant is still in their programme.")
class ParticipantStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="Enrolled and taking part.")
    WITHDRAWN = strawberry.enum_value("withdrawn", description="Left the programme; their "
                                                                 "pairs ended.")
    LEFT = strawberry.enum_value("left", description="Left the company (deactivated by the "
                                                     "HRIS, or their leave date reached); "
                                                     "their pairs ended.")


@strawberry.enum(description="How a participant came to be enrolled.")
class ParticipantSource(Enum):
    SELF = strawberry.enum_value("self", description="They opted in themselves.")
    ADMIN = strawberry.enum_value("admin", description="An admin enrolled them.")
    INVITATION = strawberry.enum_value("invitation", description="They accepted an "
                                                                  "invitation.")
    IMPORT = strawberry.enum_value("import", description="Imported from a survey run "
                                                          "elsewhere, with their consent.")


@strawberry.enum(description="What the invited employee answered.")
class InvitationStatus(Enum):
    PENDING = strawberry.enum_value("pending", description="Not answered yet.")
    ACCEPTED = strawberry.enum_value("accepted", description="Accepted: they are enrolled.")
    DECLINED = strawberry.enum_value("declined", description="Declined.")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="A topic someone can teach (proficiency 1-5) or learn (priority).")
class TopicSkill:
    topic: str = strawberry.field(description="A topic of the programme's catalogue.")
    level: int = strawberry.field(
        description="Proficiency 1-5 for a topic taught; priority (1 first) for one learnt.")

    @classmethod
    def many(cls, skills: list[clients.TopicSkill]) -> list[TopicSkill]:
        return [cls(topic=s.topic, level=s.level) for s in skills]


@strawberry.type(description="An employee as the HRIS sent them.")
class Employee:
    id: strawberry.ID = strawberry.field(description="Upward's id for them.")
    external_id: str = strawberry.field(description="The HRIS's id for them.")
    email: str = strawberry.field(description="Work email.")
    given_name: str = strawberry.field(description="Given name.")
    family_name: str = strawberry.field(description="Family name.")
    job_title: str | None = strawberry.field(description="Job title.")
    job_level: int | None = strawberry.field(
        description="Job level, 1 (most junior) up to the deployment's scale (20 unless "
                    "set); eligibility compares it.")
    department: str | None = strawberry.field(description="Department.")
    manager_id: strawberry.ID | None = strawberry.field(description="Their manager's id.")
    location: str | None = strawberry.field(description="Office or city.")
    time_zone: str | None = strawberry.field(description="IANA time zone, e.g. Europe/Paris.")
    hire_on: date | None = strawberry.field(description="The day they joined.")
    leave_on: date | None = strawberry.field(description="The day they leave or left.")
    active: bool = strawberry.field(description="Whether they still work here.")
    user_name: str | None = strawberry.field(description="Their sign-in name (SCIM userName).")
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
    def manager(self, info: Info) -> Employee | None:
        if self.manager_id is None:
            return None
        return loaded(info.context.loaders.employee, self.manager_id, Employee.of)


@strawberry.type(description="A measurable objective pairs can adopt "
                               "(e.g. +30 % proficiency within six months).")
class GoalTemplate:
    id: str | None = strawberry.field(description="Its id: a goal starts from it by this "
                                                   "(templateId).")
    title: str = strawberry.field(description="What the goal is called.")
    topic: str | None = strawberry.field(description="The topic it is about.")
    measure: str | None = strawberry.field(description="How progress is measured.")
    unit: str | None = strawberry.field(description="The measure's unit.")
    baseline: float | None = strawberry.field(description="Where a goal usually starts from.")
    target: float | None = strawberry.field(description="The value aimed at.")
    target_change_percent: float | None = strawberry.field(
        description="The change aimed at, in per cent (30 for +30 %).")
    within_months: int | None = strawberry.field(description="The months to reach it in.")

    @classmethod
    def many(cls, goals: list[clients.GoalTemplate]) -> list[GoalTemplate]:
        return [cls(id=g.id, title=g.title, topic=g.topic, measure=g.measure, unit=g.unit,
                    baseline=g.baseline, target=g.target,
                    target_change_percent=g.target_change_percent,
                    within_months=g.within_months) for g in goals]


@strawberry.type(description="Guidance or a training resource shown to participants.")
class Guideline:
    kind: GuidelineKind = strawberry.field(description="What it is about.")
    title: str = strawberry.field(description="Its title.")
    body: str = strawberry.field(description="Its text.")
    url: str | None = strawberry.field(description="A link to more.")

    @classmethod
    def many(cls, guidelines: list[clients.Guideline]) -> list[Guideline]:
        return [cls(kind=member(GuidelineKind, g.kind, service=SERVICE), title=g.title,
                    body=g.body, url=g.url) for g in guidelines]


@strawberry.type(description="A reverse-mentoring programme and its settings.")
class Programme:
    id: strawberry.ID = strawberry.field(description="The programme's id.")
    name: str = strawberry.field(description="Its name.")
    description: str = strawberry.field(description="What it is for, for participants.")
    status: ProgrammeStatus = strawberry.field(description="Where it is in its life.")
    objectives: str = strawberry.field(description="What the organisation wants from it.")
    goal_templates: list[GoalTemplate] = strawberry.field(
        description="Objectives pairs can adopt.")
    blackout_dates: list[date] = strawberry.field(
        description="Holidays: no session is planned on these days.")
    mentor_max_level: int | None = strawberry.field(
        description="Eligibility: mentors (juniors) at this job level or below.")
    mentee_min_level: int | None = strawberry.field(
        description="Eligibility: mentees (seniors) at this job level or above.")
    min_level_gap: int = strawberry.field(
        description="Eligibility: levels a mentee must be above their mentor.")
    enrolment_opens_on: date | None = strawberry.field(
        description="The first day of enrolment; null: already open.")
    enrolment_closes_on: date | None = strawberry.field(
        description="The last day of enrolment; null: no end.")
    capacity: int | None = strawberry.field(description="Most active participants; null: any.")
    session_cadence: SessionCadence | None = strawberry.field(
        description="How often pairs are meant to meet.")
    session_minutes: int | None = strawberry.field(
        description="How long a session is meant to last: 30, 45 or 60.")
    duration_weeks: int | None = strawberry.field(description="How long the programme runs.")
    meeting_format: MeetingFormat | None = strawberry.field(
        description="Where sessions are held.")
    topics: list[str] = strawberry.field(description="The topic catalogue.")
    guidelines: list[Guideline] = strawberry.field(description="Guidance for participants.")
    mutual: bool = strawberry.field(description="Whether the senior teaches back.")
    matching_mode: MatchingMode | None = strawberry.field(description="Who decides the pairs.")
    diversity_objective: bool = strawberry.field(
        description="Whether matching favours pairs across a diversity attribute.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime | None = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, p: clients.ProgrammePublic) -> Programme:
        return cls(
            id=strawberry.ID(p.id), name=p.name, description=p.description,
            status=member(ProgrammeStatus, p.status, service=SERVICE),
            objectives=p.objectives, goal_templates=GoalTemplate.many(p.goal_templates),
            blackout_dates=p.blackout_dates,
            mentor_max_level=p.mentor_max_level, mentee_min_level=p.mentee_min_level,
            min_level_gap=p.min_level_gap, enrolment_opens_on=p.enrolment_opens_on,
            enrolment_closes_on=p.enrolment_closes_on, capacity=p.capacity,
            session_cadence=maybe(SessionCadence, p.session_cadence, service=SERVICE),
            session_minutes=p.session_minutes, duration_weeks=p.duration_weeks,
            meeting_format=maybe(MeetingFormat, p.meeting_format, service=SERVICE),
            topics=p.topics, guidelines=Guideline.many(p.guidelines), mutual=p.mutual,
            matching_mode=maybe(MatchingMode, p.matching_mode, service=SERVICE),
            diversity_objective=p.diversity_objective,
            created_at=p.created_at, updated_at=p.updated_at,
        )

    @strawberry.field(description="Everyone enrolled, mentors and mentees (admins).")
    async def participants(self, info: Info, first: First = DEFAULT_FIRST,
                           after: After = None) -> Connection[Participant] | None:
        window = Window.of("Participant", first=first, after=after)
        loaders = info.context.loaders
        found = await loaders.programme_participants.load(self.id)
        # A pair's mentor or mentee asked for later in this request is then already known.
        loaders.participant.prime_many({p.id: p for p in found})
        connection = window.page(found, id=by_id, node=Participant.of)
        await prefetch_page(info, "Participant", connection.nodes)
        return connection

    @strawberry.field(description="Enrolment, pair and session counts (admins).")
    async def summary(self, info: Info) -> Annotated[ProgrammeSummary, ANALYTICS] | None:
        found = await info.context.loaders.programme_summary.load(self.id)
        return analytics.ProgrammeSummary.of(found)

    @strawberry.field(description="The pairs formed in this programme.")
    async def pairs(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                    ) -> Connection[Annotated[Pair, MATCHING]] | None:
        window = Window.of("Pair", first=first, after=after)
        loaders = info.context.loaders
        found = await loaders.programme_pairs.load(self.id)
        loaders.pair.prime_many({p.id: p for p in found})
        connection = window.page(found, id=by_id, node=matching.Pair.of)
        await prefetch_page(info, "Pair", connection.nodes)
        return connection

    @strawberry.field(description="Who was invited and what they answered (admins).")
    async def invitations(self, info: Info, first: First = DEFAULT_FIRST,
                          after: After = None) -> Connection[Invitation] | None:
        window = Window.of("Invitation", first=first, after=after)
        found = await info.context.loaders.programme_invitations.load(self.id)
        connection = window.page(found, id=by_id, node=Invitation.of)
        await prefetch_page(info, "Invitation", connection.nodes)
        return connection

    @strawberry.field(description="Matching's scoring weights and limits (admins).")
    async def matching_config(self, info: Info) -> Annotated[MatchingConfig, MATCHING] | None:
        return matching.MatchingConfig.of(await info.context.loaders.matching_config.load(self.id))

    @strawberry.field(description="The pool a match run works with (admins).")
    async def pool_stats(self, info: Info) -> Annotated[PoolStats, MATCHING] | None:
        return matching.PoolStats.of(await info.context.loaders.pool_stats.load(self.id))

    @strawberry.field(description="Whole-cohort match runs, newest first (admins).")
    async def match_runs(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                         ) -> Connection[Annotated[MatchRun, MATCHING]] | None:
        window = Window.of("MatchRun", first=first, after=after)
        found = await info.context.loaders.programme_runs.load(self.id)
        return window.page(found, id=by_id, node=matching.MatchRun.of)


@strawberry.type(description="A weekly free slot in the participant's own time zone.")
class AvailabilityWindow:
    weekday: int = strawberry.field(description="0 = Monday ... 6 = Sunday.")
    start: str = strawberry.field(description="From, as HH:MM.")
    end: str = strawberry.field(description="Until, as HH:MM (after start).")

    @classmethod
    def many(cls, windows: list[clients.AvailabilityWindow]) -> list[AvailabilityWindow]:
        return [cls(weekday=w.weekday, start=w.start, end=w.end) for w in windows]


@strawberry.type(description="One self-declared diversity attribute (given with consent).")
class DiversityAttribute:
    name: str = strawberry.field(description="The attribute, e.g. generation.")
    value: str = strawberry.field(description="Its value, e.g. gen z.")

    @classmethod
    def many(cls, attributes: dict[str, str] | None) -> list[DiversityAttribute] | None:
        if attributes is None:
            return None
        return [cls(name=k, value=v) for k, v in attributes.items()]


# The profile survey's answers, described once for a participant and a survey version.
_TOPICS_TEACH = "Topics they can teach, with their proficiency."
_TOPICS_LEARN = "Topics they want to learn, by priority."
_INTERESTS = "Interests outside work, for conversation."
_AVAILABILITY = "Their weekly free slots."
_TIME_ZONE = "Their IANA time zone, e.g. Europe/Paris."
_MEETING_FORMATS = "The formats they can meet in."
_COMMUNICATION = "How they like to communicate (video, chat...)."
_LANGUAGES = "Languages they can hold a session in."
_BIO = ("A short introduction they wrote for their participant card, at most 1,000 "
        "characters.")
_MENTOR_CAPACITY = "How many mentees they take, as a mentor."
_DEI_OPT_IN = "Whether a mentor teaches DEI topics."
_AVOID = "Employees they prefer not to be paired with."
_DIVERSITY = "Only for the person themselves and HR admins."


@strawberry.type(description="Profile survey answers as one version recorded them.")
class SurveyAnswers:
    topics_teach: list[TopicSkill] = strawberry.field(description=_TOPICS_TEACH)
    topics_learn: list[TopicSkill] = strawberry.field(description=_TOPICS_LEARN)
    interests: list[str] = strawberry.field(description=_INTERESTS)
    availability: list[AvailabilityWindow] = strawberry.field(description=_AVAILABILITY)
    time_zone: str | None = strawberry.field(description=_TIME_ZONE)
    meeting_formats: list[MeetingFormat] = strawberry.field(description=_MEETING_FORMATS)
    communication_preferences: list[str] = strawberry.field(description=_COMMUNICATION)
    languages: list[str] = strawberry.field(description=_LANGUAGES)
    mentor_capacity: int = strawberry.field(description=_MENTOR_CAPACITY)
    dei_opt_in: bool = strawberry.field(description=_DEI_OPT_IN)
    avoid_employee_ids: list[strawberry.ID] = strawberry.field(description=_AVOID)
    diversity: list[DiversityAttribute] | None = strawberry.field(description=_DIVERSITY)
    bio: str | None = strawberry.field(description=_BIO)

    @classmethod
    def of(cls, a: clients.SurveyAnswersPublic) -> SurveyAnswers:
        return cls(**_survey_fields(a))


def _survey_fields(a: clients.SurveyAnswersPublic) -> dict[str, Any]:
    return {
        "topics_teach": TopicSkill.many(a.topics_teach),
        "topics_learn": TopicSkill.many(a.topics_learn), "interests": a.interests,
        "availability": AvailabilityWindow.many(a.availability), "time_zone": a.time_zone,
        "meeting_formats": [member(MeetingFormat, f, service=SERVICE)
                            for f in a.meeting_formats],
        "communication_preferences": a.communication_preferences, "languages": a.languages,
        "mentor_capacity": a.mentor_capacity, "dei_opt_in": a.dei_opt_in,
        "avoid_employee_ids": [strawberry.ID(e) for e in a.avoid_employee_ids],
        "diversity": DiversityAttribute.many(a.diversity), "bio": a.bio,
    }


@strawberry.type(description="One submitted version of a participant's survey.")
class SurveyVersion:
    version: int = strawberry.field(description="1 for the first answers, then one more each "
                                                "time.")
    submitted_at: datetime = strawberry.field(description="When it was submitted.")
    answers: SurveyAnswers = strawberry.field(description="The answers it recorded.")

    @classmethod
    def of(cls, v: clients.SurveyVersionPublic) -> SurveyVersion:
        return cls(version=v.version, submitted_at=v.submitted_at,
                   answers=SurveyAnswers.of(v.answers))


@strawberry.type(description="What one participant may see of another they may work with: "
                              "mentors on their shortlist, a mentee who picked them, their "
                              "partner while the pair is proposed or active. Never diversity, "
                              "avoid lists, the manager chain, survey history or other pairs.")
class ParticipantCard:
    participant_id: strawberry.ID = strawberry.field(description="The participation's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    given_name: str = strawberry.field(description="Given name.")
    family_name: str = strawberry.field(description="Family name.")
    job_title: str | None = strawberry.field(description="Job title.")
    department: str | None = strawberry.field(description="Department.")
    location: str | None = strawberry.field(description="Office or city.")
    time_zone: str | None = strawberry.field(description=_TIME_ZONE)
    languages: list[str] = strawberry.field(description=_LANGUAGES)
    topics_teach: list[TopicSkill] = strawberry.field(description=_TOPICS_TEACH)
    topics_learn: list[TopicSkill] = strawberry.field(description=_TOPICS_LEARN)
    bio: str | None = strawberry.field(description=_BIO)

    @classmethod
    def of(cls, c: clients.ParticipantCardPublic) -> ParticipantCard:
        return cls(
            participant_id=strawberry.ID(c.participant_id),
            programme_id=strawberry.ID(c.programme_id), role=ParticipantRole(c.role),
            given_name=c.given_name, family_name=c.family_name, job_title=c.job_title,
            department=c.department, location=c.location, time_zone=c.time_zone,
            languages=c.languages, topics_teach=TopicSkill.many(c.topics_teach),
            topics_learn=TopicSkill.many(c.topics_learn), bio=c.bio,
        )


@strawberry.type(description="An employee's opt-in to a programme, with their survey answers.")
class Participant:
    id: strawberry.ID = strawberry.field(description="The participation's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    employee_id: strawberry.ID = strawberry.field(description="The employee's id.")
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    status: ParticipantStatus = strawberry.field(description="Still taking part or not.")
    source: ParticipantSource | None = strawberry.field(description="How they were enrolled.")
    topics_teach: list[TopicSkill] = strawberry.field(description=_TOPICS_TEACH)
    topics_learn: list[TopicSkill] = strawberry.field(description=_TOPICS_LEARN)
    interests: list[str] = strawberry.field(description=_INTERESTS)
    availability: list[AvailabilityWindow] = strawberry.field(description=_AVAILABILITY)
    time_zone: str | None = strawberry.field(description=_TIME_ZONE)
    meeting_formats: list[MeetingFormat] = strawberry.field(description=_MEETING_FORMATS)
    communication_preferences: list[str] = strawberry.field(description=_COMMUNICATION)
    languages: list[str] = strawberry.field(description=_LANGUAGES)
    mentor_capacity: int = strawberry.field(description=_MENTOR_CAPACITY)
    dei_opt_in: bool = strawberry.field(description=_DEI_OPT_IN)
    avoid_employee_ids: list[strawberry.ID] = strawberry.field(description=_AVOID)
    diversity: list[DiversityAttribute] | None = strawberry.field(description=_DIVERSITY)
    bio: str | None = strawberry.field(description=_BIO)
    consent_at: datetime | None = strawberry.field(
        description="When they consented to their survey being used for matching.")
    survey_version: int = strawberry.field(description="The version of their current answers.")
    survey_updated_at: datetime | None = strawberry.field(
        description="When they last changed their answers.")
    enrolled_at: datetime = strawberry.field(description="When they were enrolled.")
    withdrawn_at: datetime | None = strawberry.field(description="When they withdrew.")

    @classmethod
    def of(cls, p: clients.ParticipantPublic) -> Participant:
        return cls(
            id=strawberry.ID(p.id), programme_id=strawberry.ID(p.programme_id),
            employee_id=strawberry.ID(p.employee_id), role=ParticipantRole(p.role),
            status=member(ParticipantStatus, p.status, service=SERVICE),
            source=maybe(ParticipantSource, p.source, service=SERVICE),
            consent_at=p.consent_at, survey_version=p.survey_version,
            survey_updated_at=p.survey_updated_at, enrolled_at=p.enrolled_at,
            withdrawn_at=p.withdrawn_at, **_survey_fields(p),
        )

    @strawberry.field(description="The employee behind this participation.")
    def employee(self, info: Info) -> Employee | None:
        return loaded(info.context.loaders.employee, self.employee_id, Employee.of)

    @strawberry.field(description="The programme they enrolled in.")
    def programme(self, info: Info) -> Programme | None:
        return loaded(info.context.loaders.programme, self.programme_id, Programme.of)


@strawberry.type(description="HR's invitation; only the employee's acceptance enrols them.")
class Invitation:
    id: strawberry.ID = strawberry.field(description="The invitation's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme invited to.")
    employee_id: strawberry.ID = strawberry.field(description="The invited employee's id.")
    role: ParticipantRole = strawberry.field(description="The role they are invited to take.")
    message: str = strawberry.field(description="HR's note to them.")
    status: InvitationStatus = strawberry.field(description="What they answered.")
    participant_id: strawberry.ID | None = strawberry.field(
        description="The participation an acceptance made.")
    invited_at: datetime = strawberry.field(description="When they were invited.")
    responded_at: datetime | None = strawberry.field(description="When they answered.")

    @classmethod
    def of(cls, i: clients.InvitationPublic) -> Invitation:
        return cls(
            id=strawberry.ID(i.id), programme_id=strawberry.ID(i.programme_id),
            employee_id=strawberry.ID(i.employee_id), role=ParticipantRole(i.role),
            message=i.message, status=member(InvitationStatus, i.status, service=SERVICE),
            participant_id=strawberry.ID(i.participant_id) if i.participant_id else None,
            invited_at=i.invited_at, responded_at=i.responded_at,
        )

    @strawberry.field(description="The programme invited to.")
    def programme(self, info: Info) -> Programme | None:
        return loaded(info.context.loaders.programme, self.programme_id, Programme.of)

    @strawberry.field(description="The invited employee.")
    def employee(self, info: Info) -> Employee | None:
        return loaded(info.context.loaders.employee, self.employee_id, Employee.of)

    @strawberry.field(description="The participation an acceptance made.")
    def participant(self, info: Info) -> Participant | None:
        if self.participant_id is None:
            return None
        return loaded(info.context.loaders.participant, self.participant_id, Participant.of)


@strawberry.type(description="A rejected import row: which row, which field, why.")
class RejectedRow:
    row: int = strawberry.field(description="The row's number (the first record is 1).")
    field: str = strawberry.field(description="The field at fault, as this schema names it.")
    reason: str = strawberry.field(description="Why it was rejected.")

    @classmethod
    def many(cls, rows: list[clients.RejectedRow]) -> list[RejectedRow]:
        return [cls(row=e.row, field=to_camel(e.field), reason=e.reason) for e in rows]


@strawberry.type(description="What an employee import changed; rejected rows wrote nothing.")
class ImportReport:
    created: int = strawberry.field(description="Employees created.")
    updated: int = strawberry.field(description="Employees changed.")
    unchanged: int = strawberry.field(description="Records that changed nothing.")
    rejected: int = strawberry.field(description="Records refused (see errors).")
    errors: list[RejectedRow] = strawberry.field(description="Why each was refused.")

    @classmethod
    def of(cls, r: clients.ImportReportPublic) -> ImportReport:
        return cls(created=r.created, updated=r.updated, unchanged=r.unchanged,
                   rejected=r.rejected, errors=RejectedRow.many(r.errors))


@strawberry.type(description="What a participant import did; rejected records wrote nothing.")
class ParticipantImportReport:
    enrolled: int = strawberry.field(description="People enrolled.")
    updated: int = strawberry.field(description="Participants whose answers changed.")
    rejected: int = strawberry.field(description="Records refused (see errors).")
    errors: list[RejectedRow] = strawberry.field(description="Why each was refused.")

    @classmethod
    def of(cls, r: clients.ParticipantImportReportPublic) -> ParticipantImportReport:
        return cls(enrolled=r.enrolled, updated=r.updated, rejected=r.rejected,
                   errors=RejectedRow.many(r.errors))


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="One employee record from the HRIS.")
class EmployeeInput:
    external_id: str = strawberry.field(description="The HRIS's id: the key of the upsert.")
    email: str = strawberry.field(description="Work email.")
    given_name: str = strawberry.field(description="Given name.")
    family_name: str = strawberry.field(description="Family name.")
    job_title: str | None = strawberry.field(default=None, description="Job title.")
    job_level: int | None = strawberry.field(
        default=None, description="Job level, 1 up to the deployment's scale (20 unless set).")
    department: str | None = strawberry.field(default=None, description="Department.")
    manager_external_id: str | None = strawberry.field(
        default=None, description="The manager's externalId (in this import or known).")
    location: str | None = strawberry.field(default=None, description="Office or city.")
    time_zone: str | None = strawberry.field(default=None,
                                             description="IANA time zone, e.g. Europe/Paris.")
    hire_on: date | None = strawberry.field(default=None, description="The day they joined.")
    leave_on: date | None = strawberry.field(default=None,
                                             description="The day they leave or left.")
    active: bool = strawberry.field(default=True, description="Whether they still work here.")

    def to_record(self) -> clients.EmployeeRecord:
        # The HRIS import's own names for the two dates are hire_date and leave_date.
        return clients.EmployeeRecord(
            external_id=self.external_id, email=self.email, given_name=self.given_name,
            family_name=self.family_name, job_title=self.job_title, job_level=self.job_level,
            department=self.department, manager_external_id=self.manager_external_id,
            location=self.location, time_zone=self.time_zone, hire_date=self.hire_on,
            leave_date=self.leave_on, active=self.active,
        )


@strawberry.input(description="A measurable objective, e.g. +30 % proficiency in six months.")
class GoalTemplateInput:
    title: str = strawberry.field(description="What the goal is called.")
    id: str | None = strawberry.field(default=None, description="Its id, kept on update; "
                                                                "left out, a new one.")
    topic: str | None = strawberry.field(default=None, description="The topic it is about.")
    measure: str | None = strawberry.field(default=None,
                                           description="How progress is measured.")
    unit: str | None = strawberry.field(default=None, description="The measure's unit.")
    baseline: float | None = strawberry.field(default=None,
                                              description="Where a goal usually starts from.")
    target: float | None = strawberry.field(default=None, description="The value aimed at.")
    target_change_percent: float | None = strawberry.field(
        default=None, description="The change aimed at, in per cent (-100 to 1,000).")
    within_months: int | None = strawberry.field(default=None,
                                                 description="Months to reach it in, 1 to 60.")


@strawberry.input(description="Guidance or a training resource shown to participants.")
class GuidelineInput:
    title: str = strawberry.field(description="Its title.")
    kind: GuidelineKind | None = strawberry.field(default=None,
                                                  description="What it is about; OTHER if "
                                                              "left out.")
    body: str | None = strawberry.field(default=None, description="Its text.")
    url: str | None = strawberry.field(default=None, description="A link to more.")


# The programme settings, described once for creating and for changing a programme.
_S = {
    "description": "What it is for, for participants.",
    "objectives": "What the organisation wants from it.",
    "goal_templates": "Objectives pairs can adopt.",
    "blackout_dates": "Holidays (at most 366 dates, 1900-2200): no session is planned on them.",
    "mentor_max_level": "Eligibility: mentors (juniors) at this job level or below.",
    "mentee_min_level": "Eligibility: mentees (seniors) at this job level or above.",
    "min_level_gap": "Eligibility: levels a mentee must be above their mentor.",
    "enrolment_opens_on": "The first day of enrolment.",
    "enrolment_closes_on": "The last day of enrolment.",
    "capacity": "Most active participants.",
    "session_cadence": "How often pairs are meant to meet.",
    "session_minutes": "How long a session is meant to last: 30, 45 or 60.",
    "duration_weeks": "How long the programme runs, 1 to 156 weeks.",
    "meeting_format": "Where sessions are held.",
    "topics": "The topic catalogue; left out on creation, the seed topics.",
    "guidelines": "Guidance for participants.",
    "mutual": "Whether the senior teaches back.",
    "matching_mode": "Who decides the pairs.",
    "diversity_objective": "Whether matching favours pairs across a diversity attribute.",
}


def _new(name: str) -> Any:
    return strawberry.field(default=None, description=_S[name])


def _change(name: str) -> Any:
    return strawberry.field(default=strawberry.UNSET, description=_S[name])


@strawberry.input(description="A new programme; level bounds keep mentors junior to mentees. "
                                "Settings left out take the service's defaults.")
class ProgrammeInput:
    name: str = strawberry.field(description="Its name.")
    description: str | None = _new("description")
    status: ProgrammeStatus | None = strawberry.field(
        default=None, description="OPEN (default), or DRAFT while it is set up; no other.")
    objectives: str | None = _new("objectives")
    goal_templates: list[GoalTemplateInput] | None = _new("goal_templates")
    blackout_dates: list[date] | None = _new("blackout_dates")
    mentor_max_level: int | None = _new("mentor_max_level")
    mentee_min_level: int | None = _new("mentee_min_level")
    min_level_gap: int | None = _new("min_level_gap")
    enrolment_opens_on: date | None = _new("enrolment_opens_on")
    enrolment_closes_on: date | None = _new("enrolment_closes_on")
    capacity: int | None = _new("capacity")
    session_cadence: SessionCadence | None = _new("session_cadence")
    session_minutes: int | None = _new("session_minutes")
    duration_weeks: int | None = _new("duration_weeks")
    meeting_format: MeetingFormat | None = _new("meeting_format")
    topics: list[str] | None = _new("topics")
    guidelines: list[GuidelineInput] | None = _new("guidelines")
    mutual: bool | None = _new("mutual")
    matching_mode: MatchingMode | None = _new("matching_mode")
    diversity_objective: bool | None = _new("diversity_objective")


@strawberry.input(description="Only the settings given change; null clears an optional one "
                                "(a level bound, the enrolment window, the capacity).")
class ProgrammeUpdateInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Its name.")
    description: str | None = _change("description")
    objectives: str | None = _change("objectives")
    goal_templates: list[GoalTemplateInput] | None = _change("goal_templates")
    blackout_dates: list[date] | None = _change("blackout_dates")
    mentor_max_level: int | None = _change("mentor_max_level")
    mentee_min_level: int | None = _change("mentee_min_level")
    min_level_gap: int | None = _change("min_level_gap")
    enrolment_opens_on: date | None = _change("enrolment_opens_on")
    enrolment_closes_on: date | None = _change("enrolment_closes_on")
    capacity: int | None = _change("capacity")
    session_cadence: SessionCadence | None = _change("session_cadence")
    session_minutes: int | None = _change("session_minutes")
    duration_weeks: int | None = _change("duration_weeks")
    meeting_format: MeetingFormat | None = _change("meeting_format")
    topics: list[str] | None = _change("topics")
    guidelines: list[GuidelineInput] | None = _change("guidelines")
    mutual: bool | None = _change("mutual")
    matching_mode: MatchingMode | None = _change("matching_mode")
    diversity_objective: bool | None = _change("diversity_objective")


@strawberry.input(description="A topic someone can teach (proficiency 1-5) or learn "
                                "(priority, 1 first).")
class TopicSkillInput:
    topic: str = strawberry.field(description="A topic of the programme's catalogue.")
    level: int = strawberry.field(description="Proficiency 1-5 for a topic taught; priority "
                                              "for one learnt.")


@strawberry.input(description="A weekly free slot in the participant's own time zone.")
class AvailabilityWindowInput:
    weekday: int = strawberry.field(description="0 = Monday ... 6 = Sunday.")
    start: str = strawberry.field(description="From, as HH:MM.")
    end: str = strawberry.field(description="Until, as HH:MM (after start).")


@strawberry.input(description="One self-declared diversity attribute.")
class DiversityAttributeInput:
    name: str = strawberry.field(description="The attribute, e.g. generation.")
    value: str = strawberry.field(description="Its value, e.g. gen z.")


def _answer(description: str) -> Any:
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input(description="Profile survey answers. In updateSurvey only the fields given "
                                "change (an explicit null resets one to its default) and the "
                                "others are kept; elsewhere a field left out takes its "
                                "default. Diversity attributes are stored only with "
                                "diversityConsent.")
class SurveyInput:
    topics_teach: list[TopicSkillInput] | None = _answer(_TOPICS_TEACH)
    topics_learn: list[TopicSkillInput] | None = _answer(_TOPICS_LEARN)
    interests: list[str] | None = _answer(_INTERESTS)
    availability: list[AvailabilityWindowInput] | None = _answer(_AVAILABILITY)
    time_zone: str | None = _answer(_TIME_ZONE)
    meeting_formats: list[MeetingFormat] | None = _answer(_MEETING_FORMATS)
    communication_preferences: list[str] | None = _answer(_COMMUNICATION)
    languages: list[str] | None = _answer(_LANGUAGES)
    mentor_capacity: int | None = _answer("How many mentees a mentor takes, 1 to 10.")
    dei_opt_in: bool | None = _answer("A mentor teaches DEI topics only with it.")
    avoid_employee_ids: list[strawberry.ID] | None = _answer(_AVOID)
    diversity: list[DiversityAttributeInput] | None = _answer(
        "Self-declared attributes, at most 10; kept only with diversityConsent.")
    diversity_consent: bool | None = _answer(
        "Consent to store the diversity attributes (the person themselves only).")
    bio: str | None = _answer(_BIO)


@strawberry.input(description="Opting in with the survey; employeeId defaults to the caller's.")
class EnrolInput(SurveyInput):
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Who enrols; the token's employee when left out.")


@strawberry.input(description="An opted-in person from a survey run elsewhere, by employeeId "
                                "or externalId; consentAt is required.")
class ParticipantImportInput(SurveyInput):
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    consent_at: datetime = strawberry.field(description="When they consented, with its "
                                                        "offset; not in the future.")
    employee_id: strawberry.ID | None = strawberry.field(default=None,
                                                         description="Upward's id for them.")
    external_id: str | None = strawberry.field(default=None,
                                               description="The HRIS's id for them.")


@strawberry.input(description="Invite an employee as mentor or mentee.")
class InviteInput:
    employee_id: strawberry.ID = strawberry.field(description="Who is invited.")
    role: ParticipantRole = strawberry.field(description="The role they are invited to take.")
    message: str | None = strawberry.field(default=None, description="A note to them.")


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


# --- payloads --------------------------------------------------------------------------


@strawberry.type(description="What importEmployees did: the report, or why not.")
class ImportEmployeesPayload:
    report: ImportReport | None = strawberry.field(
        description="What the import changed; null when errors say why nothing was.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What createProgramme did: the programme, or why not.")
class CreateProgrammePayload:
    programme: Programme | None = strawberry.field(
        description="The programme created; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What updateProgramme did: the programme, or why not.")
class UpdateProgrammePayload:
    programme: Programme | None = strawberry.field(
        description="The programme as changed; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What changeProgrammeStatus did: the programme, or why not.")
class ChangeProgrammeStatusPayload:
    programme: Programme | None = strawberry.field(
        description="The programme in its new status; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What addProgrammeTopics did: the programme, or why not.")
class AddProgrammeTopicsPayload:
    programme: Programme | None = strawberry.field(
        description="The programme with its catalogue; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What enrol did: the participant, or why not.")
class EnrolPayload:
    participant: Participant | None = strawberry.field(
        description="The new participation; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What importParticipants did: the report, or why not.")
class ImportParticipantsPayload:
    report: ParticipantImportReport | None = strawberry.field(
        description="What the import did; null when errors say why nothing was.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What invite did: the invitation, or why not.")
class InvitePayload:
    invitation: Invitation | None = strawberry.field(
        description="The invitation sent; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What acceptInvitation did: the participant, or why not.")
class AcceptInvitationPayload:
    participant: Participant | None = strawberry.field(
        description="The participation the acceptance made; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What declineInvitation did: the invitation, or why not.")
class DeclineInvitationPayload:
    invitation: Invitation | None = strawberry.field(
        description="The invitation, declined; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What updateSurvey did: the participant, or why not.")
class UpdateSurveyPayload:
    participant: Participant | None = strawberry.field(
        description="The participant with the new answers; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What eraseEmployee did: the employee, or why not.")
class EraseEmployeePayload:
    employee: Employee | None = strawberry.field(
        description="The pseudonymised employee; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What withdraw did: the participant, or why not.")
class WithdrawPayload:
    participant: Participant | None = strawberry.field(
        description="The participant, withdrawn; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programmes and the people in them."""

    @strawberry.field(description="Every programme.")
    async def programmes(self, info: Info, first: First = DEFAULT_FIRST,
                         after: After = None) -> Connection[Programme]:
        window = Window.of("Programme", first=first, after=after)
        found = await info.context.enrolment.programmes()
        info.context.loaders.programme.prime_many({p.id: p for p in found})
        return window.page(found, id=by_id, node=Programme.of)

    @strawberry.field(description="One programme.")
    async def programme(self, info: Info, programme_id: ProgrammeId) -> Programme | None:
        identifier(programme_id, field="programme_id")
        return Programme.of(await info.context.loaders.programme.load(programme_id))

    @strawberry.field(description="One employee: yourself, or anyone for admins.")
    async def employee(self, info: Info, employee_id: EmployeeId) -> Employee | None:
        identifier(employee_id, field="employee_id")
        return Employee.of(await info.context.loaders.employee.load(employee_id))

    @strawberry.field(description="Employees for an invite picker (admins): active ones by "
                                  "family name, then given name; erased people never.")
    async def employees(
        self, info: Info,
        search: Annotated[str | None, described(
            "A fragment of the given, family or full name or the e-mail, any case; at most "
            "100 characters.")] = None,
        department: Annotated[str | None, described("This department only.")] = None,
        job_level: Annotated[int | None, described("This job level only.")] = None,
        include_inactive: Annotated[bool, described("Leavers too.")] = False,
        first: First = DEFAULT_FIRST, after: After = None,
    ) -> Connection[Employee]:
        window = Window.of("Employee", first=first, after=after)
        found = await info.context.enrolment.search_employees(
            search=search, department=department, job_level=job_level,
            include_inactive=include_inactive, after=window.after_id, limit=window.first)
        info.context.loaders.employee.prime_many({e.id: e for e in found.items})
        return window.served(found.items, total=found.total, has_more=found.has_more,
                             id=by_id, node=Employee.of)

    @strawberry.field(description="The employee the HRIS knows by this id (admins and HRIS "
                                  "jobs), e.g. E0001.")
    async def employee_by_external_id(
        self, info: Info,
        external_id: Annotated[str, described("The HRIS's id for them (externalId).")],
    ) -> Employee | None:
        identifier(external_id, field="external_id")
        return Employee.of(await info.context.enrolment.employee_by_external_id(external_id))

    @strawberry.field(description="One participant: yourself, or anyone for admins.")
    async def participant(self, info: Info,
                          participant_id: ParticipantId) -> Participant | None:
        identifier(participant_id, field="participant_id")
        return Participant.of(await info.context.loaders.participant.load(participant_id))

    @strawberry.field(description="A participant's card: for the people they may work with "
                                  "(shortlist, pick, partner) and admins.")
    async def participant_card(self, info: Info,
                               participant_id: ParticipantId) -> ParticipantCard | None:
        identifier(participant_id, field="participant_id")
        return ParticipantCard.of(
            await info.context.loaders.participant_card.load(participant_id))


@strawberry.type
class InvitationQuery:
    """Invitations and survey history."""

    @strawberry.field(description="A programme's invitations (admins).")
    async def invitations(self, info: Info, programme_id: ProgrammeId,
                          first: First = DEFAULT_FIRST,
                          after: After = None) -> Connection[Invitation]:
        window = Window.of("Invitation", first=first, after=after)
        found = await info.context.loaders.programme_invitations.load(programme_id)
        return window.page(found, id=by_id, node=Invitation.of)

    @strawberry.field(description="The caller's own invitations, answered or not.")
    async def my_invitations(self, info: Info, first: First = DEFAULT_FIRST,
                             after: After = None) -> Connection[Invitation]:
        window = Window.of("Invitation", first=first, after=after)
        employee_id = info.context.own_employee_id()
        found = ([] if employee_id is None  # an admin's token names no one: none
                 else await info.context.enrolment.employee_invitations(employee_id))
        return window.page(found, id=by_id, node=Invitation.of)

    @strawberry.field(description="Every version of a participant's survey, oldest first.")
    async def survey_versions(self, info: Info,
                              participant_id: ParticipantId) -> list[SurveyVersion]:
        found = await info.context.enrolment.survey_versions(participant_id)
        return [SurveyVersion.of(v) for v in found]


@strawberry.type
class Mutation:
    """Employees, programmes, enrolment, invitations, surveys."""

    @strawberry.mutation(description="Upsert employees as an HRIS would (hris, hr_admin).")
    async def import_employees(
        self, info: Info,
        records: Annotated[list[EmployeeInput], described("The records, 1 per employee.")],
    ) -> ImportEmployeesPayload | None:
        enrolment = info.context.enrolment
        report, errors = await attempt(
            info, lambda: enrolment.import_employees([r.to_record() for r in records]),
            ImportReport.of, body="records")
        return ImportEmployeesPayload(report=report, errors=errors)

    @strawberry.mutation(description="Create a programme (hr_admin, programme_manager).")
    async def create_programme(
        self, info: Info, input: Annotated[ProgrammeInput, described("Its settings.")],
    ) -> CreateProgrammePayload | None:
        data = clients.ProgrammeCreate.model_validate(plain(input))
        programme, errors = await attempt(
            info, lambda: info.context.enrolment.create_programme(data), Programme.of,
            body="input")
        return CreateProgrammePayload(programme=programme, errors=errors)

    @strawberry.mutation(description="Change a programme's settings within what its state "
                                     "allows (admins).")
    async def update_programme(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[ProgrammeUpdateInput, described("The settings to change.")],
    ) -> UpdateProgrammePayload | None:
        data = clients.ProgrammeUpdate.model_validate(given(input))
        programme, errors = await attempt(
            info, lambda: info.context.enrolment.update_programme(programme_id, data),
            Programme.of, body="input")
        return UpdateProgrammePayload(programme=programme, errors=errors)

    @strawberry.mutation(description="Move a programme along draft -> open -> running -> closed "
                                     "(admins).")
    async def change_programme_status(
        self, info: Info, programme_id: ProgrammeId,
        status: Annotated[ProgrammeStatus, described("The status to move to.")],
    ) -> ChangeProgrammeStatusPayload | None:
        programme, errors = await attempt(
            info, lambda: info.context.enrolment.transition_programme(programme_id,
                                                                      plain(status)),
            Programme.of)
        return ChangeProgrammeStatusPayload(programme=programme, errors=errors)

    @strawberry.mutation(description="Add topics to a programme's catalogue (admins).")
    async def add_programme_topics(
        self, info: Info, programme_id: ProgrammeId,
        topics: Annotated[list[str], described("The topics to add; known ones are kept once.")],
    ) -> AddProgrammeTopicsPayload | None:
        programme, errors = await attempt(
            info, lambda: info.context.enrolment.add_topics(programme_id, topics), Programme.of)
        return AddProgrammeTopicsPayload(programme=programme, errors=errors)

    @strawberry.mutation(description="Opt in as mentor (junior who teaches) or mentee (senior "
                                     "who learns).")
    async def enrol(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[EnrolInput, described("The role and the profile survey.")],
    ) -> EnrolPayload | None:
        async def call() -> clients.ParticipantPublic:
            employee_id = input.employee_id or _own_employee_id(info, "input.employeeId")
            data = clients.ParticipantCreate.model_validate(
                _survey(input) | {"employee_id": employee_id})
            return await info.context.enrolment.enrol(programme_id, data)

        participant, errors = await attempt(info, call, Participant.of, body="input")
        return EnrolPayload(participant=participant, errors=errors)

    @strawberry.mutation(description="Enrol people who opted in through a survey run elsewhere "
                                     "(hr_admin); each needs a consent time.")
    async def import_participants(
        self, info: Info, programme_id: ProgrammeId,
        records: Annotated[list[ParticipantImportInput], described("The records, 1 per "
                                                                   "person.")],
    ) -> ImportParticipantsPayload | None:
        rows = [clients.ParticipantImportRecord.model_validate(_survey(r)) for r in records]
        report, errors = await attempt(
            info, lambda: info.context.enrolment.import_participants(programme_id, rows),
            ParticipantImportReport.of, body="records")
        return ImportParticipantsPayload(report=report, errors=errors)

    @strawberry.mutation(description="Invite an employee; only their acceptance enrols them "
                                     "(admins).")
    async def invite(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[InviteInput, described("Who, in which role, with what note.")],
    ) -> InvitePayload | None:
        data = clients.InvitationCreate.model_validate(plain(input))
        invitation, errors = await attempt(
            info, lambda: info.context.enrolment.invite(programme_id, data), Invitation.of,
            body="input")
        return InvitePayload(invitation=invitation, errors=errors)

    @strawberry.mutation(description="Accept an invitation with the profile survey "
                                     "(the invited employee only).")
    async def accept_invitation(
        self, info: Info, invitation_id: InvitationId,
        input: Annotated[SurveyInput | None, described("The survey; left out, an empty one.")]
        = None,
    ) -> AcceptInvitationPayload | None:
        answers = clients.SurveyAnswers.model_validate(_survey(input or SurveyInput()))
        participant, errors = await attempt(
            info, lambda: info.context.enrolment.accept_invitation(invitation_id, answers),
            Participant.of, body="input")
        return AcceptInvitationPayload(participant=participant, errors=errors)

    @strawberry.mutation(description="Decline an invitation (the invited employee only).")
    async def decline_invitation(self, info: Info, invitation_id: InvitationId,
                                 ) -> DeclineInvitationPayload | None:
        invitation, errors = await attempt(
            info, lambda: info.context.enrolment.decline_invitation(invitation_id),
            Invitation.of)
        return DeclineInvitationPayload(invitation=invitation, errors=errors)

    @strawberry.mutation(description="Submit new survey answers: a new version matching sees "
                                     "next (the participant, or admins).")
    async def update_survey(
        self, info: Info, participant_id: ParticipantId,
        input: Annotated[SurveyInput, described(
            "The answers that change; those left out are kept.")],
    ) -> UpdateSurveyPayload | None:
        sent = given(input)
        if isinstance(sent.get("diversity"), list):
            sent["diversity"] = {a["name"]: a["value"] for a in sent["diversity"]}
        change = clients.SurveyChange.model_validate(sent)
        capacity = sent.get("mentor_capacity")
        if capacity is not None:
            # Active pairs are matching's: a mentor cannot take fewer mentees than they have.
            pairs: list[clients.PairPublic] | None
            pairs, errors = await attempt(info, lambda: info.context.matching.pairs(
                participant_id=participant_id, status="active"), lambda found: found)
            if errors:
                return UpdateSurveyPayload(participant=None, errors=errors)
            active = [p for p in pairs or [] if p.mentor_participant_id == participant_id]
            if capacity < len(active):
                return UpdateSurveyPayload(participant=None, errors=[UserError(
                    field="input.mentorCapacity", code=ErrorCode.CONFLICT,
                    message=f"mentorCapacity {capacity} is below this mentor's "
                            f"{len(active)} active pairs; end a pair first")])
        participant, errors = await attempt(
            info, lambda: info.context.enrolment.change_survey(participant_id, change),
            Participant.of, body="input")
        return UpdateSurveyPayload(participant=participant, errors=errors)

    @strawberry.mutation(description="Erase a person on request: pseudonymised in every "
                                     "service, aggregates kept (hr_admin).")
    async def erase_employee(self, info: Info,
                             employee_id: EmployeeId) -> EraseEmployeePayload | None:
        employee, errors = await attempt(
            info, lambda: info.context.enrolment.erase_employee(employee_id), Employee.of)
        return EraseEmployeePayload(employee=employee, errors=errors)

    @strawberry.mutation(description="Leave a programme; the participant's pairs end.")
    async def withdraw(
        self, info: Info, participant_id: ParticipantId,
        reason: Annotated[str | None, described("Why, for the record.")] = None,
    ) -> WithdrawPayload | None:
        participant, errors = await attempt(
            info, lambda: info.context.enrolment.withdraw(participant_id, reason),
            Participant.of)
        return WithdrawPayload(participant=participant, errors=errors)
