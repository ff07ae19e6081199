"""Subscriptions: what happens to pairs, sessions and match runs, live, from the event stream.

Each event type is delivered as the event says it (ids, times, counts), never with
fields that need another call: a client that shows more asks for it with a query. Who
sees what is decided when the event arrives, for each subscriber:

- `hr_admin` and `programme_manager` see every programme's events (a programme manager
  administers every programme, as in the services' REST APIs: the platform has no
  per-programme assignment of managers);
- a `participant` sees the pairs they are a member of (by their `employee_id` against
  the pair's mentor and mentee) and those pairs' sessions; never a match run;
- `hris` sees nothing: the subscription is refused (403) when it starts.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from typing import Annotated

import strawberry

from gateway.context import Info
from gateway.feed import EventFeed
from gateway.schema.errors import member
from gateway.schema.matching import MatchObjective, MatchRunStatus, PairEndReason
from gateway.websocket import refuse_unless_allowed
from upward_common.events import (
    EventData,
    MatchRunFinished,
    PairEnded,
    PairFormed,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)


class Membership:
    """The pairs one participant is a member of, as events and matching tell them."""

    def __init__(self, employee_id: str) -> None:
        self.employee_id = employee_id
        self.pairs: set[str] = set()
        # Until matching has answered, every pair's event is let through to the queue
        # and judged when read (`sees`), so none is lost while the answer is on its way.
        self.known = False

    def learn(self, event: EventData) -> None:
        if isinstance(event, PairFormed) and self.employee_id in (
                event.mentor_employee_id, event.mentee_employee_id):
            self.pairs.add(event.pair_id)

    def know(self, pair_ids: Iterable[str]) -> None:
        self.pairs.update(pair_ids)
        self.known = True

    def may_see(self, event: EventData) -> bool:
        if isinstance(event, MatchRunFinished):
            return False
        pair_id = getattr(event, "pair_id", None)
        return pair_id in self.pairs or not self.known

    def sees(self, event: EventData) -> bool:
        return not isinstance(event, MatchRunFinished) and getattr(
            event, "pair_id", None) in self.pairs


async def _events(info: Info, kind: type[EventData], *, programme_id: str | None,
                  pair_id: str | None = None, admins_only: bool = False,
                  ) -> AsyncGenerator[EventData, None]:
    """The events of `kind` the caller may see, as they arrive, until the client stops."""
    context = info.context
    refuse_unless_allowed(context, admins_only=admins_only)
    assert context.request is not None
    feed: EventFeed = context.request.app.state.feed
    principal = context.principal
    membership = None if principal.is_admin or principal.employee_id is None else Membership(
        principal.employee_id)

    def admits(event: EventData) -> bool:
        if membership is not None:
            membership.learn(event)
        if not isinstance(event, kind):
            return False
        if programme_id is not None and getattr(event, "programme_id", None) != programme_id:
            return False
        if pair_id is not None and getattr(event, "pair_id", None) != pair_id:
            return False
        return membership is None or membership.may_see(event)

    async with feed.subscribe(admits) as subscriber:
        if membership is not None:
            # Subscribed first, so a pair formed while matching answers is not missed.
            membership.know(pair.id for pair in await context.matching.pairs())
        while True:
            event = await subscriber.next()
            if membership is None or membership.sees(event):
                yield event


@strawberry.type(description="A mentor and a mentee were paired (matching's `pair.formed`).")
class PairFormedEvent:
    pair_id: strawberry.ID = strawberry.field(description="The pair (query `pair(id)`).")
    programme_id: strawberry.ID = strawberry.field(description="The pair's programme.")
    mentor_participant_id: strawberry.ID = strawberry.field(
        description="The mentor (the junior who teaches), as a participant.")
    mentee_participant_id: strawberry.ID = strawberry.field(
        description="The mentee (the senior who learns), as a participant.")
    mentor_employee_id: strawberry.ID = strawberry.field(description="The mentor's employee.")
    mentee_employee_id: strawberry.ID = strawberry.field(description="The mentee's employee.")
    score: float = strawberry.field(description="The pair's match score (0-100).")
    occurred_at: datetime = strawberry.field(description="When the pair formed.")

    @classmethod
    def of(cls, event: PairFormed) -> PairFormedEvent:
        return cls(pair_id=strawberry.ID(event.pair_id),
                   programme_id=strawberry.ID(event.programme_id),
                   mentor_participant_id=strawberry.ID(event.mentor_participant_id),
                   mentee_participant_id=strawberry.ID(event.mentee_participant_id),
                   mentor_employee_id=strawberry.ID(event.mentor_employee_id),
                   mentee_employee_id=strawberry.ID(event.mentee_employee_id),
                   score=event.score, occurred_at=event.occurred_at)


@strawberry.type(description="A pair ended (matching's `pair.ended`).")
class PairEndedEvent:
    pair_id: strawberry.ID = strawberry.field(description="The pair that ended.")
    programme_id: strawberry.ID = strawberry.field(description="The pair's programme.")
    reason: PairEndReason = strawberry.field(description="Why it ended.")
    occurred_at: datetime = strawberry.field(description="When the pair ended.")

    @classmethod
    def of(cls, event: PairEnded) -> PairEndedEvent:
        return cls(pair_id=strawberry.ID(event.pair_id),
                   programme_id=strawberry.ID(event.programme_id),
                   reason=member(PairEndReason, event.reason, service="matching"),
                   occurred_at=event.occurred_at)


@strawberry.type(description="A session of a pair was planned (scheduling's `session.scheduled`).")
class SessionScheduledEvent:
    session_id: strawberry.ID = strawberry.field(
        description="The session (query `session(sessionId)`).")
    pair_id: strawberry.ID = strawberry.field(description="The session's pair.")
    programme_id: strawberry.ID = strawberry.field(description="The pair's programme.")
    starts_at: datetime = strawberry.field(description="When the session starts.")
    duration_minutes: int = strawberry.field(description="How long it is planned for.")
    occurred_at: datetime = strawberry.field(description="When it was planned.")

    @classmethod
    def of(cls, event: SessionScheduled) -> SessionScheduledEvent:
        return cls(session_id=strawberry.ID(event.session_id),
                   pair_id=strawberry.ID(event.pair_id),
                   programme_id=strawberry.ID(event.programme_id), starts_at=event.starts_at,
                   duration_minutes=event.duration_minutes, occurred_at=event.occurred_at)


@strawberry.type(description="A session was held and logged (scheduling's `session.logged`); "
                             "its recap and notes stay in scheduling.")
class SessionLoggedEvent:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    pair_id: strawberry.ID = strawberry.field(description="The session's pair.")
    programme_id: strawberry.ID = strawberry.field(description="The pair's programme.")
    held_at: datetime = strawberry.field(description="When the session was held.")
    duration_minutes: int = strawberry.field(description="How long it lasted.")
    logged_by_employee_id: strawberry.ID = strawberry.field(
        description="The member of the pair who logged it.")
    occurred_at: datetime = strawberry.field(description="When it was logged.")

    @classmethod
    def of(cls, event: SessionLogged) -> SessionLoggedEvent:
        return cls(session_id=strawberry.ID(event.session_id),
                   pair_id=strawberry.ID(event.pair_id),
                   programme_id=strawberry.ID(event.programme_id), held_at=event.held_at,
                   duration_minutes=event.duration_minutes,
                   logged_by_employee_id=strawberry.ID(event.logged_by_employee_id),
                   occurred_at=event.occurred_at)


@strawberry.type(description="A planned session will not happen (scheduling's "
                             "`session.cancelled`: its pair ended, or a person was erased).")
class SessionCancelledEvent:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    pair_id: strawberry.ID = strawberry.field(description="The session's pair.")
    programme_id: strawberry.ID = strawberry.field(description="The pair's programme.")
    reason: str = strawberry.field(description="Why it was cancelled, in words.")
    occurred_at: datetime = strawberry.field(description="When it was cancelled.")

    @classmethod
    def of(cls, event: SessionCancelled) -> SessionCancelledEvent:
        return cls(session_id=strawberry.ID(event.session_id),
                   pair_id=strawberry.ID(event.pair_id),
                   programme_id=strawberry.ID(event.programme_id), reason=event.reason,
                   occurred_at=event.occurred_at)


@strawberry.type(description="A whole-cohort match run was solved (matching's "
                             "`matchrun.finished`): a dry run to review, or published.")
class MatchRunFinishedEvent:
    match_run_id: strawberry.ID = strawberry.field(
        description="The run (query `matchRun(matchRunId)`).")
    programme_id: strawberry.ID = strawberry.field(description="The run's programme.")
    objective: MatchObjective = strawberry.field(description="What the run maximised.")
    dry_run: bool = strawberry.field(description="Whether it was asked for as a dry run.")
    status: MatchRunStatus = strawberry.field(
        description="DRAFT (a dry run awaiting review) or PUBLISHED (its pairs formed).")
    matched: int = strawberry.field(description="Mentees the run paired.")
    unmatched: int = strawberry.field(description="Mentees it left unpaired.")
    optimal: bool = strawberry.field(description="Whether the solver proved the optimum.")
    formed_pairs: int = strawberry.field(description="Pairs formed when it was published.")
    occurred_at: datetime = strawberry.field(description="When it finished.")

    @classmethod
    def of(cls, event: MatchRunFinished) -> MatchRunFinishedEvent:
        return cls(match_run_id=strawberry.ID(event.run_id),
                   programme_id=strawberry.ID(event.programme_id),
                   objective=member(MatchObjective, event.objective, service="matching"),
                   dry_run=event.dry_run,
                   status=member(MatchRunStatus, event.status, service="matching"),
                   matched=event.matched,
                   unmatched=event.unmatched, optimal=event.optimal,
                   formed_pairs=event.formed_pairs, occurred_at=event.occurred_at)


PROGRAMME = "Only this programme's events; every programme the caller may see when left out."
PAIR = "Only this pair's events; every pair the caller may see when left out."
ProgrammeArg = Annotated[strawberry.ID | None, strawberry.argument(description=PROGRAMME)]
PairArg = Annotated[strawberry.ID | None, strawberry.argument(description=PAIR)]


@strawberry.type(description="Live events over graphql-transport-ws (see the gateway README).")
class Subscription:
    @strawberry.subscription(description="Pairs as they form: a participant's own, "
                                         "every pair for admins.")
    async def pair_formed(
        self, info: Info,
        programme_id: ProgrammeArg = None,
    ) -> AsyncGenerator[PairFormedEvent, None]:
        async for event in _events(info, PairFormed, programme_id=programme_id):
            assert isinstance(event, PairFormed)
            yield PairFormedEvent.of(event)

    @strawberry.subscription(description="Pairs as they end: a participant's own, "
                                         "every pair for admins.")
    async def pair_ended(
        self, info: Info,
        programme_id: ProgrammeArg = None,
        pair_id: PairArg = None,
    ) -> AsyncGenerator[PairEndedEvent, None]:
        async for event in _events(info, PairEnded, programme_id=programme_id,
                                   pair_id=pair_id):
            assert isinstance(event, PairEnded)
            yield PairEndedEvent.of(event)

    @strawberry.subscription(description="Sessions as they are planned: those of a "
                                         "participant's own pairs, every one for admins.")
    async def session_scheduled(
        self, info: Info,
        programme_id: ProgrammeArg = None,
        pair_id: PairArg = None,
    ) -> AsyncGenerator[SessionScheduledEvent, None]:
        async for event in _events(info, SessionScheduled, programme_id=programme_id,
                                   pair_id=pair_id):
            assert isinstance(event, SessionScheduled)
            yield SessionScheduledEvent.of(event)

    @strawberry.subscription(description="Sessions as they are logged: those of a "
                                         "participant's own pairs, every one for admins.")
    async def session_logged(
        self, info: Info,
        programme_id: ProgrammeArg = None,
        pair_id: PairArg = None,
    ) -> AsyncGenerator[SessionLoggedEvent, None]:
        async for event in _events(info, SessionLogged, programme_id=programme_id,
                                   pair_id=pair_id):
            assert isinstance(event, SessionLogged)
            yield SessionLoggedEvent.of(event)

    @strawberry.subscription(description="Sessions as they are cancelled: those of a "
                                         "participant's own pairs, every one for admins.")
    async def session_cancelled(
        self, info: Info,
        programme_id: ProgrammeArg = None,
        pair_id: PairArg = None,
    ) -> AsyncGenerator[SessionCancelledEvent, None]:
        async for event in _events(info, SessionCancelled, programme_id=programme_id,
                                   pair_id=pair_id):
            assert isinstance(event, SessionCancelled)
            yield SessionCancelledEvent.of(event)

    @strawberry.subscription(description="Match runs as they finish (hr_admin and "
                                         "programme_manager only).")
    async def match_run_finished(
        self, info: Info,
        programme_id: ProgrammeArg = None,
    ) -> AsyncGenerator[MatchRunFinishedEvent, None]:
        async for event in _events(info, MatchRunFinished, programme_id=programme_id,
                                   admins_only=True):
            assert isinstance(event, MatchRunFinished)
            yield MatchRunFinishedEvent.of(event)
