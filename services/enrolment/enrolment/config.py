"""Enrolment settings: `ENROLMENT_*`, falling back to `UPWARD_*`."""

from pydantic import Field
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
    # The company's job-level scale: levels run from 1 (most junior) to this. Read once,
    # when the service starts: the import, SCIM (and its published schema) and the
    # programme's level bounds all take it.
    job_level_max: int = Field(default=20, ge=2, le=1000)


def job_level_max() -> int:
    """The deployment's highest job level (`ENROLMENT_JOB_LEVEL_MAX`, default 20)."""
    return EnrolmentSettings().job_level_max
