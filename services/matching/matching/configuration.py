"""A programme's scoring weights and limits, as admins set them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import repository, scoring
from matching.models import (
    MatchingConfig,
    MatchingConfigChange,
    MatchingConfigPublic,
    MatchingConfigUpdate,
    MatchingProgramme,
)
from matching.pool import rules_for
from upward_common.events import utcnow
from upward_common.problems import invalid, message_of, not_found


def _config_public(programme: MatchingProgramme, config: MatchingConfig | None
                   ) -> MatchingConfigPublic:
    rules = rules_for(programme, config)
    return MatchingConfigPublic(
        programme_id=programme.id,
        weights={k: float(v) for k, v in rules.weights.items()},
        allow_shared_manager=rules.allow_shared_manager,
        max_time_zone_hours=rules.max_time_zone_hours,
        min_overlap_hours=rules.min_overlap_hours,
        ideal_level_gap=rules.ideal_level_gap,
        ideal_overlap_hours=rules.ideal_overlap_hours,
        dei_topics=list(rules.dei_topics),
        diversity_attribute=rules.diversity_attribute,
        diversity_values=list(rules.diversity_values),
        diversity_applies=programme.diversity_objective,
    )


async def get_config(session: AsyncSession, *, programme_id: str) -> MatchingConfigPublic:
    """A programme's scoring weights and limits (defaults until an admin sets them)."""
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    return _config_public(programme, await repository.get_config(session, programme_id))


async def put_config(session: AsyncSession, *, programme_id: str,
                     data: MatchingConfigUpdate) -> MatchingConfigPublic:
    """Replace a programme's weights and limits; weights not given keep their defaults."""
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    # Each weight is finite and within 0..WEIGHT_MAX (the model refuses the rest).
    weights: dict[str, float] = {k: float(v) for k, v in data.weights.items()}
    merged = {**scoring.DEFAULT_WEIGHTS, **weights}
    if not programme.diversity_objective:
        merged["diversity"] = 0.0
    if sum(merged.values()) <= 0:
        raise invalid("weights", "At least one factor needs a positive weight")
    config = await repository.get_config(session, programme_id)
    if config is None:
        config = MatchingConfig(programme_id=programme_id, updated_at=utcnow())
        session.add(config)
    config.weights = weights
    config.allow_shared_manager = data.allow_shared_manager
    config.max_time_zone_hours = data.max_time_zone_hours
    config.min_overlap_hours = data.min_overlap_hours
    widest = programme.job_level_max - 1
    if data.ideal_level_gap is not None and data.ideal_level_gap > widest:
        raise invalid("ideal_level_gap", f"ideal_level_gap is at most {widest} on this "
                                         f"deployment's job-level scale (1 to "
                                         f"{programme.job_level_max})")
    config.ideal_level_gap = (scoring.default_ideal_level_gap(programme.job_level_max)
                              if data.ideal_level_gap is None else data.ideal_level_gap)
    config.ideal_overlap_hours = data.ideal_overlap_hours
    config.dei_topics = list(data.dei_topics)
    config.diversity_attribute = data.diversity_attribute
    config.diversity_values = list(data.diversity_values)
    config.updated_at = utcnow()
    programme.revision += 1
    await session.flush()
    return _config_public(programme, config)


_NULL_IS_A_VALUE = frozenset({"max_time_zone_hours", "min_overlap_hours"})


async def patch_config(session: AsyncSession, *, programme_id: str,
                       data: MatchingConfigChange) -> MatchingConfigPublic:
    """Change only the settings sent; the others stay as they were (weights merge by factor)."""
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    config = await repository.get_config(session, programme_id)
    current: dict[str, Any] = {} if config is None else config.model_dump(
        exclude={"programme_id", "updated_at"})
    for key in data.model_fields_set:
        value = getattr(data, key)
        if key == "weights" and value is not None:
            current["weights"] = {**current.get("weights", {}), **value}
        elif value is None and key not in _NULL_IS_A_VALUE:
            current.pop(key, None)
        else:
            current[key] = value
    try:
        merged = MatchingConfigUpdate.model_validate(current)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise invalid(".".join(str(p) for p in error["loc"]) or "body",
                      message_of(error)) from exc
    return await put_config(session, programme_id=programme_id, data=merged)
