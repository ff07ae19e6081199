"""GraphQL inputs as the services' JSON, for every domain's mutations."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Annotated, Any

import strawberry


def plain(value: Any) -> Any:
    """An input as the services' JSON: snake_case keys, enum values, nulls left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None
                and getattr(value, f.name) is not strawberry.UNSET}
    return value


def given(value: object) -> dict[str, Any]:
    """The fields a client named, an explicit null included (a partial update)."""
    assert dataclasses.is_dataclass(value)
    return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET}


# --- the id arguments every domain takes -------------------------------------------------
# One rule for every root field, query or mutation: an id argument is named for what it
# identifies (`programmeId`, `pairId`), never a bare `id`, so one variable fits them all.


def _id(what: str) -> Any:
    return strawberry.argument(description=f"The {what}'s id.")


EmployeeId = Annotated[strawberry.ID, _id("employee")]
ProgrammeId = Annotated[strawberry.ID, _id("programme")]
ParticipantId = Annotated[strawberry.ID, _id("participant")]
InvitationId = Annotated[strawberry.ID, _id("invitation")]
PairId = Annotated[strawberry.ID, _id("pair")]
MatchRunId = Annotated[strawberry.ID, _id("match run")]
SessionId = Annotated[strawberry.ID, _id("session")]
PlanId = Annotated[strawberry.ID, _id("plan")]
GoalId = Annotated[strawberry.ID, _id("goal")]
GroupSessionId = Annotated[strawberry.ID, _id("group session")]
MenteeParticipantId = Annotated[strawberry.ID, strawberry.argument(
    description="The mentee's participant id (the senior who learns).")]
MentorParticipantId = Annotated[strawberry.ID, strawberry.argument(
    description="The mentor's participant id (the junior who teaches).")]


def described(description: str) -> Any:
    """An argument's description, for `Annotated[type, described("...")]`."""
    return strawberry.argument(description=description)
