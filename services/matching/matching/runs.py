"""Whole-cohort runs: the optimal matching of every unpaired mentee, reviewed and published."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import events, repository, scoring, solver
from matching.models import MatchRun, MatchRunCreate, MatchRunPublic, Pair, PairStatus
from matching.pairs import Evaluation, new_pair
from matching.pool import PoolCache, load_view
from upward_common.auth import Principal, Role
from upward_common.events import utcnow
from upward_common.problems import conflict, not_found


def _explained(pool: scoring.Pool, rows: NDArray[np.intp], cols: NDArray[np.intp]
               ) -> tuple[NDArray[np.int64], NDArray[np.int32], list[list[dict[str, Any]]]]:
    """Totals, broken rules and breakdowns of the pairs (rows[k], cols[k]).

    A run has up to one pair per mentee: this is CPU work, so callers run it in a
    thread rather than on the event loop.
    """
    totals, broken, points = scoring.pair_scores(pool, rows, cols)
    return totals, broken, [scoring.explain(pool, i, j, points[:, k]) for k, (i, j) in
                            enumerate(zip(rows.tolist(), cols.tolist(), strict=True))]


# A run's answer carries its lists a page at a time (a run has an explained pair per
# matched mentee, far too many for one answer): RUN_PAGE entries unless asked,
# RUN_PAGE_MAX at most.
RUN_PAGE = 1_000
RUN_PAGE_MAX = 10_000
ALL = slice(None)


def _run_public(run: MatchRun, user: Principal, pair_ids: Sequence[str] = (),
                page: slice = ALL) -> MatchRunPublic:
    pairs = run.pairs[page] if user.has(Role.HR_ADMIN) else [
        {**p, "breakdown": scoring.redact(p.get("breakdown", []))} for p in run.pairs[page]]
    return MatchRunPublic.model_validate({
        **run.model_dump(exclude={"pairs", "unmatched_mentees"}), "pairs": pairs,
        "unmatched_mentees": run.unmatched_mentees[page], "pair_ids": list(pair_ids)[page],
        "offset": page.start or 0, "formed": int(run.stats.get("published_pairs", 0)),
    })


async def create_run(
    session: AsyncSession, *, user: Principal, programme_id: str, data: MatchRunCreate,
    cache: PoolCache | None = None, candidates_per_mentee: int = 16, page: slice = ALL,
    now: datetime | None = None,
) -> MatchRunPublic:
    """Match every unpaired mentee optimally for the objective; publish unless a dry run.

    Either way the run is announced (`matchrun.finished`) in the same transaction:
    a dry run as a draft, a published one (here or by `publish_run`) once its pairs formed.
    """
    view = await load_view(session, programme_id, cache)
    if view.programme.known and view.programme.status == "closed":
        raise conflict("The programme is closed", field="programme_id", rule="programme_closed")
    rows = np.flatnonzero(~view.mentee_open).astype(np.intp)
    found = await asyncio.to_thread(
        solver.solve, view.pool, view.mentor_free, data.objective, mentee_rows=rows,
        candidates_per_mentee=candidates_per_mentee)
    mentees, mentors = view.pool.mentees.people, view.pool.mentors.people
    _, _, breakdowns = await asyncio.to_thread(_explained, view.pool, found.mentees,
                                               found.mentors)
    run = MatchRun(
        programme_id=programme_id, objective=data.objective, dry_run=data.dry_run,
        status="draft", total_score=found.total / 100, matched=found.matched,
        unmatched=int(found.unmatched.size), optimal=found.optimal,
        pairs=[{"mentee_participant_id": mentees[i].participant_id,
                "mentor_participant_id": mentors[j].participant_id, "score": int(w) / 100,
                "breakdown": breakdown}
               for i, j, w, breakdown in zip(found.mentees.tolist(), found.mentors.tolist(),
                                             found.scores.tolist(), breakdowns, strict=True)],
        unmatched_mentees=[{"mentee_participant_id": mentees[i].participant_id, "reason": why}
                           for i, why in zip(found.unmatched.tolist(), found.unmatched_reason,
                                             strict=True)],
        stats=found.stats, created_at=now or utcnow(),
    )
    await repository.add(session, run)
    if data.dry_run:
        events.match_run_finished(session, run)
        return _run_public(run, user, page=page)
    return await _publish(session, run, cache, user, page, now=now)


async def get_run(session: AsyncSession, *, user: Principal, run_id: str,
                  page: slice = ALL) -> MatchRunPublic:
    """One run with its pairs and the reason each unmatched mentee was left out (admins)."""
    run = await repository.get_run(session, run_id)
    if run is None:
        raise not_found("Match run", run_id)
    pairs = await repository.list_pairs(session, run_id=run_id)
    return _run_public(run, user, [p.id for p in pairs], page)


async def list_runs(session: AsyncSession, *, user: Principal, programme_id: str,
                    page: slice = ALL) -> list[MatchRunPublic]:
    """A programme's runs, newest first (admins)."""
    return [_run_public(run, user, page=page)
            for run in await repository.list_runs(session, programme_id)]


