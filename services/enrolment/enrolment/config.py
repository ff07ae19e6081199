"""Enrolment settings: `ENROLMENT_*`, falling back to `UPWARD_*`."""

from pydantic_settings import SettingsConfigDict

from upward_common.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLMENT_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///var/enrolment.db"
    # A nightly HR export of a large company fits; anything bigger is refused.
    import_max_bytes: int = 50 * 1024 * 1024
    # Imports write a whole export's events at once; bigger relay batches drain them
    # in fewer round trips, well below the 4000 publishes JetStream keeps in flight.
    outbox_batch_size: int = 2000
