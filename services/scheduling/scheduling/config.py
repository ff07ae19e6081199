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

    # Session logs: how long after `held_at` the author may still correct their log.
    log_correction_days: int = 7
    # Inactivity (inactivity.py): a pair with no session held for twice its programme's
    # cadence is at risk; after this many days of silence scheduling proposes closing it.
    # Per programme: `{"<programme id>": days}` (JSON in SCHEDULING_CLOSE_AFTER_DAYS_BY_PROGRAMME).
    close_after_days: int = 90
    close_after_days_by_programme: dict[str, int] = {}
    # How often the time-driven sweep (at-risk pairs, goals past their due date) runs;
    # 0 turns it off (a deployment may run it elsewhere).
    sweep_interval_seconds: float = 3600.0
