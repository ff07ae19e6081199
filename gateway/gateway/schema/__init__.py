"""The GraphQL schema: the mentoring journey over the four services' REST APIs.

One module per domain (`enrolment`, `matching`, `scheduling`, `analytics`), each with its
types, inputs, queries and mutations; they are merged here into one `Query` and one
`Mutation`. A type links to another domain's through that module (`matching.Pair`), so a
field that crosses services reads as such. What every domain shares: `errors` (what reaches
the client, what is logged), `pagination` and `inputs` (inputs as the services' JSON).

A field that needs another call (a DataLoader) is nullable: when that service is down or
refuses the caller, the field is null with an error beside it, and the rest of the answer
stands.

`subscriptions` holds the live events (pairs, sessions, match runs), fed by NATS.
"""

from __future__ import annotations

from strawberry.tools import merge_types

from gateway.config import GatewaySettings
from gateway.limits import query_limits, result_budget
from gateway.schema import analytics, enrolment, matching, me, scheduling
from gateway.schema.errors import GatewaySchema, MaskUnexpectedErrors
from gateway.schema.subscriptions import Subscription

__all__ = ["GatewaySchema", "Mutation", "Query", "Subscription", "build_schema"]

# The root fields in the order the schema has always listed them (docs/schema.graphql,
# GraphiQL's explorer); a domain's new root fields join its own class.
Query = merge_types("Query", (
    enrolment.Query,
    matching.Query,
    scheduling.Query,
    enrolment.InvitationQuery,
    matching.RunQuery,
    analytics.Query,
    me.Query,
))
Mutation = merge_types("Mutation", (
    enrolment.Mutation,
    matching.Mutation,
    scheduling.Mutation,
    analytics.Mutation,
))


def build_schema(settings: GatewaySettings) -> GatewaySchema:
    """The schema, with `settings`' query limits (see `gateway.limits`)."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*query_limits(settings), MaskUnexpectedErrors],
        execution_context_class=result_budget(settings.max_result_items),
    )
