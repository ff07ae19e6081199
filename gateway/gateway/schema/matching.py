"""Matching's part of the schema: suggestions, pairs, scoring settings, whole-cohort runs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from gateway import clients
from gateway.clients import identifier
from gateway.context import Info
from gateway.prefetch import loaded, loaded_unless_refused, prefetch_page
from gateway.schema import enrolment, scheduling
from gateway.schema.errors import USER_ERRORS, UserError, attempt, maybe, member
from gateway.schema.inputs import (
    MatchRunId,
    MenteeParticipantId,
    MentorParticipantId,
    PairId,
    ProgrammeId,
    described,
    given,
    plain,
)
from gateway.schema.pagination import (
    DEFAULT_FIRST,
    OFFSET_PAGE,
    After,
    Connection,
    First,
    Window,
    by_id,
)

if TYPE_CHECKING:
    from gateway.schema.enrolment import Participant, ParticipantCard, Programme
    from gateway.schema.scheduling import Session

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
ENROLMENT = strawberry.lazy("gateway.schema.enrolment")
SCHEDULING = strawberry.lazy("gateway.schema.scheduling")

SERVICE = "matching"


# --- closed sets -----------------------------------------------------------------------


@strawberry.enum(description="Where a pair is: proposed, active, then completed, ended or "
                             "declined.")
class PairStatus(Enum):
    PROPOSED = strawberry.enum_value(
        "proposed", description="A mentee's pick, awaiting the mentor's answer.")
    ACTIVE = strawberry.enum_value("active", description="Formed and meeting.")
    COMPLETED = strawberry.enum_value("completed", description="Ended as planned.")
    ENDED = strawberry.enum_value("ended", description="Ended early (see endReason).")
    DECLINED = strawberry.enum_value("declined", description="The mentor declined the pick.")


@strawberry.enum(description="How a pair came about.")
class PairOrigin(Enum):
    MANUAL = strawberry.enum_value("manual", description="An admin formed it.")
    SHORTLIST = strawberry.enum_value(
        "shortlist", description="The mentee picked the mentor from their shortlist.")
    RUN = strawberry.enum_value("run", description="A published match run formed it.")


@strawberry.enum(description="Why a pair ended.")
class PairEndReason(Enum):
    COMPLETED = strawberry.enum_value("completed", description="It ran its course.")
    POOR_FIT = strawberry.enum_value("poor_fit", description="The two did not get on.")
    WITHDRAWAL = strawberry.enum_value("withdrawal", description="One of them withdrew.")
    DEPARTURE = strawberry.enum_value("departure", description="One of them left the company.")
    INACTIVITY = strawberry.enum_value("inactivity", description="They stopped meeting.")
    ADMIN = strawberry.enum_value("admin", description="An admin ended it for another reason.")


@strawberry.enum(description="A factor of a match score; its weight is set per programme.")
class MatchingFactor(Enum):
    COMPLEMENTARITY = strawberry.enum_value(
        "complementarity", description="The mentor teaches what the mentee wants to learn.")
    INTERESTS = strawberry.enum_value("interests", description="Shared interests.")
    AVAILABILITY = strawberry.enum_value("availability",
                                         description="Overlapping weekly free time.")
    LANGUAGE = strawberry.enum_value("language", description="A language in common.")
    FORMAT = strawberry.enum_value("format", description="A meeting format in common.")
    DEPARTMENT = strawberry.enum_value("department",
                                       description="Different departments, for reach.")
    LEVEL_GAP = strawberry.enum_value("level_gap",
                                      description="A job-level gap close to the ideal one.")
    DIVERSITY = strawberry.enum_value(
        "diversity", description="The programme's diversity objective, where it opted in.")


@strawberry.enum(description="A rule a pair must keep; an admin may override some with a "
                             "recorded reason.")
class MatchingRule(Enum):
    SAME_PERSON = strawberry.enum_value("same_person", description="Not the same employee.")
    LEVEL_GAP = strawberry.enum_value(
        "level_gap", description="The mentor at least the programme's gap below the mentee.")
    REPORTING_LINE = strawberry.enum_value(
        "reporting_line", description="Neither reports to the other, directly or not.")
    SAME_MANAGER = strawberry.enum_value(
        "same_manager", description="No shared direct manager, unless the programme allows.")
    PREVIOUSLY_PAIRED = strawberry.enum_value(
        "previously_paired", description="Not already paired in this programme.")
    AVOID_LIST = strawberry.enum_value(
        "avoid_list", description="Neither asked not to be paired with the other.")
    DEI_OPT_IN = strawberry.enum_value(
        "dei_opt_in", description="A DEI topic only with a mentor who opted in.")
    TIME_ZONE_DISTANCE = strawberry.enum_value(
        "time_zone_distance", description="Time zones within the programme's limit.")
    AVAILABILITY_OVERLAP = strawberry.enum_value(
        "availability_overlap", description="Enough weekly availability in common.")


@strawberry.enum(description="What a whole-cohort match run optimises.")
class MatchObjective(Enum):
    MAX_SCORE = strawberry.enum_value("max_score", description="The highest total score.")
    MAX_PARTICIPATION = strawberry.enum_value(
        "max_participation", description="The most mentees matched, then the best score.")


@strawberry.enum(description="Whether a match run's pairs have been formed.")
class MatchRunStatus(Enum):
    DRAFT = strawberry.enum_value("draft", description="A dry run to review; nothing formed.")
    PUBLISHED = strawberry.enum_value("published", description="Its pairs have been formed.")


@strawberry.enum(description="Why a match run left a mentee unmatched.")
class UnmatchedReason(Enum):
    NO_ELIGIBLE_MENTOR = strawberry.enum_value(
        "no_eligible_mentor", description="No mentor passes the programme's rules with them.")
    CAPACITY_TAKEN = strawberry.enum_value(
        "capacity_taken", description="Every eligible mentor's places went to others.")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="One factor of a match score and why it counted.")
class ScoreFactor:
    factor: MatchingFactor = strawberry.field(description="The factor.")
    points: float = strawberry.field(description="The points it gave, weighted.")
    reason: str = strawberry.field(description="Why, for a person to read.")

    @classmethod
    def many(cls, factors: list[clients.ScoreFactor]) -> list[ScoreFactor]:
        return [cls(factor=member(MatchingFactor, f.factor, service=SERVICE), points=f.points,
                    reason=f.reason) for f in factors]


@strawberry.type(description="A mentor matching proposes for a mentee, best first.")
class Suggestion:
    mentor_participant_id: strawberry.ID = strawberry.field(
        description="The mentor's participant id.")
    mentor_employee_id: strawberry.ID = strawberry.field(
        description="The mentor's employee id.")
    score: float = strawberry.field(description="The match score, 0 to 100.")
    breakdown: list[ScoreFactor] = strawberry.field(description="What the score is made of.")

    @classmethod
    def of(cls, s: clients.SuggestionPublic) -> Suggestion:
        return cls(
            mentor_participant_id=strawberry.ID(s.mentor_participant_id),
            mentor_employee_id=strawberry.ID(s.mentor_employee_id), score=s.score,
            breakdown=ScoreFactor.many(s.breakdown),
        )

    @strawberry.field(description="The suggested mentor's whole participation (admins); a "
                                  "mentee reads mentorCard.")
    def mentor(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return loaded(info.context.loaders.participant, self.mentor_participant_id,
                      enrolment.Participant.of)

    @strawberry.field(description="The suggested mentor's card: whom the mentee would pick.")
    def mentor_card(self, info: Info) -> Annotated[ParticipantCard, ENROLMENT] | None:
        return loaded(info.context.loaders.participant_card, self.mentor_participant_id,
                      enrolment.ParticipantCard.of)


@strawberry.type(description="A mentor (junior) and a mentee (senior) paired in a programme.")
class Pair:
    id: strawberry.ID = strawberry.field(description="The pair's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    mentor_participant_id: strawberry.ID = strawberry.field(
        description="The mentor's participant id (the junior who teaches).")
    mentee_participant_id: strawberry.ID = strawberry.field(
        description="The mentee's participant id (the senior who learns).")
    mentor_employee_id: strawberry.ID = strawberry.field(
        description="The mentor's employee id.")
    mentee_employee_id: strawberry.ID = strawberry.field(
        description="The mentee's employee id.")
    status: PairStatus = strawberry.field(description="Where the pair is.")
    origin: PairOrigin | None = strawberry.field(description="How it came about.")
    match_run_id: strawberry.ID | None = strawberry.field(
        description="The match run that formed it, if one did.")
    score: float | None = strawberry.field(description="Its match score, 0 to 100.")
    breakdown: list[ScoreFactor] = strawberry.field(description="What the score is made of.")
    override_reason: str | None = strawberry.field(
        description="Why an admin formed it against a rule.")
    overridden_rules: list[MatchingRule] = strawberry.field(
        description="The rules it was formed against.")
    proposed_at: datetime | None = strawberry.field(description="When it was proposed.")
    formed_at: datetime | None = strawberry.field(
        description="When it formed; null while proposed.")
    ended_at: datetime | None = strawberry.field(description="When it ended.")
    end_reason: PairEndReason | None = strawberry.field(description="Why it ended.")
    rematch_suggested_at: datetime | None = strawberry.field(
        description="When a poor fit had been reported twice, so HR may rematch the pair "
                    "(admins only; null for participants).")
    at_risk_at: datetime | None = strawberry.field(
        description="When the pair was last flagged at risk: no session held for twice the "
                    "programme's cadence (admins only).")

    @classmethod
    def of(cls, p: clients.PairPublic) -> Pair:
        return cls(
            id=strawberry.ID(p.id), programme_id=strawberry.ID(p.programme_id),
            mentor_participant_id=strawberry.ID(p.mentor_participant_id),
            mentee_participant_id=strawberry.ID(p.mentee_participant_id),
            mentor_employee_id=strawberry.ID(p.mentor_employee_id),
            mentee_employee_id=strawberry.ID(p.mentee_employee_id),
            status=member(PairStatus, p.status, service=SERVICE),
            origin=maybe(PairOrigin, p.origin, service=SERVICE),
            match_run_id=strawberry.ID(p.run_id) if p.run_id else None,
            score=p.score, breakdown=ScoreFactor.many(p.breakdown),
            override_reason=p.override_reason,
            overridden_rules=[member(MatchingRule, r, service=SERVICE)
                              for r in p.overridden_rules],
            proposed_at=p.proposed_at, formed_at=p.formed_at, ended_at=p.ended_at,
            end_reason=maybe(PairEndReason, p.end_reason, service=SERVICE),
            rematch_suggested_at=p.rematch_suggested_at, at_risk_at=p.at_risk_at,
        )

    # The fields reading another service answer at once when the list's resolver
    # prefetched them (gateway.prefetch), else through their DataLoader.

    @strawberry.field(description="The junior who teaches.")
    def mentor(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return loaded(info.context.loaders.participant, self.mentor_participant_id,
                      enrolment.Participant.of)

    @strawberry.field(description="The senior who learns.")
    def mentee(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return loaded(info.context.loaders.participant, self.mentee_participant_id,
                      enrolment.Participant.of)

    @strawberry.field(description="The mentor's card, for the mentee while the pair is "
                                  "proposed or active (and admins).")
    def mentor_card(self, info: Info) -> Annotated[ParticipantCard, ENROLMENT] | None:
        return loaded(info.context.loaders.participant_card, self.mentor_participant_id,
                      enrolment.ParticipantCard.of)

    @strawberry.field(description="The mentee's card, for the mentor while the pair is "
                                  "proposed or active (and admins).")
    def mentee_card(self, info: Info) -> Annotated[ParticipantCard, ENROLMENT] | None:
        return loaded(info.context.loaders.participant_card, self.mentee_participant_id,
                      enrolment.ParticipantCard.of)

    @strawberry.field(description="The caller's partner in this pair, as their card: the "
                                  "mentee for the mentor, the mentor for the mentee; null "
                                  "for someone who is not a member, and while enrolment "
                                  "shows the caller no card of the partner (a pair it has "
                                  "not heard of yet, or one that ended).")
    def partner(self, info: Info) -> Annotated[ParticipantCard, ENROLMENT] | None:
        me = info.context.principal.employee_id
        if me == self.mentor_employee_id:
            other = self.mentee_participant_id
        elif me == self.mentee_employee_id:
            other = self.mentor_participant_id
        else:
            return None
        # Matching forms the pair first; enrolment opens the cards once it has heard.
        return loaded_unless_refused(info.context.loaders.participant_card, other,
                                     enrolment.ParticipantCard.of)

    @strawberry.field(description="The pair's sessions, planned and held.")
    def sessions(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                 ) -> Connection[Annotated[Session, SCHEDULING]] | None:
        window = Window.of("Session", first=first, after=after)

        def page(found: list[clients.SessionPublic]) -> Connection[Session]:
            return window.page(found, id=by_id, node=scheduling.Session.of)

        # A pair that never formed (a pick still proposed, declined, or dropped) has no
        # sessions, and scheduling never heard of it: no call, so no 404 in a listing.
        if self.formed_at is None:
            return page([])
        return loaded(info.context.loaders.pair_sessions, self.id, page)

    @strawberry.field(description="The pair's first session still planned (neither held nor "
                                   "cancelled), by start time; null when none is.")
    def next_session(self, info: Info) -> Annotated[Session, SCHEDULING] | None:
        if self.formed_at is None:
            return None
        loaders = info.context.loaders
        # The pair's sessions when this request loads them anyway (the query asks for
        # them too), else its next planned session alone: one row, not the whole plan.
        if loaders.pair_sessions.cache_map.get(self.id) is not None:
            return loaded(loaders.pair_sessions, self.id, _next_session)
        return loaded(loaders.pair_next_session, self.id, _next_session)

    @strawberry.field(description="The programme the pair belongs to.")
    def programme(self, info: Info) -> Annotated[Programme, ENROLMENT] | None:
        return loaded(info.context.loaders.programme, self.programme_id,
                      enrolment.Programme.of)


def _next_session(found: list[clients.SessionPublic]) -> Session | None:
    planned = [s for s in found if s.status == "planned" and s.starts_at is not None]
    if not planned:
        return None
    return scheduling.Session.of(min(planned, key=lambda s: (s.starts_at, s.id)))


@strawberry.type(description="What a match run works with: people, places, eligible pairs.")
class PoolStats:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    mentors: int = strawberry.field(description="Active mentors.")
    mentees: int = strawberry.field(description="Active mentees.")
    total_capacity: int = strawberry.field(description="Mentee places all mentors offer.")
    free_capacity: int = strawberry.field(description="Places not taken by an active pair.")
    unpaired_mentees: int = strawberry.field(description="Mentees without an active pair.")
    eligible_pairs: int = strawberry.field(description="Mentor-mentee pairs the rules allow.")

    @classmethod
    def of(cls, p: clients.PoolStatsPublic) -> PoolStats:
        return cls(programme_id=strawberry.ID(p.programme_id), mentors=p.mentors,
                   mentees=p.mentees, total_capacity=p.total_capacity,
                   free_capacity=p.free_capacity, unpaired_mentees=p.unpaired_mentees,
                   eligible_pairs=p.eligible_pairs)


@strawberry.type(description="A score factor's relative weight (0 switches it off).")
class MatchingWeight:
    factor: MatchingFactor = strawberry.field(description="The factor.")
    weight: float = strawberry.field(description="Its weight relative to the others.")


@strawberry.type(description="A programme's scoring weights and the limits it sets.")
class MatchingConfig:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    weights: list[MatchingWeight] = strawberry.field(description="Each factor's weight.")
    allow_shared_manager: bool = strawberry.field(
        description="Whether two people with one direct manager may pair.")
    max_time_zone_hours: float | None = strawberry.field(
        description="The most hours apart two time zones may be; null: any.")
    min_overlap_hours: float | None = strawberry.field(
        description="The least weekly availability in common; null: any.")
    ideal_level_gap: int | None = strawberry.field(
        description="The job-level gap that scores best.")
    ideal_overlap_hours: float | None = strawberry.field(
        description="The weekly overlap that scores full availability points.")
    dei_topics: list[str] = strawberry.field(
        description="Topics a mentor teaches only after opting in to DEI topics.")
    diversity_attribute: str | None = strawberry.field(
        description="The self-declared attribute the diversity factor looks at.")
    diversity_values: list[str] = strawberry.field(
        description="Its values that count as under-represented.")
    diversity_applies: bool = strawberry.field(
        description="Whether the programme opted in to a diversity objective.")

    @classmethod
    def of(cls, c: clients.MatchingConfigPublic) -> MatchingConfig:
        return cls(
            programme_id=strawberry.ID(c.programme_id),
            weights=[MatchingWeight(factor=member(MatchingFactor, k, service=SERVICE),
                                    weight=v) for k, v in c.weights.items()],
            allow_shared_manager=c.allow_shared_manager,
            max_time_zone_hours=c.max_time_zone_hours, min_overlap_hours=c.min_overlap_hours,
            ideal_level_gap=c.ideal_level_gap, ideal_overlap_hours=c.ideal_overlap_hours,
            dei_topics=c.dei_topics, diversity_attribute=c.diversity_attribute,
            diversity_values=c.diversity_values, diversity_applies=c.diversity_applies,
        )


@strawberry.type(description="A pair a match run chose, with its score.")
class MatchRunPair:
    mentee_participant_id: strawberry.ID = strawberry.field(
        description="The mentee's participant id.")
    mentor_participant_id: strawberry.ID = strawberry.field(
        description="The mentor's participant id.")
    score: float = strawberry.field(description="The pair's match score, 0 to 100.")
    breakdown: list[ScoreFactor] = strawberry.field(
        description="What the score is made of; empty until matching gives it.")

    @strawberry.field(description="The junior who would teach.")
    async def mentor(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentor_participant_id)
        )

    @strawberry.field(description="The senior who would learn.")
    async def mentee(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentee_participant_id)
        )


@strawberry.type(description="A mentee a run left unmatched, and why.")
class UnmatchedMentee:
    mentee_participant_id: strawberry.ID = strawberry.field(
        description="The mentee's participant id.")
    reason: UnmatchedReason = strawberry.field(description="Why no mentor was found.")

    @strawberry.field(description="The unmatched mentee.")
    async def mentee(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentee_participant_id)
        )


@strawberry.type(description="A whole-cohort match: a dry run to review, or published as pairs.")
class MatchRun:
    id: strawberry.ID = strawberry.field(description="The run's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    objective: MatchObjective = strawberry.field(description="What it optimised.")
    dry_run: bool = strawberry.field(description="Whether it forms nothing: true for a draft "
                                                 "to review, false once published.")
    status: MatchRunStatus = strawberry.field(description="Whether its pairs were formed.")
    total_score: float = strawberry.field(description="The sum of its pairs' scores.")
    matched: int = strawberry.field(description="Mentees it matched, in all.")
    unmatched: int = strawberry.field(description="Mentees it left unmatched, in all.")
    optimal: bool = strawberry.field(
        description="Whether the solver proved it the best; false when it stopped early.")
    pairs: list[MatchRunPair] = strawberry.field(description="A page of the pairs it chose.")
    unmatched_mentees: list[UnmatchedMentee] = strawberry.field(
        description="A page of the mentees it left unmatched.")
    stats: JSON = strawberry.field(description="The solver's own figures, as it reports them.")
    created_at: datetime = strawberry.field(description="When it ran.")
    published_at: datetime | None = strawberry.field(description="When its pairs were formed.")
    pair_ids: list[strawberry.ID] = strawberry.field(
        description="The pairs publishing formed (the same page as pairs).")
    formed: int = strawberry.field(description="How many pairs publishing formed.")
    offset: int = strawberry.field(
        description="Where the page of pairs, unmatchedMentees and pairIds starts; matched, "
                    "unmatched and formed count them whole.")

    @classmethod
    def of(cls, r: clients.MatchRunPublic) -> MatchRun:
        return cls(
            id=strawberry.ID(r.id), programme_id=strawberry.ID(r.programme_id),
            objective=member(MatchObjective, r.objective, service=SERVICE),
            dry_run=r.dry_run, status=member(MatchRunStatus, r.status, service=SERVICE),
            total_score=r.total_score, matched=r.matched, unmatched=r.unmatched,
            optimal=r.optimal,
            pairs=[MatchRunPair(mentee_participant_id=strawberry.ID(p.mentee_participant_id),
                                mentor_participant_id=strawberry.ID(p.mentor_participant_id),
                                score=p.score, breakdown=ScoreFactor.many(p.breakdown))
                   for p in r.pairs],
            unmatched_mentees=[
                UnmatchedMentee(mentee_participant_id=strawberry.ID(u.mentee_participant_id),
                                reason=member(UnmatchedReason, u.reason, service=SERVICE))
                for u in r.unmatched_mentees],
            stats=cast(JSON, r.stats), created_at=r.created_at, published_at=r.published_at,
            pair_ids=[strawberry.ID(i) for i in r.pair_ids], formed=r.formed, offset=r.offset,
        )

    @strawberry.field(description="The pairs publishing formed, as matching keeps them.")
    async def formed_pairs(self, info: Info) -> list[Pair] | None:
        found = await info.context.loaders.pair.load_many(self.pair_ids)
        return [Pair.of(p) for p in found]


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="A score factor's relative weight; 0 switches it off.")
class MatchingWeightInput:
    factor: MatchingFactor = strawberry.field(description="The factor.")
    weight: float = strawberry.field(description="Its weight relative to the others, 0 to "
                                                 "1,000.")


def _setting(description: str) -> Any:
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input(description="Matching settings that change: those left out are kept, "
                                "weights merge factor by factor, an explicit null removes a "
                                "limit or restores a setting's default.")
class MatchingConfigInput:
    weights: list[MatchingWeightInput] | None = _setting(
        "Factors' weights; a factor left out takes its default weight.")
    allow_shared_manager: bool | None = _setting(
        "Whether two people with one direct manager may pair.")
    max_time_zone_hours: float | None = _setting(
        "The most hours apart two time zones may be, 0 to 12.")
    min_overlap_hours: float | None = _setting(
        "The least weekly availability in common, 0 to 168 hours.")
    ideal_level_gap: int | None = _setting(
        "The job-level gap that scores best: 1 to one less than the deployment's highest "
        "job level; null: the scale's default (4 on a 1-20 scale).")
    ideal_overlap_hours: float | None = _setting(
        "The weekly overlap that scores full availability points, up to 40 hours.")
    dei_topics: list[str] | None = _setting(
        "Topics a mentor teaches only after opting in to DEI topics.")
    diversity_attribute: str | None = _setting(
        "The self-declared attribute the diversity factor looks at.")
    diversity_values: list[str] | None = _setting(
        "Its values that count as under-represented.")


@strawberry.input(description="Confirm a pair; overrideReason is required to pass a warning.")
class FormPairInput:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    mentee_participant_id: strawberry.ID = strawberry.field(
        description="The mentee's participant id (the senior who learns).")
    mentor_participant_id: strawberry.ID = strawberry.field(
        description="The mentor's participant id (the junior who teaches).")
    override_reason: str | None = strawberry.field(
        default=None, description="Why to form it against an overridable rule.")


# --- payloads --------------------------------------------------------------------------


@strawberry.type(description="What formPair did: the pair, or why not.")
class FormPairPayload:
    pair: Pair | None = strawberry.field(
        description="The pair formed; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What endPair did: the pair, or why not.")
class EndPairPayload:
    pair: Pair | None = strawberry.field(
        description="The pair, ended; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What pickMentor did: the proposed pair, or why not.")
class PickMentorPayload:
    pair: Pair | None = strawberry.field(
        description="The proposed pair; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What acceptPair did: the pair, or why not.")
class AcceptPairPayload:
    pair: Pair | None = strawberry.field(
        description="The pair, formed; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What declinePair did: the pair, or why not.")
class DeclinePairPayload:
    pair: Pair | None = strawberry.field(
        description="The pair, declined; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What updateMatchingConfig did: the configuration, or why not.")
class UpdateMatchingConfigPayload:
    matching_config: MatchingConfig | None = strawberry.field(
        description="The configuration now; null when errors say why it was not changed.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What runMatching did: the run, or why not.")
class RunMatchingPayload:
    match_run: MatchRun | None = strawberry.field(
        description="The run made; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What publishMatchRun did: the run, or why not.")
class PublishMatchRunPayload:
    match_run: MatchRun | None = strawberry.field(
        description="The run, published; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Suggestions and pairs."""

    @strawberry.field(description="The best mentors for a mentee, with the score's breakdown.")
    async def suggestions(
        self, info: Info, programme_id: ProgrammeId,
        mentee_participant_id: MenteeParticipantId,
        limit: Annotated[int, described("How many, best first (1 to 100,000).")] = 3,
    ) -> list[Suggestion]:
        found = await info.context.matching.suggestions(programme_id, mentee_participant_id,
                                                        limit)
        return [Suggestion.of(s) for s in found.suggestions]

    @strawberry.field(description="Pairs, by programme, participant and/or status.")
    async def pairs(
        self, info: Info,
        programme_id: Annotated[strawberry.ID | None, described("Only this programme's.")]
        = None,
        participant_id: Annotated[strawberry.ID | None, described(
            "Only those this participant is in, as mentor or mentee.")] = None,
        status: Annotated[PairStatus | None, described("Only those in this status.")] = None,
        first: First = DEFAULT_FIRST, after: After = None,
    ) -> Connection[Pair]:
        window = Window.of("Pair", first=first, after=after)
        found = await info.context.loaders.pair_list.load(
            (programme_id, participant_id, plain(status)))
        info.context.loaders.pair.prime_many({p.id: p for p in found})
        connection = window.page(found, id=by_id, node=Pair.of)
        await prefetch_page(info, "Pair", connection.nodes)
        return connection

    @strawberry.field(description="One pair.")
    async def pair(self, info: Info, pair_id: PairId) -> Pair | None:
        identifier(pair_id, field="pair_id")
        return Pair.of(await info.context.loaders.pair.load(pair_id))


