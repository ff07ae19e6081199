"""Matching's HTTP API: thin routes over the rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from matching import configuration, pairs, pool, runs, suggestions
from matching.models import (
    MatchingConfigChange,
    MatchingConfigPublic,
    MatchingConfigUpdate,
    MatchRunCreate,
    MatchRunPublic,
    PairCreate,
    PairDecline,
    PairEnd,
    PairPick,
    PairPublic,
    PairStatus,
    PoolStats,
    SuggestionList,
)
from upward_common.auth import CurrentUser, PersonUser, ProgrammeAdmin
from upward_common.batch import MAX_BATCH_IDS, Batch, BatchIds
from upward_common.db import SessionDep
from upward_common.limits import Identifier

router = APIRouter(prefix="/api/v1")


def _pool_cache(request: Request) -> pool.PoolCache:
    # The app's one cache, made by its lifespan (main.py): it lives and dies with the app.
    cache: pool.PoolCache = request.app.state.pool_cache
    return cache


CacheDep = Annotated[pool.PoolCache, Depends(_pool_cache)]


def _run_page(
    offset: Annotated[int, Query(ge=0, description=(
        "First entry of the run's pairs, unmatched mentees and formed pair ids to return."
    ))] = 0,
    limit: Annotated[int, Query(ge=0, le=runs.RUN_PAGE_MAX, description=(
        "How many entries of each list to return (0: the run's figures alone)."
    ))] = runs.RUN_PAGE,
) -> slice:
    return slice(offset, offset + limit)


RunPageDep = Annotated[slice, Depends(_run_page)]


@router.get("/programmes/{programme_id}/mentees/{participant_id}/suggestions",
            response_model=SuggestionList)
async def list_suggestions(
    programme_id: Identifier, participant_id: Identifier, session: SessionDep, user: CurrentUser,
    cache: CacheDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 3,
) -> Any:
    """Eligible mentors with a free place for this mentee, best score first, each explained."""
    found = await suggestions.suggestions(session, user=user, programme_id=programme_id,
                                          mentee_participant_id=participant_id, limit=limit,
                                          cache=cache)
    await session.commit()  # the shortlist.offered outbox row
    return found


@router.post("/programmes/{programme_id}/mentees/{participant_id}/pick",
             response_model=PairPublic, status_code=201)
async def pick_mentor(programme_id: Identifier, participant_id: Identifier, data: PairPick,
               session: SessionDep, user: CurrentUser, cache: CacheDep) -> Any:
    """The mentee picks a mentor from their shortlist; the mentor then accepts or declines."""
    pair = await pairs.pick_mentor(session, user=user, programme_id=programme_id,
                                   mentee_participant_id=participant_id,
                                   mentor_participant_id=data.mentor_participant_id,
                                   cache=cache)
    await session.commit()
    return pairs.pair_public(pair, user)


@router.get("/programmes/{programme_id}/pool", response_model=PoolStats)
async def get_pool_stats(programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
                   cache: CacheDep) -> Any:
    """Pool statistics (admins): mentors, mentees, places and eligible pairs a run works with."""
    return await pool.pool_stats(session, programme_id=programme_id, cache=cache)


@router.get("/programmes/{programme_id}/matching-config", response_model=MatchingConfigPublic)
async def get_matching_config(programme_id: Identifier, session: SessionDep,
                              user: ProgrammeAdmin) -> Any:
    """The programme's scoring weights and limits (admins)."""
    return await configuration.get_config(session, programme_id=programme_id)


@router.put("/programmes/{programme_id}/matching-config", response_model=MatchingConfigPublic)
async def put_matching_config(programme_id: Identifier, data: MatchingConfigUpdate,
                              session: SessionDep, user: ProgrammeAdmin) -> Any:
    """Set the programme's scoring weights and limits (admins)."""
    config = await configuration.put_config(session, programme_id=programme_id, data=data)
    await session.commit()
    return config


@router.patch("/programmes/{programme_id}/matching-config",
              response_model=MatchingConfigPublic)
async def patch_matching_config(programme_id: Identifier, data: MatchingConfigChange,
                                session: SessionDep, user: ProgrammeAdmin) -> Any:
    """Change some of the programme's weights and limits; the others are kept (admins)."""
    config = await configuration.patch_config(session, programme_id=programme_id, data=data)
    await session.commit()
    return config


@router.post("/pairs", response_model=PairPublic, status_code=201)
async def create_pair(data: PairCreate, session: SessionDep, user: ProgrammeAdmin,
                      cache: CacheDep) -> Any:
    """Pair a mentor and a mentee (admins) after the hard-constraint check."""
    pair = await pairs.create_pair(session, data=data, cache=cache)
    await session.commit()
    return pairs.pair_public(pair, user)


