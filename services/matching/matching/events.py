"""What matching emits through the outbox: pairs proposed, formed, declined and ended,
shortlists offered, and match runs finished.

Events flow one way: the rules call these emitters; the handlers of what
matching consumes live with the rules, and `main.py` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from matching.models import MatchRun, Pair
from upward_common.events import (
    MatchRunFinished,
    PairDeclined,
    PairEnded,
    PairFormed,
    PairProposed,
    ShortlistOffered,
    utcnow,
)
from upward_common.outbox import emit


def pair_formed(session: AsyncSession, pair: Pair) -> None:
    emit(
        session,
        PairFormed(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            mentor_participant_id=pair.mentor_participant_id,
            mentee_participant_id=pair.mentee_participant_id,
            mentor_employee_id=pair.mentor_employee_id,
            mentee_employee_id=pair.mentee_employee_id,
            score=pair.score,
            occurred_at=pair.formed_at or utcnow(),
        ),
    )


def pair_proposed(session: AsyncSession, pair: Pair) -> None:
    emit(
        session,
        PairProposed(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            mentor_participant_id=pair.mentor_participant_id,
            mentee_participant_id=pair.mentee_participant_id,
            mentor_employee_id=pair.mentor_employee_id,
            mentee_employee_id=pair.mentee_employee_id,
            occurred_at=pair.proposed_at or utcnow(),
        ),
    )


def pair_declined(session: AsyncSession, pair: Pair, *, reason: str) -> None:
    emit(
        session,
        PairDeclined(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            reason=reason,
            occurred_at=pair.ended_at or utcnow(),
        ),
    )


# The most mentor ids one offered shortlist carries (docs/limits.md): a frontend shows a
# handful; cards beyond these stay closed to the mentee.
SHORTLIST_EVENT_MAX = 100


def shortlist_offered(session: AsyncSession, *, programme_id: str, mentee_participant_id: str,
                      mentor_participant_ids: Sequence[str], occurred_at: datetime) -> None:
    emit(
        session,
        ShortlistOffered(
            programme_id=programme_id,
            mentee_participant_id=mentee_participant_id,
            mentor_participant_ids=list(mentor_participant_ids[:SHORTLIST_EVENT_MAX]),
            occurred_at=occurred_at,
        ),
    )


def pair_ended(session: AsyncSession, pair: Pair) -> None:
    emit(
        session,
        PairEnded(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            reason=pair.end_reason or "admin",
            occurred_at=pair.ended_at or utcnow(),
        ),
    )


def match_run_finished(session: AsyncSession, run: MatchRun) -> None:
    emit(
        session,
        MatchRunFinished(
            run_id=run.id,
            programme_id=run.programme_id,
            objective=run.objective,
            dry_run=run.dry_run,
            status=run.status,
            matched=run.matched,
            unmatched=run.unmatched,
            optimal=run.optimal,
            formed_pairs=int(run.stats.get("published_pairs", 0)),
            occurred_at=run.published_at or run.created_at,
        ),
    )
