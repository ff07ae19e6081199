"""Matching settings: `MATCHING_*`, falling back to `UPWARD_*`."""

from pydantic_settings import SettingsConfigDict

from upward_common.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///var/matching.db"
    # Whole-cohort solver: candidate pairs kept per mentee and scan (at the current prices).
    solver_candidates_per_mentee: int = 16
