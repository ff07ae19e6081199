"""Analytics settings: `ANALYTICS_*`, falling back to `UPWARD_*`."""

from pydantic_settings import SettingsConfigDict

from upward_common.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///var/analytics.db"