@strawberry.type
class RunQuery:
    """What a whole-cohort match run works with, and the runs made."""

    @strawberry.field(description="A programme's scoring weights and limits (admins).")
    async def matching_config(self, info: Info,
                              programme_id: ProgrammeId) -> MatchingConfig | None:
        return MatchingConfig.of(await info.context.loaders.matching_config.load(programme_id))

    @strawberry.field(description="What a match run would work with (admins).")
    async def pool_stats(self, info: Info, programme_id: ProgrammeId) -> PoolStats | None:
        return PoolStats.of(await info.context.loaders.pool_stats.load(programme_id))

    @strawberry.field(description="A programme's match runs, newest first (admins).")
    async def match_runs(self, info: Info, programme_id: ProgrammeId,
                         first: First = DEFAULT_FIRST,
                         after: After = None) -> Connection[MatchRun]:
        window = Window.of("MatchRun", first=first, after=after)
        found = await info.context.loaders.programme_runs.load(programme_id)
        return window.page(found, id=by_id, node=MatchRun.of)

    @strawberry.field(description="One match run with a page of its pairs and unmatched "
                                   "mentees (admins): " + OFFSET_PAGE)
    async def match_run(
        self, info: Info, match_run_id: MatchRunId,
        offset: Annotated[int, described("Where the page starts.")] = 0,
        limit: Annotated[int | None, described("How many entries of each list.")] = None,
    ) -> MatchRun | None:
        identifier(match_run_id, field="match_run_id")
        return MatchRun.of(await info.context.matching.run(match_run_id, offset, limit))


