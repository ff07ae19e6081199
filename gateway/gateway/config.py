"""Gateway settings: `GATEWAY_*`, falling back to `UPWARD_*`."""

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import SettingsConfigDict

from upward_common.settings import UpwardSettings


class GatewaySettings(UpwardSettings):
    """Where the four services answer, how long the gateway waits, and what a query may cost.

    Every limit is documented in the gateway README ("Limits").
    """

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # `nats_url` (GATEWAY_NATS_URL, else UPWARD_NATS_URL) comes from the shared settings:
    # where the live feed of the subscriptions listens.

    port: int = 8000
    enrolment_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    matching_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    scheduling_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    analytics_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    # A GraphQL field waits this long for a service before it errors with 504.
    downstream_timeout_seconds: float = Field(default=10.0, gt=0)
    # A read (GET) that could not connect, or got a 502, 503 or 504, is tried again up to
    # this many attempts in all, waiting about retry_backoff_seconds, then twice that
    # (each wait jittered by +-50 %). Writes are never retried: they may have been applied.
    downstream_read_attempts: int = Field(default=3, ge=1, le=10)
    downstream_retry_backoff_seconds: float = Field(default=0.05, ge=0, le=5)
    # An HRIS import or SCIM bulk request may stream a large file: wait longer.
    forward_timeout_seconds: float = Field(default=300.0, gt=0)
    # Below the readiness probe's own timeout, so one slow service reads "not ready".
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)
    # The in-browser GraphiQL page and its assets (/graphql/assets); it runs nothing
    # without a bearer token.
    graphql_ide: bool = True
    # Origins whose pages may call /graphql from a browser (CORS), as the browser sends them
    # and as a JSON list: GATEWAY_CORS_ORIGINS='["https://app.example.com"]'. None by
    # default: no CORS headers, so only same-origin pages and non-browser clients call.
    cors_origins: list[str] = []
    # Whether `__schema` and `__type` may be asked. None: on in development and test, off
    # in production (a public schema map helps an attacker more than a frontend team,
    # who have docs/schema.graphql). `__typename` is always allowed.
    introspection: bool | None = None

    # --- persisted queries (gateway/README.md, "Persisted queries") --------------------
    # Automatic persisted queries (Apollo's protocol): a client sends a query's SHA-256
    # instead of its text once the gateway has seen the text.
    apq: bool = True
    # Texts the automatic persisted queries keep per process (least recently used out).
    apq_cache_size: int = Field(default=500, ge=1)
    # A JSON file of the only queries this gateway runs (hash -> text, or an Apollo
    # persisted query manifest); any other query is refused, and APQ registers nothing.
    persisted_queries_file: Path | None = None

    # --- what one GraphQL request may ask (refused before anything runs) ---------------
    # A /graphql request body (query and variables); bulk imports use the forwarded route.
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # The query text, in UTF-8 bytes.
    max_query_bytes: int = Field(default=32_768, gt=0)
    # Lexical tokens the parser reads (comments included) before it gives up.
    max_tokens: int = Field(default=5_000, gt=0)
    # Nested selection sets: `{ programmes { pairs { id } } }` is 2 deep.
    max_depth: int = Field(default=10, gt=0)
    # Aliased fields, fragments expanded.
    max_aliases: int = Field(default=50, ge=0)
    # Fields asked for once every fragment spread is expanded in place.
    max_selections: int = Field(default=1_000, gt=0)
    # Parsed and validated documents kept for reuse (each cache, across requests).
    query_cache_size: int = Field(default=256, ge=0)

    # --- what one GraphQL request may spend while it runs -----------------------------
    # Items of every list in one answer, summed: bounds the answer however lists nest.
    max_result_items: int = Field(default=100_000, gt=0)
    # Calls in flight to the services for one request (the rest wait their turn).
    max_concurrent_calls_per_request: int = Field(default=8, gt=0)
    # Calls in flight to one service across every request; also its connection pool
    # (that many connections, all kept alive).
    max_concurrent_calls_per_service: int = Field(default=32, gt=0)
    # The whole request, every call included; then it is cancelled with a 504 error.
    request_timeout_seconds: float = Field(default=30.0, gt=0)

    @property
    def introspection_allowed(self) -> bool:
        """Whether `__schema` and `__type` are answered (see `introspection`)."""
        if self.introspection is None:
            return self.environment != "production"
        return self.introspection

    # --- subscriptions (graphql-transport-ws on /graphql, fed by NATS at nats_url) ---------
    # Open websocket connections in one gateway process; one more is closed with 1013.
    max_websocket_connections: int = Field(default=1_000, ge=0)
    # Operations in flight on one connection (subscriptions, and queries sent over it).
    max_subscriptions_per_connection: int = Field(default=100, gt=0)
    # Events waiting for one subscription's client; one more and the subscription ends.
    subscription_queue_size: int = Field(default=100, gt=0)
    # A connection that sends no `connection_init` within this is closed (4408).
    connection_init_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, origins: list[str]) -> list[str]:
        # A browser compares its Origin header byte for byte: a trailing slash, a path or
        # capitals would never match, and silently so.
        for origin in origins:
            parts = urlsplit(origin)
            if (parts.scheme not in ("http", "https") or not parts.hostname or "*" in origin
                    or "@" in parts.netloc or origin != f"{parts.scheme}://{parts.netloc}"
                    or origin != origin.lower()):
                raise ValueError(
                    f"{origin!r} is not an origin as a browser sends it: scheme://host[:port] "
                    "in lower case, without a path, a trailing slash or a wildcard"
                )
        return origins
