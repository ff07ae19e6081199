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

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
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


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programme figures, pulse surveys, celebrations."""

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


@strawberry.type
class Mutation:
    """Pulse surveys."""

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
