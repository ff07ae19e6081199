"""Operator commands: `python -m gateway schema` prints the GraphQL schema (SDL)."""

from __future__ import annotations

import argparse

from gateway.config import GatewaySettings
from gateway.schema import build_schema


def sdl() -> str:
    """The schema the gateway serves, as committed in docs/schema.graphql."""
    # The settings only bound what a query may cost; they never change the schema.
    return build_schema(GatewaySettings()).as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("schema", help="print the GraphQL schema as SDL")
    parser.parse_args(argv)
    print(sdl(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
