"""Operator commands: `python -m upward_common migrate|token|asyncapi ...`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from upward_common.auth import Role, mint_token
from upward_common.events import asyncapi_document
from upward_common.service import ServiceDefinition
from upward_common.settings import UpwardSettings

SERVICES = ("enrolment", "matching", "scheduling", "analytics")


def _definition(name: str) -> ServiceDefinition:
    module = importlib.import_module(f"{name}.main")
    definition: ServiceDefinition = module.SERVICE
    return definition


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m upward_common")
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="apply a service's migrations")
    migrate.add_argument("services", nargs="+", choices=SERVICES)

    token = commands.add_parser("token", help="print a development token")
    token.add_argument("--role", action="append", required=True,
                       choices=[role.value for role in Role])
    token.add_argument("--employee-id")
    token.add_argument("--sub")
    token.add_argument("--ttl-hours", type=int, default=8)

    commands.add_parser("asyncapi", help="print the AsyncAPI document of the events")

    openapi = commands.add_parser("openapi", help="print a part's OpenAPI document")
    openapi.add_argument("part", choices=(*SERVICES, "gateway"))

    args = parser.parse_args(argv)
    if args.command == "migrate":
        for name in args.services:
            _definition(name).migrate()
            print(f"{name}: migrated", file=sys.stderr)
    elif args.command == "token":
        settings = UpwardSettings()
        if settings.jwks_url is not None:
            parser.error("tokens are minted only for HS256 development setups")
        print(mint_token(settings, roles=args.role, employee_id=args.employee_id,
                         sub=args.sub, ttl_seconds=args.ttl_hours * 3600))
    elif args.command == "asyncapi":
        print(json.dumps(asyncapi_document(), indent=2))
    elif args.command == "openapi":
        # Built without starting it: the lifespan (database, NATS) never runs.
        app = importlib.import_module(f"{args.part}.main").create_app()
        print(json.dumps(app.openapi(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
