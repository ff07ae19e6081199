"""Every element of the schema says what it is: a frontend developer reads the schema, in
GraphiQL's explorer or the committed SDL, and nothing else."""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)

from gateway.config import GatewaySettings
from gateway.schema import build_schema

# GraphQL's own scalars, described by the specification rather than by this schema.
SPECIFIED = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field, enum and enum value without a description."""
    missing: list[str] = []

    def check(where: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(where)

    for name, kind in sorted(schema.type_map.items()):
        if name.startswith("__") or name in SPECIFIED:
            continue
        described: GraphQLNamedType = kind
        # The root types are described by their fields; GraphQL gives them no place to show.
        if kind not in (schema.query_type, schema.mutation_type, schema.subscription_type):
            check(name, described.description)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name}:)", arg.description)
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, input_field in kind.fields.items():
                check(f"{name}.{field_name}", input_field.description)
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                check(f"{name}.{value_name}", value.description)
        elif isinstance(kind, GraphQLUnionType):
            pass  # its description is checked above; its members are types of their own
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    schema = build_schema(GatewaySettings())._schema

    missing = undescribed(schema)

    assert not missing, "described nowhere:\n  " + "\n  ".join(missing)


@strawberry.type(description="Described.")
class Thing:
    bare: int


@strawberry.enum(description="Described.")
class Kind(Enum):
    BARE = "bare"
    TOLD = strawberry.enum_value("told", description="Described.")


@strawberry.input
class Filter:
    kind: Kind


@strawberry.type
class _Query:
    @strawberry.field
    def thing(self, which: Filter) -> Thing:
        return Thing(bare=1)


def test_the_walk_names_what_lacks_a_description() -> None:
    missing = undescribed(strawberry.Schema(query=_Query)._schema)

    # Strawberry names the root type Query whatever the class is called.
    assert missing == ["Filter", "Filter.kind", "Kind.BARE", "Query.thing",
                       "Query.thing(which:)", "Thing.bare"]
