"""GraphQL inputs as the services' JSON, for every domain's mutations."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

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