@strawberry.type
class Mutation:
    """Pairs, scoring settings and match runs."""

    @strawberry.mutation(description="Confirm a pair from matching's suggestions (admins).")
    async def form_pair(
        self, info: Info, input: Annotated[FormPairInput, described("Who, in which programme.")],
    ) -> FormPairPayload | None:
        data = clients.PairCreate(
            programme_id=input.programme_id, mentee_participant_id=input.mentee_participant_id,
            mentor_participant_id=input.mentor_participant_id,
            override_reason=input.override_reason,
        )
        pair, errors = await attempt(info, lambda: info.context.matching.form_pair(data),
                                     Pair.of, body="input")
        return FormPairPayload(pair=pair, errors=errors)

    @strawberry.mutation(description="End a pair, with the reason.")
    async def end_pair(
        self, info: Info, pair_id: PairId,
        reason: Annotated[PairEndReason, described("Why it ends.")],
        note: Annotated[str | None, described("More, for the record.")] = None,
    ) -> EndPairPayload | None:
        pair, errors = await attempt(
            info, lambda: info.context.matching.end_pair(pair_id, plain(reason), note), Pair.of)
        return EndPairPayload(pair=pair, errors=errors)

    @strawberry.mutation(description="A mentee picks a mentor from their shortlist: a proposed "
                                     "pair until the mentor accepts.")
    async def pick_mentor(self, info: Info, programme_id: ProgrammeId,
                          mentee_participant_id: MenteeParticipantId,
                          mentor_participant_id: MentorParticipantId,
                          ) -> PickMentorPayload | None:
        pair, errors = await attempt(
            info, lambda: info.context.matching.pick_mentor(
                programme_id, mentee_participant_id, mentor_participant_id), Pair.of)
        return PickMentorPayload(pair=pair, errors=errors)

    @strawberry.mutation(description="The proposed mentor accepts: the pair forms.")
    async def accept_pair(self, info: Info, pair_id: PairId) -> AcceptPairPayload | None:
        pair, errors = await attempt(info, lambda: info.context.matching.accept_pair(pair_id),
                                     Pair.of)
        return AcceptPairPayload(pair=pair, errors=errors)

    @strawberry.mutation(description="The proposed mentor declines; the mentee can pick again.")
    async def decline_pair(
        self, info: Info, pair_id: PairId,
        note: Annotated[str | None, described("Why, for the mentee.")] = None,
    ) -> DeclinePairPayload | None:
        pair, errors = await attempt(
            info, lambda: info.context.matching.decline_pair(pair_id, note), Pair.of)
        return DeclinePairPayload(pair=pair, errors=errors)

    @strawberry.mutation(description="Set a programme's scoring weights and limits (admins).")
    async def update_matching_config(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[MatchingConfigInput, described(
            "The settings that change; those left out are kept.")],
    ) -> UpdateMatchingConfigPayload | None:
        values: dict[str, Any] = given(input)
        if isinstance(values.get("weights"), list):
            values["weights"] = {w["factor"]: w["weight"] for w in values["weights"]}
        data = clients.MatchingConfigChange.model_validate(values)
        config, errors = await attempt(
            info, lambda: info.context.matching.patch_matching_config(programme_id, data),
            MatchingConfig.of, body="input")
        return UpdateMatchingConfigPayload(matching_config=config, errors=errors)

    @strawberry.mutation(description="Match the whole cohort optimally; a dry run forms "
                                     "nothing (admins).")
    async def run_matching(
        self, info: Info, programme_id: ProgrammeId,
        objective: Annotated[MatchObjective, described("What to optimise.")]
        = MatchObjective.MAX_SCORE,
        dry_run: Annotated[bool, described("Whether to review before forming pairs.")] = True,
    ) -> RunMatchingPayload | None:
        data = clients.MatchRunCreate(objective=plain(objective), dry_run=dry_run)
        run, errors = await attempt(
            info, lambda: info.context.matching.create_run(programme_id, data), MatchRun.of)
        return RunMatchingPayload(match_run=run, errors=errors)

    @strawberry.mutation(description="Form the pairs of a reviewed dry run; each is checked "
                                     "against the rules again first (admins).")
    async def publish_match_run(self, info: Info,
                                match_run_id: MatchRunId) -> PublishMatchRunPayload | None:
        run, errors = await attempt(
            info, lambda: info.context.matching.publish_run(match_run_id), MatchRun.of)
        return PublishMatchRunPayload(match_run=run, errors=errors)
