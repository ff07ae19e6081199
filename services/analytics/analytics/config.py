"""Analytics settings: `ANALYTICS_*`, falling back to `UPWARD_*`."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from upward_common.settings import ServiceSettings

# Public by design, like the development JWT secret: with it anyone can test whether an
# employee answered a survey, so it is refused outside development.
DEV_PULSE_SURVEY_SECRET = "upward-development-pulse-survey-secret-change-me"


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///var/analytics.db"
    # The HMAC-SHA256 key of "who answered which pulse survey" (analytics/surveys.py).
    pulse_survey_secret: SecretStr = SecretStr(DEV_PULSE_SURVEY_SECRET)
    # Programme health's leadership engagement: a senior leader is an employee at this
    # job level or above (the level band 7+ by default).
    senior_min_level: int = Field(default=7, ge=1, le=100)
    # Stored retention reports (report_store.py): how often the refresher looks for stored
    # reports whose inputs changed, recomputing them once the inputs have stayed unchanged
    # for that long (0 turns the refresher off); how many of the most recently requested
    # stale ones a round recomputes; and how many reports are kept at most (the least
    # recently requested beyond it are dropped, as is any not requested for 30 days).
    retention_refresh_seconds: float = Field(default=5.0, ge=0)
    retention_refresh_reports: int = Field(default=20, ge=1, le=1000)
    retention_reports_kept: int = Field(default=500, ge=1, le=100_000)

    @model_validator(mode="after")
    def _refuse_default_pulse_secret(self) -> AnalyticsSettings:
        if (self.environment != "development"
                and self.pulse_survey_secret.get_secret_value() == DEV_PULSE_SURVEY_SECRET):
            raise ValueError(
                "ANALYTICS_PULSE_SURVEY_SECRET is the public development default; set a "
                "real secret before running outside development")
        if len(self.pulse_survey_secret.get_secret_value()) < 32:
            raise ValueError("ANALYTICS_PULSE_SURVEY_SECRET must be 32 characters or more")
        return self
