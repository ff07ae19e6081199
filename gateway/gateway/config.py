"""Gateway settings: `GATEWAY_*`, falling back to `UPWARD_*`."""

from pydantic import AnyHttpUrl
from pydantic_settings import SettingsConfigDict

from upward_common.settings import UpwardSettings


class GatewaySettings(UpwardSettings):
    """Where the four services answer, and how long the gateway waits for them."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    port: int = 8000
    enrolment_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    matching_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    scheduling_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    analytics_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    # A GraphQL field waits this long for a service before it errors with 504.
    downstream_timeout_seconds: float = 10.0
    # An HRIS import or SCIM bulk request may stream a large file: wait longer.
    forward_timeout_seconds: float = 300.0
    # Below the readiness probe's own timeout, so one slow service reads "not ready".
    readiness_timeout_seconds: float = 1.0
    # The in-browser GraphiQL page; it runs nothing without a bearer token.
    graphql_ide: bool = True
