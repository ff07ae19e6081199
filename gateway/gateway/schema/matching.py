"""Matching's part of the schema: suggestions, pairs, scoring settings, whole-cohort runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from gateway import clients
from gateway.context import Info
from gateway.schema import enrolment, scheduling
from gateway.schema.inputs import plain
from gateway.schema.pagination import OFFSET_PAGE

if TYPE_CHECKING:
    from gateway.schema.enrolment import Participant, Programme
    from gateway.schema.scheduling import Session

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
ENROLMENT = strawberry.lazy("gateway.schema.enrolment")
SCHEDULING = strawberry.lazy("gateway.schema.scheduling")


# --- types -----------------------------------------------------------------------------


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
    async def mentor(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
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
    origin: str | None = strawberry.field(description="How it came: admin, shortlist or run.")
    run_id: strawberry.ID | None
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
            origin=p.origin, run_id=strawberry.ID(p.run_id) if p.run_id else None,
            score=p.score, breakdown=ScoreFactor.many(p.breakdown),
            override_reason=p.override_reason, overridden_rules=p.overridden_rules,
            proposed_at=p.proposed_at, formed_at=p.formed_at, ended_at=p.ended_at,
            end_reason=p.end_reason,
        )

    @strawberry.field(description="The junior who teaches.")
    async def mentor(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentor_participant_id)
        )

    @strawberry.field(description="The senior who learns.")
    async def mentee(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentee_participant_id)
        )

    @strawberry.field(description="The pair's sessions, planned and held.")
    async def sessions(self, info: Info) -> list[Annotated[Session, SCHEDULING]] | None:
        found = await info.context.loaders.pair_sessions.load(self.id)
        return [scheduling.Session.of(s) for s in found]

    @strawberry.field(description="The pair's first session still planned (neither held nor "
                                   "cancelled), by start time; null when none is.")
    async def next_session(self, info: Info) -> Annotated[Session, SCHEDULING] | None:
        found = await info.context.loaders.pair_sessions.load(self.id)
        planned = [s for s in found if s.status == "planned" and s.starts_at is not None]
        if not planned:
            return None
        return scheduling.Session.of(min(planned, key=lambda s: (s.starts_at, s.id)))

    @strawberry.field(description="The programme the pair belongs to.")
    async def programme(self, info: Info) -> Annotated[Programme, ENROLMENT] | None:
        return enrolment.Programme.of(await info.context.loaders.programme.load(self.programme_id))


@strawberry.type(description="What a match run works with: people, places, eligible pairs.")
class PoolStats:
    programme_id: strawberry.ID
    mentors: int
    mentees: int
    total_capacity: int
    free_capacity: int
    unpaired_mentees: int
    eligible_pairs: int

    @classmethod
    def of(cls, p: clients.PoolStatsPublic) -> PoolStats:
        return cls(programme_id=strawberry.ID(p.programme_id), mentors=p.mentors,
                   mentees=p.mentees, total_capacity=p.total_capacity,
                   free_capacity=p.free_capacity, unpaired_mentees=p.unpaired_mentees,
                   eligible_pairs=p.eligible_pairs)


@strawberry.type(description="A score factor's relative weight (0 switches it off).")
class MatchingWeight:
    factor: str
    weight: float


@strawberry.type(description="A programme's scoring weights and the limits it sets.")
class MatchingConfig:
    programme_id: strawberry.ID
    weights: list[MatchingWeight]
    allow_shared_manager: bool
    max_time_zone_hours: float | None
    min_overlap_hours: float | None
    ideal_level_gap: int | None
    ideal_overlap_hours: float | None
    dei_topics: list[str]
    diversity_attribute: str | None
    diversity_values: list[str]
    diversity_applies: bool = strawberry.field(
        description="Whether the programme opted in to a diversity objective.")

    @classmethod
    def of(cls, c: clients.MatchingConfigPublic) -> MatchingConfig:
        return cls(
            programme_id=strawberry.ID(c.programme_id),
            weights=[MatchingWeight(factor=k, weight=v) for k, v in c.weights.items()],
            allow_shared_manager=c.allow_shared_manager,
            max_time_zone_hours=c.max_time_zone_hours, min_overlap_hours=c.min_overlap_hours,
            ideal_level_gap=c.ideal_level_gap, ideal_overlap_hours=c.ideal_overlap_hours,
            dei_topics=c.dei_topics, diversity_attribute=c.diversity_attribute,
            diversity_values=c.diversity_values, diversity_applies=c.diversity_applies,
        )


@strawberry.type(description="A pair a match run chose, with its score.")
class MatchRunPair:
    mentee_participant_id: strawberry.ID
    mentor_participant_id: strawberry.ID
    score: float
    breakdown: list[ScoreFactor]

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


@strawberry.type(description="A mentee a run left unmatched, and why "
                               "(no_eligible_mentor, capacity_taken).")
class UnmatchedMentee:
    mentee_participant_id: strawberry.ID
    reason: str

    @strawberry.field(description="The unmatched mentee.")
    async def mentee(self, info: Info) -> Annotated[Participant, ENROLMENT] | None:
        return enrolment.Participant.of(
            await info.context.loaders.participant.load(self.mentee_participant_id)
        )


@strawberry.type(description="A whole-cohort match: a dry run to review, or published as pairs.")
class MatchRun:
    id: strawberry.ID
    programme_id: strawberry.ID
    objective: str = strawberry.field(description="max_score or max_participation.")
    dry_run: bool
    status: str
    total_score: float
    matched: int
    unmatched: int
    optimal: bool
    pairs: list[MatchRunPair]
    unmatched_mentees: list[UnmatchedMentee]
    stats: JSON = strawberry.field(description="The solver's own figures, as it reports them.")
    created_at: datetime
    published_at: datetime | None
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
            objective=r.objective, dry_run=r.dry_run, status=r.status,
            total_score=r.total_score, matched=r.matched, unmatched=r.unmatched,
            optimal=r.optimal,
            pairs=[MatchRunPair(mentee_participant_id=strawberry.ID(p.mentee_participant_id),
                                mentor_participant_id=strawberry.ID(p.mentor_participant_id),
                                score=p.score, breakdown=ScoreFactor.many(p.breakdown))
                   for p in r.pairs],
            unmatched_mentees=[
                UnmatchedMentee(mentee_participant_id=strawberry.ID(u.mentee_participant_id),
                                reason=u.reason) for u in r.unmatched_mentees],
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
    factor: str
    weight: float


@strawberry.input(description="The whole matching configuration: it replaces the previous "
                                "one, so what is left out is reset to the service's default.")
class MatchingConfigInput:
    weights: list[MatchingWeightInput] | None = strawberry.field(
        default=None, description="complementarity, interests, availability, language, "
                                  "format, department, level_gap, diversity.")
    allow_shared_manager: bool | None = None
    max_time_zone_hours: float | None = None
    min_overlap_hours: float | None = None
    ideal_level_gap: int | None = None
    ideal_overlap_hours: float | None = None
    dei_topics: list[str] | None = None
    diversity_attribute: str | None = None
    diversity_values: list[str] | None = None


@strawberry.input(description="Confirm a pair; overrideReason is required to pass a warning.")
class FormPairInput:
    programme_id: strawberry.ID
    mentee_participant_id: strawberry.ID
    mentor_participant_id: strawberry.ID
    override_reason: str | None = None


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Suggestions and pairs."""

    @strawberry.field(description="The best mentors for a mentee, with the score's breakdown.")
    async def suggestions(self, info: Info, programme_id: strawberry.ID,
                          mentee_participant_id: strawberry.ID,
                          limit: int = 3) -> list[Suggestion]:
        found = await info.context.matching.suggestions(programme_id, mentee_participant_id,
                                                        limit)
        return [Suggestion.of(s) for s in found.suggestions]

    @strawberry.field(description="Pairs, by programme, participant and/or status.")
    async def pairs(self, info: Info, programme_id: strawberry.ID | None = None,
                    participant_id: strawberry.ID | None = None,
                    status: str | None = None) -> list[Pair]:
        found = await info.context.matching.pairs(programme_id=programme_id,
                                                  participant_id=participant_id, status=status)
        info.context.loaders.pair.prime_many({p.id: p for p in found})
        return [Pair.of(p) for p in found]

    @strawberry.field(description="One pair.")
    async def pair(self, info: Info, id: strawberry.ID) -> Pair | None:
        return Pair.of(await info.context.loaders.pair.load(id))