ProgrammeIds = Annotated[list[Identifier] | None, Query(max_length=MAX_BATCH_IDS, description=(
    "Only these programmes' pairs; repeat the parameter for several programmes "
    f"(`?programme_id=a&programme_id=b`), at most {MAX_BATCH_IDS}."))]


@router.get("/pairs", response_model=list[PairPublic])
async def list_pairs(
    session: SessionDep, user: PersonUser, programme_id: ProgrammeIds = None,
    participant_id: Identifier | None = None, status: PairStatus | None = None,
) -> Any:
    """Pairs: every pair for admins, a participant's own pairs otherwise."""
    found = await pairs.list_pairs(session, user=user, programme_id=programme_id,
                                   participant_id=participant_id,
                                   status=status.value if status else None)
    return [pairs.pair_public(pair, user) for pair in found]


@router.get("/batch/pairs", response_model=Batch[PairPublic], tags=["batch"])
async def batch_pairs(ids: BatchIds, session: SessionDep, user: PersonUser) -> Any:
    """Pairs by id, each as `GET /pairs/{pair_id}` answers it (docs/limits.md)."""
    found, missing = await pairs.get_pairs(session, user=user, pair_ids=ids)
    return Batch[PairPublic](items=[pairs.pair_public(p, user) for p in found],
                             missing=missing)


@router.get("/pairs/{pair_id}", response_model=PairPublic)
async def get_pair(pair_id: Identifier, session: SessionDep, user: PersonUser) -> Any:
    """One pair, for its members and admins."""
    pair = await pairs.get_pair(session, user=user, pair_id=pair_id)
    return pairs.pair_public(pair, user)


@router.post("/pairs/{pair_id}/accept", response_model=PairPublic)
async def accept_pair(pair_id: Identifier, session: SessionDep, user: PersonUser) -> Any:
    """The proposed mentor accepts: the pair forms."""
    pair = await pairs.respond(session, user=user, pair_id=pair_id, accept=True)
    await session.commit()
    return pairs.pair_public(pair, user)


@router.post("/pairs/{pair_id}/decline", response_model=PairPublic)
async def decline_pair(pair_id: Identifier, data: PairDecline, session: SessionDep,
                  user: PersonUser) -> Any:
    """The proposed mentor declines; the mentee can pick again."""
    pair = await pairs.respond(session, user=user, pair_id=pair_id, accept=False,
                               note=data.note)
    await session.commit()
    return pairs.pair_public(pair, user)


@router.post("/pairs/{pair_id}/end", response_model=PairPublic)
async def end_pair(pair_id: Identifier, data: PairEnd, session: SessionDep,
                   user: PersonUser) -> Any:
    """End an active pair (completed, poor fit, withdrawal, departure, inactivity, admin)."""
    pair = await pairs.end_pair(session, user=user, pair_id=pair_id, reason=data.reason,
                                note=data.note)
    await session.commit()
    return pairs.pair_public(pair, user)


@router.post("/programmes/{programme_id}/match-runs", response_model=MatchRunPublic,
             status_code=201)
async def create_match_run(programme_id: Identifier, data: MatchRunCreate, request: Request,
                     session: SessionDep, user: ProgrammeAdmin, cache: CacheDep,
                     page: RunPageDep) -> Any:
    """Match the whole cohort optimally (max_score or max_participation); dry runs form nothing.

    The answer's pairs and unmatched mentees are a page (`offset`, `limit`);
    `matched` and `unmatched` count them all.
    """
    settings = request.app.state.settings
    run = await runs.create_run(
        session, user=user, programme_id=programme_id, data=data, cache=cache,
        candidates_per_mentee=settings.solver_candidates_per_mentee, page=page)
    await session.commit()
    return run


@router.get("/programmes/{programme_id}/match-runs", response_model=list[MatchRunPublic])
async def list_match_runs(programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
                    page: RunPageDep) -> Any:
    """A programme's match runs, newest first (admins); `limit=0` lists their figures alone."""
    return await runs.list_runs(session, user=user, programme_id=programme_id, page=page)


@router.get("/match-runs/{run_id}", response_model=MatchRunPublic)
async def get_match_run(run_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
                  page: RunPageDep) -> Any:
    """One match run with a page of its pairs and of the mentees it left out, each with
    why (admins)."""
    return await runs.get_run(session, user=user, run_id=run_id, page=page)


@router.post("/match-runs/{run_id}/publish", response_model=MatchRunPublic)
async def publish_match_run(run_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
                      cache: CacheDep, page: RunPageDep) -> Any:
    """Form the pairs of a reviewed dry run; each is checked again against the rules first."""
    run = await runs.publish_run(session, user=user, run_id=run_id, cache=cache,
                                 page=page)
    await session.commit()
    return run
