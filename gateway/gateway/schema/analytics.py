"""Analytics' part of the schema: what the event stream says about each programme, its
anonymous pulse surveys and the milestones its pairs reach."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from gateway import clients
from gateway.clients import identifier
from gateway.context import Info
from gateway.schema.enrolment import ParticipantRole
from gateway.schema.errors import USER_ERRORS, UserError, attempt, maybe, member
from gateway.schema.inputs import ProgrammeId, described, plain
from gateway.schema.pagination import DEFAULT_FIRST, After, Connection, First, Window, by_id

SERVICE = "analytics"

PulseSurveyId = Annotated[strawberry.ID, strawberry.argument(
    description="The pulse survey's id.")]


# --- closed sets -----------------------------------------------------------------------


@strawberry.enum(description="What a pulse survey question asks for.")
class PulseQuestionKind(Enum):
    SCALE = strawberry.enum_value("scale", description="A value from 1 to 5.")
    NPS = strawberry.enum_value("nps", description="Net promoter: a value from 0 to 10.")
    CHOICE = strawberry.enum_value("choice", description="One of the question's choices.")
    TEXT = strawberry.enum_value("text", description="Free text (optional to answer).")


@strawberry.enum(description="Whether a pulse survey takes answers or publishes results.")
class PulseSurveyStatus(Enum):
    OPEN = strawberry.enum_value("open", description="Taking answers; no results yet.")
    CLOSED = strawberry.enum_value("closed", description="Closed to answers; results "
                                                         "published.")


@strawberry.enum(description="A band of job levels that results can be cut by.")
class LevelBand(Enum):
    LEVELS_1_TO_3 = strawberry.enum_value("1-3", description="Job levels 1 to 3.")
    LEVELS_4_TO_6 = strawberry.enum_value("4-6", description="Job levels 4 to 6.")
    LEVELS_7_AND_UP = strawberry.enum_value("7+", description="Job level 7 and above.")
    UNKNOWN = strawberry.enum_value("unknown", description="No job level known.")


@strawberry.enum(description="A milestone a pair reached.")
class Milestone(Enum):
    FIRST_SESSION_HELD = strawberry.enum_value("first_session_held",
                                               description="The pair held its first session.")
    FIVE_SESSIONS_HELD = strawberry.enum_value("five_sessions_held",
                                               description="The pair held five sessions.")
    GOAL_ACHIEVED = strawberry.enum_value("goal_achieved",
                                          description="The pair achieved a goal.")
    PROGRAMME_COMPLETED = strawberry.enum_value("programme_completed",
                                                description="The pair completed the "
                                                            "programme.")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="How one programme is going, counted from events by analytics.")
class ProgrammeSummary:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    participants_enrolled: int = strawberry.field(description="Participants enrolled now.")
    mentors: int = strawberry.field(description="Of them, mentors.")
    mentees: int = strawberry.field(description="Of them, mentees.")
    pairs_formed: int = strawberry.field(description="Pairs formed, ever.")
    pairs_active: int = strawberry.field(description="Pairs active now.")
    sessions_scheduled: int = strawberry.field(description="Sessions planned, ever.")
    sessions_held: int = strawberry.field(description="Sessions held, ever.")
    pairs_at_risk: int = strawberry.field(
        description="Pairs ever flagged at risk (no session for twice the cadence).")
    pairs_fit_flagged: int = strawberry.field(
        description="Pairs for which a poor fit was reported twice.")
    pairs_closure_proposed: int = strawberry.field(
        description="Pairs silent long enough that closing them was proposed.")

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
            pairs_at_risk=s.pairs_at_risk, pairs_fit_flagged=s.pairs_fit_flagged,
            pairs_closure_proposed=s.pairs_closure_proposed,
        )


@strawberry.type(description="A question of a pulse survey.")
class PulseQuestion:
    id: strawberry.ID = strawberry.field(description="The question's id in its survey (q1, "
                                                     "q2, ...).")
    kind: PulseQuestionKind = strawberry.field(description="What it asks for.")
    prompt: str = strawberry.field(description="The question as participants read it.")
    choices: list[str] = strawberry.field(description="The choices of a choice question.")

    @classmethod
    def of(cls, q: clients.PulseQuestionPublic) -> PulseQuestion:
        return cls(id=strawberry.ID(q.id), kind=member(PulseQuestionKind, q.kind,
                                                       service=SERVICE),
                   prompt=q.prompt, choices=q.choices)


@strawberry.type(description="A programme's anonymous pulse survey: answered once per "
                             "participant, results only for groups of 5 or more.")
class PulseSurvey:
    id: strawberry.ID = strawberry.field(description="The survey's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    title: str = strawberry.field(description="The survey's title.")
    status: PulseSurveyStatus = strawberry.field(description="Taking answers, or closed.")
    questions: list[PulseQuestion] = strawberry.field(description="Its questions, in order.")
    created_at: datetime = strawberry.field(description="When it was created.")
    closed_at: datetime | None = strawberry.field(description="When it was closed, if it "
                                                              "was.")

    @classmethod
    def of(cls, s: clients.PulseSurveyPublic) -> PulseSurvey:
        return cls(id=strawberry.ID(s.id), programme_id=strawberry.ID(s.programme_id),
                   title=s.title, status=member(PulseSurveyStatus, s.status, service=SERVICE),
                   questions=[PulseQuestion.of(q) for q in s.questions],
                   created_at=s.created_at, closed_at=s.closed_at)


@strawberry.type(description="How many answers gave a value or choice.")
class ValueCount:
    value: str = strawberry.field(description="The value (1-5, 0-10) or the choice.")
    count: int = strawberry.field(description="How many answers gave it.")


@strawberry.type(description="One question's figures over a published group.")
class PulseQuestionResult:
    question_id: strawberry.ID = strawberry.field(description="The question's id.")
    kind: PulseQuestionKind = strawberry.field(description="What it asked for.")
    prompt: str = strawberry.field(description="The question.")
    answered: int = strawberry.field(description="How many of the group answered it.")
    mean: float | None = strawberry.field(description="The mean value (scale and NPS).")
    nps: int | None = strawberry.field(description="Net promoter score, -100 to 100 (NPS "
                                                   "questions): promoters (9-10) minus "
                                                   "detractors (0-6), in percent.")
    distribution: list[ValueCount] = strawberry.field(description="Answers per value or "
                                                                  "choice.")
    texts: list[str] = strawberry.field(description="Free-text answers, sorted by value "
                                                    "(never in the order they were given).")


@strawberry.type(description="One cut of a closed pulse survey's results. A group under "
                             "the threshold, or one that would let a smaller group be worked "
                             "out from other cuts, is suppressed: no figure at all.")
class PulseSurveyResults:
    survey_id: strawberry.ID = strawberry.field(description="The survey's id.")
    role: ParticipantRole | None = strawberry.field(description="The role cut by, if any.")
    department: str | None = strawberry.field(description="The department cut by, if any.")
    level_band: LevelBand | None = strawberry.field(description="The level band cut by, if "
                                                                "any.")
    min_group: int = strawberry.field(description="The fewest respondents a published group "
                                                  "has (5).")
    suppressed: bool = strawberry.field(description="True: this cut is not published.")
    respondents: int | None = strawberry.field(description="How many answered, when "
                                                           "published.")
    questions: list[PulseQuestionResult] = strawberry.field(description="Per question, when "
                                                                        "published.")

    @classmethod
    def of(cls, r: clients.PulseSurveyResultsPublic) -> PulseSurveyResults:
        return cls(
            survey_id=strawberry.ID(r.survey_id),
            role=maybe(ParticipantRole, r.role, service=SERVICE), department=r.department,
            level_band=maybe(LevelBand, r.level_band, service=SERVICE),
            min_group=r.min_group, suppressed=r.suppressed, respondents=r.respondents,
            questions=[PulseQuestionResult(
                question_id=strawberry.ID(q.question_id),
                kind=member(PulseQuestionKind, q.kind, service=SERVICE), prompt=q.prompt,
                answered=q.answered, mean=q.mean, nps=q.nps,
                distribution=[ValueCount(value=d.value, count=d.count)
                              for d in q.distribution],
                texts=q.texts) for q in r.questions])


@strawberry.type(description="Pairs of a programme that reached a milestone on a day, for "
                             "intranets and newsletters.")
class Celebration:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    milestone: Milestone = strawberry.field(description="What they reached.")
    reached_on: date = strawberry.field(description="The day (UTC).")
    pairs: int = strawberry.field(description="How many pairs reached it that day.")
    named: list[str] = strawberry.field(description="People who consented to being named; "
                                                    "empty until that consent exists.")

    @classmethod
    def of(cls, c: clients.CelebrationPublic) -> Celebration:
        return cls(programme_id=strawberry.ID(c.programme_id),
                   milestone=member(Milestone, c.milestone, service=SERVICE),
                   reached_on=c.reached_on, pairs=c.pairs, named=c.named)


def _celebration_key(c: clients.CelebrationPublic) -> str:
    return f"{c.reached_on.isoformat()}.{c.milestone}"


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="A question of a new pulse survey.")
class PulseQuestionInput:
    kind: PulseQuestionKind = strawberry.field(description="What it asks for.")
    prompt: str = strawberry.field(description="The question (1-200 characters).")
    choices: list[str] | None = strawberry.field(
        default=None, description="A choice question's 2-20 distinct choices; none "
                                  "otherwise.")


@strawberry.input(description="A new pulse survey.")
class CreatePulseSurveyInput:
    title: str = strawberry.field(description="Its title (1-200 characters).")
    questions: list[PulseQuestionInput] = strawberry.field(description="1-20 questions.")


@strawberry.input(description="The answer to one question: a value, a choice or a text.")
class PulseAnswerInput:
    question_id: strawberry.ID = strawberry.field(description="The question's id (q1, ...).")
    value: int | None = strawberry.field(default=None,
                                         description="1-5 (scale) or 0-10 (NPS).")
    choice: str | None = strawberry.field(default=None,
                                          description="One of a choice question's choices.")
    text: str | None = strawberry.field(default=None,
                                        description="A free-text answer (up to 4,000 "
                                                    "characters).")


# --- payloads --------------------------------------------------------------------------


@strawberry.type(description="What createPulseSurvey did: the survey, or why not.")
class CreatePulseSurveyPayload:
    pulse_survey: PulseSurvey | None = strawberry.field(
        description="The new survey, open; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What closePulseSurvey did: the survey, or why not.")
class ClosePulseSurveyPayload:
    pulse_survey: PulseSurvey | None = strawberry.field(
        description="The survey, closed; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What answerPulseSurvey did: whether the answer was taken.")
class AnswerPulseSurveyPayload:
    answered: bool = strawberry.field(description="True when the answer was recorded "
                                                  "(anonymously).")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="A role's participants in a programme.")
class RoleFunnel:
    role: ParticipantRole = strawberry.field(description="The role.")
    enrolled: int = strawberry.field(description="Participants who opted in, ever.")
    active: int = strawberry.field(description="Of them, taking part now.")
    withdrawn: int = strawberry.field(description="Of them, withdrawn.")


@strawberry.type(description="Pairs that ended for one reason.")
class EndedPairs:
    reason: str = strawberry.field(description="Why they ended (e.g. `completed`).")
    pairs: int = strawberry.field(description="How many pairs.")


@strawberry.type(description="Opt-ins in one calendar month (UTC).")
class MonthCount:
    month: str = strawberry.field(description="The month, `YYYY-MM`.")
    opt_ins: int = strawberry.field(description="Participants who enrolled that month.")


PeriodStart = Annotated[date | None, strawberry.argument(
    name="from", description="The period's first day (UTC).")]
PeriodEnd = Annotated[date | None, strawberry.argument(
    name="to", description="The period's last day (UTC, included).")]
HealthDepartment = Annotated[str | None, described(
    "Only participants of this department (`unknown`: none known), and their pairs.")]
HealthLevelBand = Annotated[LevelBand | None, described(
    "Only participants of this job level band, and their pairs.")]


@strawberry.type(description="How healthy a programme is, from events: funnel, pairs, "
                             "sessions, attendance, hours and interest over time.")
class ProgrammeHealth:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    funnel: list[RoleFunnel] = strawberry.field(description="Participants by role.")
    pairs_formed: int = strawberry.field(description="Pairs formed, ever.")
    pairs_active: int = strawberry.field(description="Pairs not ended.")
    pairs_ended: list[EndedPairs] = strawberry.field(
        description="Ended pairs by reason, the most frequent first.")
    sessions_planned: int = strawberry.field(description="Sessions planned and not cancelled.")
    sessions_held: int = strawberry.field(description="Sessions logged as held.")
    sessions_cancelled: int = strawberry.field(description="Sessions cancelled.")
    attendance_rate: float | None = strawberry.field(
        description="Held / (held + cancelled); null before any was held or cancelled.")
    mentoring_hours: float = strawberry.field(description="Hours of the sessions held.")
    interest_trend: list[MonthCount] = strawberry.field(
        description="Opt-ins per month, oldest first (months without any are left out).")

    @strawberry.field(description="The programme's health in depth, for a period, "
                                  "department or level band (admins).")
    async def report(
        self, info: Info, start: PeriodStart = None, end: PeriodEnd = None,
        department: HealthDepartment = None, level_band: HealthLevelBand = None,
    ) -> HealthReport:
        return await _health_report(info, str(self.programme_id), start, end, department,
                                    level_band)

    @classmethod
    def of(cls, h: clients.ProgrammeHealthPublic) -> ProgrammeHealth:
        return cls(
            programme_id=strawberry.ID(h.programme_id),
            funnel=[RoleFunnel(role=ParticipantRole(f.role), enrolled=f.enrolled,
                               active=f.active, withdrawn=f.withdrawn) for f in h.funnel],
            pairs_formed=h.pairs_formed, pairs_active=h.pairs_active,
            pairs_ended=[EndedPairs(reason=e.reason, pairs=e.pairs) for e in h.pairs_ended],
            sessions_planned=h.sessions_planned, sessions_held=h.sessions_held,
            sessions_cancelled=h.sessions_cancelled, attendance_rate=h.attendance_rate,
            mentoring_hours=h.mentoring_hours,
            interest_trend=[MonthCount(month=m.month, opt_ins=m.opt_ins)
                            for m in h.interest_trend])


async def _health_report(info: Info, programme_id: str | None, start: date | None,
                         end: date | None, department: str | None,
                         level_band: LevelBand | None) -> HealthReport:
    if programme_id is not None:
        identifier(programme_id, field="programme_id")
    return HealthReport.of(await info.context.analytics.health_report(
        programme_id, start=start, end=end, department=department,
        level_band=plain(level_band)))


@strawberry.type(description="Of a role's participants who opted in (in the period), how "
                             "far they got.")
class FunnelStep:
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    invited: int = strawberry.field(
        description="People HR invited to the role (in the period, by invitation time): "
                    "one per programme and employee.")
    opted_in: int = strawberry.field(description="Participants who opted in.")
    profiled: int = strawberry.field(description="Of them, with profile answers.")
    matched: int = strawberry.field(description="Of them, in a formed pair.")
    active: int = strawberry.field(description="Of them, active now.")
    completed: int = strawberry.field(description="Of them, in a pair that completed.")
    withdrawn: int = strawberry.field(description="Of them, withdrawn.")


@strawberry.type(description="Days from opt-in to the pair's formation (pairs formed in "
                             "the period).")
class TimeToMatch:
    role: ParticipantRole = strawberry.field(description="Mentor or mentee.")
    matched: int = strawberry.field(description="Participants matched.")
    median_days: float | None = strawberry.field(description="The median wait, in days.")
    p90_days: float | None = strawberry.field(
        description="The 90th percentile wait (nearest rank), in days.")


@strawberry.type(description="Pairs formed, active and at risk at the period's end, ended.")
class PairFigures:
    formed: int = strawberry.field(description="Pairs formed in the period.")
    active: int = strawberry.field(description="Pairs active at the period's end.")
    at_risk: int = strawberry.field(description="Of the active, flagged at risk.")
    ended: list[EndedPairs] = strawberry.field(description="Pairs ended, by reason.")


@strawberry.type(description="Sessions of the period.")
class SessionFigures:
    planned: int = strawberry.field(description="Planned and not cancelled.")
    held: int = strawberry.field(description="Held.")
    cancelled: int = strawberry.field(description="Cancelled.")
    attendance_rate: float | None = strawberry.field(description="Held / (held + cancelled).")
    mentoring_hours: float = strawberry.field(description="Hours of the sessions held.")


@strawberry.type(description="Members' session ratings and fit reports; matching's score.")
class RatingFigures:
    rated: int = strawberry.field(description="Session logs with a rating.")
    mean: float | None = strawberry.field(description="The mean rating (1-5).")
    distribution: list[ValueCount] = strawberry.field(description="Ratings 1 to 5.")
    fit_good: int = strawberry.field(description="Logs reporting a good fit.")
    fit_poor: int = strawberry.field(description="Logs reporting a poor fit.")
    matching_score_mean: float | None = strawberry.field(
        description="The mean matching score of the pairs formed.")


@strawberry.type(description="How many session logs covered a topic.")
class TopicCount:
    topic: str = strawberry.field(description="The topic.")
    sessions: int = strawberry.field(description="Session logs naming it.")


@strawberry.type(description="Goals by their latest update in the period.")
class GoalFigures:
    set: int = strawberry.field(description="Goals.")
    active: int = strawberry.field(description="Still active.")
    achieved: int = strawberry.field(description="Achieved.")
    missed: int = strawberry.field(description="Missed.")
    progress_mean: float | None = strawberry.field(description="Mean progress, percent.")


@strawberry.type(description="Senior leaders taking part.")
class Leadership:
    senior_min_level: int = strawberry.field(
        description="The job level from which an employee counts as a senior leader.")
    senior_employees: int = strawberry.field(description="Senior leaders employed.")
    taking_part: int = strawberry.field(description="Of them, taking part.")
    share: float | None = strawberry.field(description="taking_part / senior_employees.")


@strawberry.type(description="Participants with a diversity attribute's value; a suppressed "
                             "cell (under 5, or giving one away) has no count.")
class DiversityCell:
    attribute: str = strawberry.field(description="The attribute.")
    role: str | None = strawberry.field(description="The role; null for all.")
    value: str | None = strawberry.field(description="The value; null for all.")
    suppressed: bool = strawberry.field(description="Whether the count is withheld.")
    people: int | None = strawberry.field(description="Participants; null when suppressed.")
    share: float | None = strawberry.field(description=(
        "people over the role's participants with the attribute, when both are shown."))
    workforce_people: int | None = strawberry.field(description=(
        "The workforce with the value (everybody counted, for a null value), from the "
        "baseline HR entered; null without one, in a department or level band cut, or "
        "when suppressed."))
    workforce_share: float | None = strawberry.field(
        description="workforcePeople over everybody the baseline counted.")
    workforce_as_of: date | None = strawberry.field(
        description="The day the baseline was counted; null without one.")


@strawberry.type(description="Programme health in depth, of one programme or all, for a "
                             "period, department or level band.")
class HealthReport:
    programme_id: strawberry.ID | None = strawberry.field(
        description="The programme; null across programmes.")
    start: date | None = strawberry.field(description="The period's first day.")
    end: date | None = strawberry.field(description="The period's last day.")
    department: str | None = strawberry.field(description="The department cut, if any.")
    level_band: str | None = strawberry.field(description="The level band cut, if any.")
    funnel: list[FunnelStep] = strawberry.field(description="The enrolment funnel by role.")
    time_to_match: list[TimeToMatch] = strawberry.field(description="Time to match by role.")
    pairs: PairFigures = strawberry.field(description="Pairs.")
    sessions: SessionFigures = strawberry.field(description="Sessions.")
    ratings: RatingFigures = strawberry.field(description="Ratings and pairing fit.")
    topics: list[TopicCount] = strawberry.field(description="Topics covered, most first.")
    goals: GoalFigures = strawberry.field(description="Goals.")
    interest_trend: list[MonthCount] = strawberry.field(description="Opt-ins per month.")
    leadership: Leadership = strawberry.field(description="Leadership engagement.")
    diversity_objective: bool = strawberry.field(
        description="Whether a programme covered opted in to a diversity objective.")
    min_group: int = strawberry.field(description="The smallest cell published.")
    diversity: list[DiversityCell] = strawberry.field(
        description="Participants' diversity, only with an objective, cells of 5 or more.")

    @classmethod
    def of(cls, h: clients.HealthReportPublic) -> HealthReport:
        p, s, r, g, ld = h.pairs, h.sessions, h.ratings, h.goals, h.leadership
        return cls(
            programme_id=strawberry.ID(h.programme_id) if h.programme_id else None,
            start=h.start, end=h.end, department=h.department, level_band=h.level_band,
            funnel=[FunnelStep(role=ParticipantRole(f.role), invited=f.invited,
                               opted_in=f.opted_in, profiled=f.profiled, matched=f.matched,
                               active=f.active, completed=f.completed, withdrawn=f.withdrawn)
                    for f in h.funnel],
            time_to_match=[TimeToMatch(role=ParticipantRole(t.role), matched=t.matched,
                                       median_days=t.median_days, p90_days=t.p90_days)
                           for t in h.time_to_match],
            pairs=PairFigures(formed=p.formed, active=p.active, at_risk=p.at_risk,
                              ended=[EndedPairs(reason=e.reason, pairs=e.pairs)
                                     for e in p.ended]),
            sessions=SessionFigures(planned=s.planned, held=s.held, cancelled=s.cancelled,
                                    attendance_rate=s.attendance_rate,
                                    mentoring_hours=s.mentoring_hours),
            ratings=RatingFigures(rated=r.rated, mean=r.mean, distribution=[
                ValueCount(value=c.value, count=c.count) for c in r.distribution],
                fit_good=r.fit_good, fit_poor=r.fit_poor,
                matching_score_mean=r.matching_score_mean),
            topics=[TopicCount(topic=t.topic, sessions=t.sessions) for t in h.topics],
            goals=GoalFigures(set=g.set, active=g.active, achieved=g.achieved, missed=g.missed,
                              progress_mean=g.progress_mean),
            interest_trend=[MonthCount(month=m.month, opt_ins=m.opt_ins)
                            for m in h.interest_trend],
            leadership=Leadership(senior_min_level=ld.senior_min_level,
                                  senior_employees=ld.senior_employees,
                                  taking_part=ld.taking_part, share=ld.share),
            diversity_objective=h.diversity_objective, min_group=h.min_group,
            diversity=[DiversityCell(attribute=c.attribute, role=c.role, value=c.value,
                                     suppressed=c.suppressed, people=c.people, share=c.share,
                                     workforce_people=c.workforce_people,
                                     workforce_share=c.workforce_share,
                                     workforce_as_of=c.workforce_as_of)
                       for c in h.diversity])


# --- the workforce baseline --------------------------------------------------------------


@strawberry.type(description="How many of the workforce have one value of an attribute.")
class WorkforceValueCount:
    value: str = strawberry.field(description="The value, as participants' answers name it.")
    people: int = strawberry.field(description="The workforce with it.")


@strawberry.type(description="An attribute's workforce head counts as HR entered them: "
                             "aggregates only, never people.")
class WorkforceBaseline:
    attribute: str = strawberry.field(description="The diversity attribute (`gender`).")
    as_of: date = strawberry.field(description="The day HR counted them.")
    entered_at: datetime = strawberry.field(description="When they were entered.")
    people: int = strawberry.field(description="Everybody counted.")
    values: list[WorkforceValueCount] = strawberry.field(description="The counts, by value.")

    @classmethod
    def of(cls, b: clients.WorkforceBaselinePublic) -> WorkforceBaseline:
        return cls(attribute=b.attribute, as_of=b.as_of, entered_at=b.entered_at,
                   people=b.people, values=[WorkforceValueCount(value=v.value, people=v.people)
                                            for v in b.values])


@strawberry.input(description="How many of the workforce have one value.")
class WorkforceValueCountInput:
    value: str = strawberry.field(description="The value, up to 100 characters.")
    people: int = strawberry.field(description="The workforce with it, 0 to 10,000,000.")


@strawberry.input(description="An attribute's workforce head counts, every value at once.")
class WorkforceBaselineInput:
    attribute: str = strawberry.field(description="The diversity attribute, up to 100 "
                                                  "characters, as participants' answers "
                                                  "name it.")
    as_of: date = strawberry.field(description="The day HR counted them.")
    values: list[WorkforceValueCountInput] = strawberry.field(
        description="1 to 50 values, each once; the ones left out are dropped.")


@strawberry.type(description="What setWorkforceBaseline did: the baseline stored, or why not.")
class SetWorkforceBaselinePayload:
    workforce_baseline: WorkforceBaseline | None = strawberry.field(
        description="The attribute's baseline as stored; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What removeWorkforceBaseline did.")
class RemoveWorkforceBaselinePayload:
    workforce_baseline: WorkforceBaseline | None = strawberry.field(
        description="The baseline dropped; null when errors say why nothing was.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- retention ---------------------------------------------------------------------------


@strawberry.enum(description="The groups a retention report follows.")
class RetentionGroupName(Enum):
    MENTORS = strawberry.enum_value("mentors", description="The programme's mentors.")
    MENTEES = strawberry.enum_value("mentees", description="The programme's mentees.")
    MENTOR_COMPARISON = strawberry.enum_value(
        "mentor_comparison", description="Non-participants matched to the mentors.")
    MENTEE_COMPARISON = strawberry.enum_value(
        "mentee_comparison", description="Non-participants matched to the mentees.")


@strawberry.type(description="A step of a Kaplan-Meier curve: from `months` until the next "
                             "point, the share still employed and its 95 % interval.")
class CurvePoint:
    months: float = strawberry.field(description="Months after the start of follow-up.")
    estimate: float = strawberry.field(description="The share still employed.")
    lower: float = strawberry.field(description="Lower end of the 95 % interval.")
    upper: float = strawberry.field(description="Upper end of the 95 % interval.")

    @classmethod
    def of(cls, p: clients.CurvePointPublic) -> CurvePoint:
        return cls(months=p.months, estimate=p.estimate, lower=p.lower, upper=p.upper)


@strawberry.type(description="A curve read at a number of months; null figures when fewer "
                             "than 5 people were followed that long.")
class FigureAt:
    months: int = strawberry.field(description="Months after the start of follow-up.")
    estimate: float | None = strawberry.field(description="The estimate (a share, 0 to 1).")
    lower: float | None = strawberry.field(description="Lower end of the 95 % interval.")
    upper: float | None = strawberry.field(description="Upper end of the 95 % interval.")

    @classmethod
    def of(cls, f: clients.FigureAtPublic) -> FigureAt:
        return cls(months=f.months, estimate=f.estimate, lower=f.lower, upper=f.upper)


@strawberry.type(description="One group's retention and promotion; every figure is null and "
                             "`suppressed` says why when the group is under 5 people.")
class RetentionGroup:
    group: RetentionGroupName = strawberry.field(description="Which group this is.")
    suppressed: str | None = strawberry.field(
        description="Why the group's figures are withheld (null when they are shown).")
    people: int | None = strawberry.field(description="People followed.")
    leavers: int | None = strawberry.field(description="Of them, how many left during follow-up.")
    follow_up_months_total: float | None = strawberry.field(
        description="Months of follow-up, summed over the group's people.")
    follow_up_months_median: float | None = strawberry.field(
        description="The median person's months of follow-up.")
    curve: list[CurvePoint] = strawberry.field(
        description="The Kaplan-Meier curve, while at least 5 people are still followed.")
    retention: list[FigureAt] = strawberry.field(
        description="The share still employed at 6, 12 and 24 months.")
    promotion: list[FigureAt] = strawberry.field(
        description="The share promoted (a higher job level) by 6, 12 and 24 months; empty "
                    "when no level change arrived for the group.")

    @classmethod
    def of(cls, g: clients.RetentionGroupPublic) -> RetentionGroup:
        return cls(group=RetentionGroupName(g.group), suppressed=g.suppressed, people=g.people,
                   leavers=g.leavers, follow_up_months_total=g.follow_up_months_total,
                   follow_up_months_median=g.follow_up_months_median,
                   curve=[CurvePoint.of(p) for p in g.curve],
                   retention=[FigureAt.of(f) for f in g.retention],
                   promotion=[FigureAt.of(f) for f in g.promotion])


@strawberry.type(description="Log-rank test of a role's participants against their matched "
                             "comparison group.")
class RetentionComparison:
    role: ParticipantRole = strawberry.field(description="The participants' role.")
    suppressed: str | None = strawberry.field(
        description="Why no test is reported (a group under 5 people, or nobody left).")
    statistic: float | None = strawberry.field(description="Chi-squared statistic, 1 df.")
    p_value: float | None = strawberry.field(description="Two-sided p-value.")

    @classmethod
    def of(cls, c: clients.RetentionComparisonPublic) -> RetentionComparison:
        return cls(role=ParticipantRole(c.role), suppressed=c.suppressed,
                   statistic=c.statistic, p_value=c.p_value)


@strawberry.type(description="How a role's participants were matched to non-participants.")
class RoleMatching:
    role: ParticipantRole = strawberry.field(description="The participants' role.")
    participants: int = strawberry.field(description="Participants followed.")
    unmatched: int = strawberry.field(
        description="Of them, how many found no non-participant of their stratum.")
    excluded: int = strawberry.field(
        description="Participants left out: unknown to the HRIS feed, or gone by their start.")

    @classmethod
    def of(cls, m: clients.RoleMatchingPublic) -> RoleMatching:
        return cls(role=ParticipantRole(m.role), participants=m.participants,
                   unmatched=m.unmatched, excluded=m.excluded)


@strawberry.type(description="Retention of participants against matched non-participants, "
                             "each followed from the day participation started.")
class ProgrammeRetention:
    programme_id: strawberry.ID | None = strawberry.field(
        description="The programme, or null for all programmes together.")
    window_months: int = strawberry.field(description="Months each person is followed at most.")
    as_of: date = strawberry.field(description="The day follow-up ends for those still employed.")
    controls_per_participant: int = strawberry.field(
        description="Non-participants matched to each participant.")
    matching: list[RoleMatching] = strawberry.field(description="Matching, per role.")
    groups: list[RetentionGroup] = strawberry.field(description="The groups' figures.")
    comparisons: list[RetentionComparison] = strawberry.field(
        description="Log-rank tests, per role.")

    @classmethod
    def of(cls, r: clients.ProgrammeRetentionPublic) -> ProgrammeRetention:
        return cls(
            programme_id=strawberry.ID(r.programme_id) if r.programme_id is not None else None,
            window_months=r.window_months, as_of=r.as_of,
            controls_per_participant=r.controls_per_participant,
            matching=[RoleMatching.of(m) for m in r.matching],
            groups=[RetentionGroup.of(g) for g in r.groups],
            comparisons=[RetentionComparison.of(c) for c in r.comparisons])


@strawberry.input(description="One past participation, from before Upward: who took part, "
                              "in which programme and role, from when to when.")
class ParticipationHistoryInput:
    employee_id: strawberry.ID = strawberry.field(description="The employee's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    role: ParticipantRole = strawberry.field(description="The role they had.")
    started_on: date = strawberry.field(description="The day they started.")
    ended_on: date | None = strawberry.field(default=None,
                                             description="The day they finished, if known.")

    def to_row(self) -> clients.ParticipationHistoryRow:
        return clients.ParticipationHistoryRow(
            employee_id=str(self.employee_id), programme_id=str(self.programme_id),
            role=self.role.value, started_on=self.started_on, ended_on=self.ended_on)


@strawberry.type(description="What importParticipationHistory did: the rows stored, or why not.")
class ImportParticipationHistoryPayload:
    imported: int | None = strawberry.field(
        description="Rows stored (new or updated); null when errors say why nothing was.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programme figures, health, retention, pulse surveys, celebrations."""

    @strawberry.field(description="Enrolment, pair and session counts of a programme (admins).")
    async def programme_summary(self, info: Info,
                                programme_id: ProgrammeId) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(
            await info.context.loaders.programme_summary.load(programme_id)
        )

    @strawberry.field(description="A programme's pulse surveys, newest first (admins, the "
                                  "programme's participants).")
    async def pulse_surveys(self, info: Info, programme_id: ProgrammeId,
                            first: First = DEFAULT_FIRST,
                            after: After = None) -> Connection[PulseSurvey]:
        window = Window.of("PulseSurvey", first=first, after=after)
        identifier(programme_id, field="programme_id")
        found = await info.context.analytics.pulse_surveys(programme_id)
        return window.page(found.items, id=by_id, node=PulseSurvey.of)

    @strawberry.field(description="One cut of a closed pulse survey's results (admins); "
                                  "suppressed under 5 respondents, with complementary "
                                  "suppression.")
    async def pulse_survey_results(
        self, info: Info, programme_id: ProgrammeId, pulse_survey_id: PulseSurveyId,
        role: Annotated[ParticipantRole | None, described(
            "Only participants of this role.")] = None,
        department: Annotated[str | None, described(
            "Only participants of this department.")] = None,
        level_band: Annotated[LevelBand | None, described(
            "Only participants of this level band.")] = None,
    ) -> PulseSurveyResults | None:
        identifier(programme_id, field="programme_id")
        identifier(pulse_survey_id, field="pulse_survey_id")
        return PulseSurveyResults.of(await info.context.analytics.pulse_survey_results(
            programme_id, pulse_survey_id, role=plain(role), department=department,
            level_band=plain(level_band)))

    @strawberry.field(description="Milestones the programme's pairs reached, per day, most "
                                  "recent first; names only people who consented (admins).")
    async def celebrations(self, info: Info, programme_id: ProgrammeId,
                           first: First = DEFAULT_FIRST,
                           after: After = None) -> Connection[Celebration]:
        window = Window.of("Celebration", first=first, after=after)
        identifier(programme_id, field="programme_id")
        found = await info.context.analytics.celebrations(programme_id)
        return window.page(found.items, id=_celebration_key, node=Celebration.of)

    @strawberry.field(description="A programme's health figures (admins); several programmes "
                                  "asked in one request are read in one call.")
    async def programme_health(self, info: Info, programme_id: ProgrammeId) -> ProgrammeHealth:
        return ProgrammeHealth.of(await info.context.loaders.programme_health.load(programme_id))

    @strawberry.field(description="Programme health in depth across every programme, for a "
                                  "period, department or level band (admins); one "
                                  "programme's is `programmeHealth { report }`.")
    async def health_report(
        self, info: Info, start: PeriodStart = None, end: PeriodEnd = None,
        department: HealthDepartment = None, level_band: HealthLevelBand = None,
    ) -> HealthReport:
        return await _health_report(info, None, start, end, department, level_band)

    @strawberry.field(description="The workforce head counts per diversity attribute that "
                                  "HR entered, which health reports compare participants' "
                                  "diversity against (admins).")
    async def workforce_baseline(self, info: Info) -> list[WorkforceBaseline]:
        found = await info.context.analytics.workforce_baselines()
        return [WorkforceBaseline.of(item) for item in found.attributes]

    @strawberry.field(description="Retention (and promotion) of a programme's mentors and "
                                  "mentees against matched non-participants, or of all "
                                  "programmes' without `programmeId` (admins).")
    async def programme_retention(
        self, info: Info,
        programme_id: Annotated[strawberry.ID | None, described(
            "The programme's id; null for every programme together.")] = None,
        window_months: Annotated[int, described(
            "Months each person is followed from their start, 1 to 120.")] = 24,
        as_of: Annotated[date | None, described(
            "The day follow-up ends (today in UTC when null).")] = None,
    ) -> ProgrammeRetention:
        analytics = info.context.analytics
        found = (await analytics.retention(window_months, as_of) if programme_id is None
                 else await analytics.programme_retention(str(programme_id), window_months,
                                                          as_of))
        return ProgrammeRetention.of(found)