@strawberry.type
class RunQuery:
    """What a whole-cohort match run works with, and the runs made."""

    @strawberry.field(description="A programme's scoring weights and limits (admins).")
    async def matching_config(self, info: Info,
                              programme_id: strawberry.ID) -> MatchingConfig | None:
        return MatchingConfig.of(await info.context.loaders.matching_config.load(programme_id))

    @strawberry.field(description="What a match run would work with (admins).")
    async def pool_stats(self, info: Info, programme_id: strawberry.ID) -> PoolStats | None:
        return PoolStats.of(await info.context.loaders.pool_stats.load(programme_id))

    @strawberry.field(description="A programme's match runs, newest first (admins).")
    async def match_runs(self, info: Info, programme_id: strawberry.ID) -> list[MatchRun]:
        found = await info.context.loaders.programme_runs.load(programme_id)
        return [MatchRun.of(r) for r in found]

    @strawberry.field(description="One match run with a page of its pairs and unmatched "
                                   "mentees (admins): " + OFFSET_PAGE)
    async def match_run(self, info: Info, id: strawberry.ID, offset: int = 0,
                        limit: int | None = None) -> MatchRun | None:
        return MatchRun.of(await info.context.matching.run(id, offset, limit))


@strawberry.type
class Mutation:
    """Pairs, scoring settings and match runs."""

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

    @strawberry.mutation(description="A mentee picks a mentor from their shortlist: a proposed "
                                     "pair until the mentor accepts.")
    async def pick_mentor(self, info: Info, programme_id: strawberry.ID,
                          mentee_participant_id: strawberry.ID,
                          mentor_participant_id: strawberry.ID) -> Pair:
        picked = await info.context.matching.pick_mentor(programme_id, mentee_participant_id,
                                                         mentor_participant_id)
        return Pair.of(picked)

    @strawberry.mutation(description="The proposed mentor accepts: the pair forms.")
    async def accept_pair(self, info: Info, pair_id: strawberry.ID) -> Pair:
        return Pair.of(await info.context.matching.accept_pair(pair_id))

    @strawberry.mutation(description="The proposed mentor declines; the mentee can pick again.")
    async def decline_pair(self, info: Info, pair_id: strawberry.ID,
                           note: str | None = None) -> Pair:
        return Pair.of(await info.context.matching.decline_pair(pair_id, note))

    @strawberry.mutation(description="Set a programme's scoring weights and limits (admins).")
    async def update_matching_config(self, info: Info, programme_id: strawberry.ID,
                                     input: MatchingConfigInput) -> MatchingConfig:
        values: dict[str, Any] = plain(input)
        if "weights" in values:
            values["weights"] = {w["factor"]: w["weight"] for w in values["weights"]}
        data = clients.MatchingConfigUpdate.model_validate(values)
        return MatchingConfig.of(await info.context.matching.put_matching_config(programme_id,
                                                                                 data))

    @strawberry.mutation(description="Match the whole cohort optimally (objective max_score or "
                                     "max_participation); a dry run forms nothing (admins).")
    async def run_matching(self, info: Info, programme_id: strawberry.ID,
                           objective: str = "max_score", dry_run: bool = True) -> MatchRun:
        run = await info.context.matching.create_run(
            programme_id, clients.MatchRunCreate(objective=objective, dry_run=dry_run))
        return MatchRun.of(run)

    @strawberry.mutation(description="Form the pairs of a reviewed dry run; each is checked "
                                     "against the rules again first (admins).")
    async def publish_match_run(self, info: Info, run_id: strawberry.ID) -> MatchRun:
        return MatchRun.of(await info.context.matching.publish_run(run_id))
