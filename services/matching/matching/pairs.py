"""A pair's lifecycle: the hard-constraint check, manual pairs, picks, answers and ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import events, repository, scoring
from matching.models import (
    Candidate,
    EndReason,
    FactorPoints,
    Pair,
    PairCreate,
    PairPublic,
    PairStatus,
)
from matching.pool import PoolCache, PoolView, individual_problem, load_view
from upward_common.auth import Principal, Role
from upward_common.batch import Missing, collect
from upward_common.events import PairAtRisk, PairFitFlagged, utcnow
from upward_common.problems import Problem, conflict, invalid, not_found


async def _candidate_or_404(session: AsyncSession, participant_id: str, *, field: str,
                            programme_id: str | None = None) -> Candidate:
    candidate = await repository.get_candidate(session, participant_id)
    if candidate is None or candidate.role not in ("mentor", "mentee") or (
            programme_id is not None and candidate.programme_id != programme_id):
        raise invalid(field, f"No participant {participant_id} in this programme")
    return candidate


@dataclass
class Evaluation:
    score: float
    breakdown: list[dict[str, Any]]
    violations: list[str]


def _rule_problem(rule: str, detail: str, field: str, **extra: Any) -> Problem:
    return conflict(f"{detail} (rule: {rule})", field=field, rule=rule, **extra)


INDIVIDUAL_DETAILS = {
    "withdrawn": "has withdrawn from the programme",
    "departed": "has left the company",
    "mentor_max_level": "is above the programme's highest mentor level",
    "mentee_min_level": "is below the programme's lowest mentee level",
}


async def evaluate_pair(
    session: AsyncSession, *, programme_id: str, mentee_participant_id: str,
    mentor_participant_id: str, cache: PoolCache | None = None,
) -> tuple[PoolView, Candidate, Candidate, Evaluation]:
    """Check every hard constraint for one pair and score it; raises on an absolute rule."""
    mentee = await _candidate_or_404(session, mentee_participant_id,
                                     field="mentee_participant_id", programme_id=programme_id)
    mentor = await _candidate_or_404(session, mentor_participant_id,
                                     field="mentor_participant_id", programme_id=programme_id)
    if mentee.role != "mentee":
        raise invalid("mentee_participant_id", "This participant enrolled as a mentor")
    if mentor.role != "mentor":
        raise invalid("mentor_participant_id", "This participant enrolled as a mentee")
    view = await load_view(session, programme_id, cache)
    if view.programme.known and view.programme.status == "closed":
        raise conflict("The programme is closed", field="programme_id", rule="programme_closed")
    today = datetime.now(UTC).date()
    for candidate, field, label in ((mentee, "mentee_participant_id", "The mentee"),
                                    (mentor, "mentor_participant_id", "The mentor")):
        rows = view.mentee_row if candidate is mentee else view.mentor_row
        if candidate.participant_id not in rows:
            employee = await repository.get_employee(session, candidate.employee_id)
            rule = individual_problem(candidate, employee, view.programme, today) or "withdrawn"
            raise _rule_problem(rule, f"{label} {INDIVIDUAL_DETAILS[rule]}", field)
    i, j = view.mentee_row[mentee.participant_id], view.mentor_row[mentor.participant_id]
    if view.mentee_open[i]:
        raise _rule_problem("mentee_already_paired",
                            "The mentee already has a proposed or active pair",
                            "mentee_participant_id")
    if view.mentor_free[j] <= 0:
        raise _rule_problem("mentor_capacity", "The mentor has no free place left",
                            "mentor_participant_id")
    scored = scoring.score_block(view.pool, np.array([i]), np.array([j]), with_points=True)
    assert scored.points is not None
    broken = scoring.rule_list(int(scored.violations[0, 0]))
    absolute = [r for r in broken if not r & scoring.OVERRIDABLE]
    if absolute:
        first = absolute[0]
        raise _rule_problem(scoring.RULE_NAMES[first], scoring.RULE_DETAILS[first],
                            "mentor_participant_id",
                            rules=[scoring.RULE_NAMES[r] for r in broken])
    evaluation = Evaluation(
        score=int(scored.total[0, 0]) / 100,
        breakdown=scoring.explain(view.pool, i, j, scored.points[:, 0, 0]),
        violations=[scoring.RULE_NAMES[r] for r in broken],
    )
    return view, mentee, mentor, evaluation


def new_pair(*, programme_id: str, mentee: Candidate, mentor: Candidate,
             evaluation: Evaluation, status: PairStatus, origin: str,
             proposed_at: datetime, run_id: str | None = None) -> Pair:
    """The row of a pair that passed `evaluate_pair` (or a run's re-check), not yet added."""
    return Pair(
        programme_id=programme_id,
        mentor_participant_id=mentor.participant_id,
        mentee_participant_id=mentee.participant_id,
        mentor_employee_id=mentor.employee_id,
        mentee_employee_id=mentee.employee_id,
        status=status,
        origin=origin,
        score=evaluation.score,
        breakdown=evaluation.breakdown,
        run_id=run_id,
        proposed_at=proposed_at,
        formed_at=proposed_at if status == PairStatus.ACTIVE else None,
    )


async def create_pair(
    session: AsyncSession, *, data: PairCreate, cache: PoolCache | None = None,
) -> Pair:
    """An admin forms an active pair; bending a programme limit needs a recorded reason."""
    await repository.lock_programme(session, data.programme_id)
    _, mentee, mentor, evaluation = await evaluate_pair(
        session, programme_id=data.programme_id, mentee_participant_id=data.mentee_participant_id,
        mentor_participant_id=data.mentor_participant_id, cache=cache)
    reason = (data.override_reason or "").strip()
    if evaluation.violations and not reason:
        rule = evaluation.violations[0]
        detail = scoring.RULE_DETAILS[next(r for r, n in scoring.RULE_NAMES.items() if n == rule)]
        raise _rule_problem(rule, f"{detail}; an admin may override it with an override_reason",
                            "override_reason", rules=evaluation.violations)
    now = utcnow()
    pair = new_pair(programme_id=data.programme_id, mentee=mentee, mentor=mentor,
                    evaluation=evaluation, status=PairStatus.ACTIVE, origin="manual",
                    proposed_at=now)
    if reason:
        pair.override_reason = reason
        pair.overridden_rules = evaluation.violations
    await repository.add(session, pair)
    await repository.bump_revisions(session, [data.programme_id])
    events.pair_formed(session, pair)
    return pair


async def pick_mentor(
    session: AsyncSession, *, user: Principal, programme_id: str, mentee_participant_id: str,
    mentor_participant_id: str, cache: PoolCache | None = None,
) -> Pair:
    """A mentee picks a mentor from their shortlist: a proposal the mentor accepts or declines."""
    mentee = await repository.get_candidate(session, mentee_participant_id)
    if mentee is None or mentee.programme_id != programme_id:
        raise not_found("Mentee", mentee_participant_id)
    user.require_self_or_admin(mentee.employee_id)
    programme = await repository.get_programme(session, programme_id)
    if programme is not None and programme.known and programme.matching_mode == "admin":
        # matching_mode says who pairs people: in `admin`, admins form every pair.
        raise conflict("This programme's matching_mode is admin: admins form the pairs, "
                       "mentees do not pick", field="programme_id", rule="matching_mode",
                       matching_mode="admin")
    await repository.lock_programme(session, programme_id)
    _, mentee, mentor, evaluation = await evaluate_pair(
        session, programme_id=programme_id, mentee_participant_id=mentee_participant_id,
        mentor_participant_id=mentor_participant_id, cache=cache)
    if evaluation.violations:
        rule = evaluation.violations[0]
        raise _rule_problem(rule, "This mentor breaks a programme limit; ask an admin",
                            "mentor_participant_id", rules=evaluation.violations)
    pair = new_pair(programme_id=programme_id, mentee=mentee, mentor=mentor,
                    evaluation=evaluation, status=PairStatus.PROPOSED, origin="shortlist",
                    proposed_at=utcnow())
    await repository.add(session, pair)
    await repository.bump_revisions(session, [programme_id])
    events.pair_proposed(session, pair)
    return pair


async def _pair_for(session: AsyncSession, user: Principal, pair_id: str) -> Pair:
    pair = await repository.get_pair(session, pair_id)
    if pair is None:
        raise not_found("Pair", pair_id)
    if not user.is_admin and user.employee_id not in (pair.mentor_employee_id,
                                                      pair.mentee_employee_id):
        raise not_found("Pair", pair_id)  # someone else's pair does not exist for them
    return pair


async def get_pair(session: AsyncSession, *, user: Principal, pair_id: str) -> Pair:
    """One pair, for its two members or an admin."""
    return await _pair_for(session, user, pair_id)


async def get_pairs(session: AsyncSession, *, user: Principal,
                    pair_ids: Sequence[str]) -> tuple[list[Pair], list[Missing]]:
    """Pairs by id, each as `get_pair` answers it: someone else's pair is not there (404)."""
    found = await repository.pairs_by_id(session, pair_ids)

    def one(pair_id: str) -> Pair:
        pair = found.get(pair_id)
        if pair is None or (not user.is_admin and user.employee_id not in (
                pair.mentor_employee_id, pair.mentee_employee_id)):
            raise not_found("Pair", pair_id)
        return pair

    return collect(pair_ids, one)


async def list_pairs(
    session: AsyncSession, *, user: Principal, programme_id: str | Sequence[str] | None,
    participant_id: str | None, status: str | None = None,
) -> Sequence[Pair]:
    """Admins see every pair; a participant only the pairs they are in."""
    employee_id = None if user.is_admin else user.employee_id
    if not user.is_admin and employee_id is None:
        return []
    return await repository.list_pairs(session, programme_id=programme_id,
                                       participant_id=participant_id, employee_id=employee_id,
                                       status=status)


async def respond(session: AsyncSession, *, user: Principal, pair_id: str, accept: bool,
                  note: str | None = None) -> Pair:
    """The mentor (or an admin) accepts a proposal, forming the pair, or declines it."""
    pair = await _pair_for(session, user, pair_id)
    if not user.is_admin and user.employee_id != pair.mentor_employee_id:
        raise Problem(403, "Only the proposed mentor can answer a proposal", kind="forbidden")
    if pair.status != PairStatus.PROPOSED:
        raise conflict(f"The pair is {pair.status}, not proposed", field="status")
    now = utcnow()
    if accept:
        pair.status = PairStatus.ACTIVE
        pair.formed_at = now
        events.pair_formed(session, pair)
    else:
        pair.status = PairStatus.DECLINED
        pair.ended_at = now
        pair.end_note = note
        events.pair_declined(session, pair, reason="declined")
    await repository.bump_revisions(session, [pair.programme_id])
    await session.flush()
    return pair


async def end_pair(session: AsyncSession, *, user: Principal, pair_id: str, reason: EndReason,
                   note: str | None = None) -> Pair:
    """End an active pair; members may end it for poor fit, admins for any reason."""
    pair = await _pair_for(session, user, pair_id)
    if not user.is_admin and reason != EndReason.POOR_FIT:
        raise invalid("reason", "A participant can end their pair only as poor_fit")
    if pair.status != PairStatus.ACTIVE:
        raise conflict(f"The pair is {pair.status}, not active", field="status")
    pair.status = PairStatus.COMPLETED if reason == EndReason.COMPLETED else PairStatus.ENDED
    pair.end_reason = reason.value
    pair.end_note = note
    pair.ended_at = utcnow()
    events.pair_ended(session, pair)
    await repository.bump_revisions(session, [pair.programme_id])
    await session.flush()
    return pair


async def end_open_pairs(
    session: AsyncSession, *, participant_ids: Sequence[str], reason: EndReason,
    occurred_at: datetime,
) -> list[Pair]:
    """End active pairs (pair-ended) and drop proposals of these participants.

    `occurred_at` is the time of the event that ends them (a withdrawal, a departure).
    """
    ended: list[Pair] = []
    for pair in await repository.open_pairs_of_participants(session, participant_ids):
        was_active = pair.status == PairStatus.ACTIVE
        pair.status = PairStatus.ENDED
        pair.end_reason = reason.value
        pair.ended_at = max(occurred_at, pair.formed_at or pair.proposed_at)
        if was_active:
            events.pair_ended(session, pair)
        else:  # a proposal never formed, so nothing ended: it is dropped
            events.pair_declined(session, pair, reason=reason.value)
        ended.append(pair)
    if ended:
        await repository.bump_revisions(session, {p.programme_id for p in ended})
        await session.flush()
    return ended


def pair_public(pair: Pair, user: Principal) -> PairPublic:
    """A pair as `user` may read it: the diversity factor named generically unless HR admin."""
    public = PairPublic.model_validate(pair, from_attributes=True)
    if not user.is_admin:
        public.rematch_suggested_at = public.at_risk_at = None
    if not user.has(Role.HR_ADMIN):
        public.breakdown = [FactorPoints.model_validate(item) for item in
                            scoring.redact([f.model_dump() for f in public.breakdown])]
    return public


async def on_pair_fit_flagged(session: AsyncSession, data: PairFitFlagged) -> None:
    """Scheduling heard a poor fit twice: HR sees a rematch suggestion on the pair."""
    pair = await repository.get_pair(session, data.pair_id)
    if pair is None:
        return
    if pair.rematch_suggested_at is None or pair.rematch_suggested_at > data.occurred_at:
        pair.rematch_suggested_at = data.occurred_at  # the first report stands
        session.add(pair)
        await session.flush()


async def on_pair_at_risk(session: AsyncSession, data: PairAtRisk) -> None:
    """Scheduling flagged the pair silent: the latest flag shows on the pair."""
    pair = await repository.get_pair(session, data.pair_id)
    if pair is None:
        return
    if pair.at_risk_at is None or pair.at_risk_at < data.occurred_at:
        pair.at_risk_at = data.occurred_at
        session.add(pair)
        await session.flush()
