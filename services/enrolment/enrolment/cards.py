"""Participant cards: what one participant may see of another, and who may see whom.

A card shows name, job title, department, location and time zone, languages, the
topics someone teaches or wants to learn and the bio they wrote; never diversity
attributes, avoid lists, the manager chain, survey history or other pairs.

Who may read a card (admins read every card):
- the participant themselves;
- a mentee, the cards of the mentors on the shortlist matching last offered them;
- the two members of a pair, each other's card while the pair is proposed (a mentee
  picked the mentor) or active; not once it was declined or ended.

Enrolment learns the shortlists and pairs only from matching's events
(`shortlist.offered`, `pair.proposed`, `pair.formed`, `pair.declined`, `pair.ended`);
it never reads matching's tables. The handlers are idempotent and order-tolerant: a
pair only moves from proposed to active to closed, and an older shortlist never
replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import repository
from enrolment.models import (
    CardPair,
    CardPairStatus,
    CardShortlist,
    Employee,
    Participant,
    ParticipantCard,
)
from upward_common.auth import Principal
from upward_common.batch import Missing, collect
from upward_common.events import (
    PairDeclined,
    PairEnded,
    PairFormed,
    PairProposed,
    ShortlistOffered,
    TopicSkill,
)
from upward_common.problems import Problem, not_found

_RANK = {CardPairStatus.PROPOSED: 0, CardPairStatus.ACTIVE: 1, CardPairStatus.CLOSED: 2}


def card_of(participant: Participant, employee: Employee) -> ParticipantCard:
    """The card of a participant: the shareable part of their record and survey."""
    return ParticipantCard(
        participant_id=participant.id,
        programme_id=participant.programme_id,
        role="mentor" if participant.role == "mentor" else "mentee",
        given_name=employee.given_name,
        family_name=employee.family_name,
        job_title=employee.job_title,
        department=employee.department,
        location=employee.location,
        time_zone=participant.time_zone or employee.time_zone,
        languages=list(participant.languages),
        topics_teach=[TopicSkill.model_validate(t) for t in participant.topics_teach],
        topics_learn=[TopicSkill.model_validate(t) for t in participant.topics_learn],
        bio=participant.bio,
    )


async def visible_to(session: AsyncSession, user: Principal) -> set[str] | None:
    """The participant ids whose cards `user` may read; None: every card (admins)."""
    if user.is_admin:
        return None
    if user.employee_id is None:
        return set()
    own = [p.id for p in await repository.participants_of_employee(session, user.employee_id)]
    visible = set(own)
    for shortlist in await repository.card_shortlists_of(session, own):
        visible.update(shortlist.mentor_participant_ids)
    for pair in await repository.open_card_pairs_of(session, own):
        visible.update(p for p in (pair.mentor_participant_id, pair.mentee_participant_id) if p)
    return visible


def _refused() -> Problem:
    return Problem(403, "A participant sees the cards of the people they may work with only: "
                        "mentors on their shortlist, a mentee who picked them, their partner",
                   kind="forbidden")


async def get_cards(session: AsyncSession, *, user: Principal,
                    participant_ids: Sequence[str]) -> tuple[list[ParticipantCard], list[Missing]]:
    """Cards by participant id, each as `get_card` answers it."""
    found = await repository.participants_by_id(session, participant_ids)
    employees = await repository.employees_by_id(session, {p.employee_id for p in found.values()})
    visible = await visible_to(session, user)

    def one(participant_id: str) -> ParticipantCard:
        participant = found.get(participant_id)
        employee = employees.get(participant.employee_id) if participant else None
        if participant is None or employee is None:
            raise not_found("Participant", participant_id)
        if visible is not None and participant_id not in visible:
            raise _refused()
        return card_of(participant, employee)

    return collect(participant_ids, one)


async def get_card(session: AsyncSession, *, user: Principal,
                   participant_id: str) -> ParticipantCard:
    """One participant's card, for the people they may work with and admins."""
    items, missing = await get_cards(session, user=user, participant_ids=[participant_id])
    if missing:
        problem = missing[0]
        if problem.status == 404:
            raise not_found("Participant", participant_id)
        raise _refused()
    return items[0]


# --- what matching tells enrolment ---------------------------------------------------


async def _pair_moved(session: AsyncSession, *, pair_id: str, programme_id: str,
                      status: CardPairStatus, occurred_at: datetime,
                      mentor_participant_id: str | None = None,
                      mentee_participant_id: str | None = None) -> None:
    pair = await repository.get_card_pair(session, pair_id)
    if pair is None:
        session.add(CardPair(pair_id=pair_id, programme_id=programme_id, status=status,
                             mentor_participant_id=mentor_participant_id,
                             mentee_participant_id=mentee_participant_id,
                             updated_at=occurred_at))
        await session.flush()
        return
    # A pair only moves forward: a late pair-proposed never reopens an ended pair.
    if _RANK[status] > _RANK[CardPairStatus(pair.status)]:
        pair.status = status
        pair.updated_at = occurred_at
    pair.mentor_participant_id = pair.mentor_participant_id or mentor_participant_id
    pair.mentee_participant_id = pair.mentee_participant_id or mentee_participant_id
    await session.flush()


async def on_pair_proposed(session: AsyncSession, data: PairProposed) -> None:
    await _pair_moved(session, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=CardPairStatus.PROPOSED, occurred_at=data.occurred_at,
                      mentor_participant_id=data.mentor_participant_id,
                      mentee_participant_id=data.mentee_participant_id)


async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    await _pair_moved(session, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=CardPairStatus.ACTIVE, occurred_at=data.occurred_at,
                      mentor_participant_id=data.mentor_participant_id,
                      mentee_participant_id=data.mentee_participant_id)


async def on_pair_declined(session: AsyncSession, data: PairDeclined) -> None:
    await _pair_moved(session, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=CardPairStatus.CLOSED, occurred_at=data.occurred_at)


async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    await _pair_moved(session, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=CardPairStatus.CLOSED, occurred_at=data.occurred_at)


async def on_shortlist_offered(session: AsyncSession, data: ShortlistOffered) -> None:
    shortlist = await repository.get_card_shortlist(session, data.mentee_participant_id)
    if shortlist is None:
        session.add(CardShortlist(mentee_participant_id=data.mentee_participant_id,
                                  programme_id=data.programme_id,
                                  mentor_participant_ids=list(data.mentor_participant_ids),
                                  offered_at=data.occurred_at))
    elif shortlist.offered_at <= data.occurred_at:  # an older list never replaces a newer
        shortlist.mentor_participant_ids = list(data.mentor_participant_ids)
        shortlist.offered_at = data.occurred_at
    await session.flush()