async def publish_run(session: AsyncSession, *, user: Principal, run_id: str,
                      cache: PoolCache | None = None, page: slice = ALL) -> MatchRunPublic:
    """Form the pairs of a reviewed dry run (pair-formed for each)."""
    run = await repository.get_run(session, run_id)
    if run is None:
        raise not_found("Match run", run_id)
    if run.status != "draft":
        raise conflict(f"The run is {run.status}", field="status")
    return await _publish(session, run, cache, user, page)


async def _publish(session: AsyncSession, run: MatchRun, cache: PoolCache | None,
                   user: Principal, page: slice = ALL,
                   now: datetime | None = None) -> MatchRunPublic:
    # The pool may have moved since the dry run: every pair is checked again, now.
    await repository.lock_programme(session, run.programme_id)
    view = await load_view(session, run.programme_id, cache)
    free = view.mentor_free.copy()
    taken = view.mentee_open.copy()
    plan = [(view.mentee_row.get(p["mentee_participant_id"]),
             view.mentor_row.get(p["mentor_participant_id"])) for p in run.pairs]
    usable = [(i, j) for i, j in plan if i is not None and j is not None]
    rows = np.array([i for i, _ in usable], dtype=np.intp)
    cols = np.array([j for _, j in usable], dtype=np.intp)
    skipped = len(plan) - len(usable)
    now = now or utcnow()
    created: list[Pair] = []
    candidates = {c.participant_id: c for c in await repository.candidates(session,
                                                                            run.programme_id)}
    totals, broken, breakdowns = await asyncio.to_thread(_explained, view.pool, rows, cols)
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if broken[k] or taken[i] or free[j] <= 0:
            skipped += 1
            continue
        taken[i] = True
        free[j] -= 1
        mentee = candidates[view.pool.mentees.people[i].participant_id]
        mentor = candidates[view.pool.mentors.people[j].participant_id]
        evaluation = Evaluation(score=int(totals[k]) / 100,
                                breakdown=breakdowns[k], violations=[])
        pair = new_pair(programme_id=run.programme_id, mentee=mentee, mentor=mentor,
                        evaluation=evaluation, status=PairStatus.ACTIVE, origin="run",
                        proposed_at=now, run_id=run.id)
        session.add(pair)
        created.append(pair)
    await session.flush()
    for pair in created:
        events.pair_formed(session, pair)
    run.status = "published"
    # Its pairs formed: it reads as published, no longer as a dry run that forms nothing.
    run.dry_run = False
    run.published_at = now
    run.stats = {**run.stats, "published_pairs": len(created), "skipped_at_publish": skipped}
    await repository.bump_revisions(session, [run.programme_id])
    await session.flush()
    # After the pairs' own events, so a listener that sees the run finished has its pairs.
    events.match_run_finished(session, run)
    return _run_public(run, user, sorted(p.id for p in created), page)


# Who acts for an automatic programme's start run: matching itself, as an admin would.
_AUTOMATIC = Principal(sub="matching:automatic", roles=frozenset({Role.HR_ADMIN}))


async def start_automatic(session: AsyncSession, *, programme_id: str,
                          occurred_at: datetime) -> MatchRunPublic | None:
    """The whole-cohort run of an `automatic` programme that started running.

    Once per programme: when it already has a published run (this one, replayed, or
    an admin's), nothing happens. Late joiners pick from their shortlist, or an admin
    runs the cohort again. Published at once, at the event's time.
    """
    if any(run.status == "published" for run in await repository.list_runs(session,
                                                                         programme_id)):
        return None
    return await create_run(session, user=_AUTOMATIC, programme_id=programme_id,
                            data=MatchRunCreate(objective="max_participation", dry_run=False),
                            page=slice(0), now=occurred_at)
