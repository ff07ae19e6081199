"""Scheduling settings: `SCHEDULING_*`, falling back to `UPWARD_*`."""

from pydantic_settings import SettingsConfigDict

from upward_common.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///var/scheduling.db"
    # Plans (recurrence.py): the first session lies within this many days of the
    # pair's formation, at least `plan_lead_hours` after it.
    plan_window_days: int = 14
    plan_lead_hours: int = 24
    # The ORGANIZER of a plan's invitation (iTIP needs one; the notifications part sends it).
    calendar_organizer: str = "mailto:mentoring@upward.invalid"