@strawberry.type
class Mutation:
    """Pulse surveys, past cohorts, the workforce baseline."""

    @strawberry.mutation(description="Create an open pulse survey for a programme (admins).")
    async def create_pulse_survey(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[CreatePulseSurveyInput, described("The survey and its questions.")],
    ) -> CreatePulseSurveyPayload | None:
        data = clients.PulseSurveyCreate(title=input.title, questions=[
            clients.PulseQuestionIn(kind=plain(q.kind), prompt=q.prompt, choices=q.choices)
            for q in input.questions])
        survey, errors = await attempt(
            info, lambda: info.context.analytics.create_pulse_survey(programme_id, data),
            PulseSurvey.of, body="input")
        return CreatePulseSurveyPayload(pulse_survey=survey, errors=errors)

    @strawberry.mutation(description="Close a pulse survey to answers; its results are "
                                     "published from then on (admins).")
    async def close_pulse_survey(self, info: Info, programme_id: ProgrammeId,
                                 pulse_survey_id: PulseSurveyId,
                                 ) -> ClosePulseSurveyPayload | None:
        survey, errors = await attempt(
            info, lambda: info.context.analytics.close_pulse_survey(programme_id,
                                                                    pulse_survey_id),
            PulseSurvey.of)
        return ClosePulseSurveyPayload(pulse_survey=survey, errors=errors)

    @strawberry.mutation(description="Answer a pulse survey once, anonymously (a participant "
                                     "of the programme).")
    async def answer_pulse_survey(
        self, info: Info, programme_id: ProgrammeId, pulse_survey_id: PulseSurveyId,
        answers: Annotated[list[PulseAnswerInput], described(
            "Every scale, NPS and choice question once; free text may be left out.")],
    ) -> AnswerPulseSurveyPayload | None:
        data = clients.PulseResponseCreate(answers=[
            clients.PulseAnswerIn(question_id=a.question_id, value=a.value, choice=a.choice,
                                  text=a.text) for a in answers])
        receipt, errors = await attempt(
            info, lambda: info.context.analytics.answer_pulse_survey(
                programme_id, pulse_survey_id, data),
            lambda r: r.answered, body="answers")
        return AnswerPulseSurveyPayload(answered=bool(receipt), errors=errors)

    @strawberry.mutation(description="Import past participations (hr_admin), so retention "
                                     "covers years before Upward; a bad row writes nothing.")
    async def import_participation_history(
        self, info: Info,
        rows: Annotated[list[ParticipationHistoryInput], described(
            "The past participations, 1 to 5,000.")],
    ) -> ImportParticipationHistoryPayload | None:
        analytics = info.context.analytics
        imported, errors = await attempt(
            info, lambda: analytics.import_participation_history([r.to_row() for r in rows]),
            lambda report: report.imported, body="rows")
        return ImportParticipationHistoryPayload(imported=imported, errors=errors)

    @strawberry.mutation(description="Enter an attribute's workforce head counts (hr_admin), "
                                     "replacing what was entered for it; health reports "
                                     "compare participants' diversity against them.")
    async def set_workforce_baseline(
        self, info: Info,
        input: Annotated[WorkforceBaselineInput, described("The attribute and its counts.")],
    ) -> SetWorkforceBaselinePayload | None:
        data = clients.WorkforceBaselineSet(
            attribute=input.attribute, as_of=input.as_of,
            values=[clients.WorkforceValueCountIn(value=v.value, people=v.people)
                    for v in input.values])
        stored, errors = await attempt(
            info, lambda: info.context.analytics.set_workforce_baseline(data),
            WorkforceBaseline.of, body="input")
        return SetWorkforceBaselinePayload(workforce_baseline=stored, errors=errors)

    @strawberry.mutation(description="Drop an attribute's workforce baseline (hr_admin).")
    async def remove_workforce_baseline(
        self, info: Info,
        attribute: Annotated[str, described("The diversity attribute.")],
    ) -> RemoveWorkforceBaselinePayload | None:
        removed, errors = await attempt(
            info, lambda: info.context.analytics.remove_workforce_baseline(attribute),
            WorkforceBaseline.of)
        return RemoveWorkforceBaselinePayload(workforce_baseline=removed, errors=errors)
