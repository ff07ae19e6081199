"""Bearer JWT verification with roles: HS256 in development, RS256/JWKS in production."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from upward_common.limits import Identifier
from upward_common.problems import Problem, message_of
from upward_common.settings import UpwardSettings


class Role(StrEnum):
    HR_ADMIN = "hr_admin"
    PROGRAMME_MANAGER = "programme_manager"
    PARTICIPANT = "participant"
    HRIS = "hris"


ADMIN_ROLES = frozenset({Role.HR_ADMIN, Role.PROGRAMME_MANAGER})
# OpenID Connect caps `sub` at 255 ASCII characters.
SUB_MAX = 255
# The OpenAPI operation extension that lists the roles a route admits.
ROLES_EXTENSION = "x-roles"


class Principal(BaseModel):
    """Who is calling: the verified claims the services act on."""

    model_config = ConfigDict(frozen=True)

    sub: str
    roles: frozenset[Role]
    # The employee a participant acts as. Only the participant role carries it: an
    # admin or HRIS token that names an employee gains no participant rights, so every
    # check that compares employee ids sees None for it.
    employee_id: str | None = None
    token: str = ""

    @field_validator("employee_id")
    @classmethod
    def _participants_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        roles = info.data.get("roles", frozenset())
        return value if Role.PARTICIPANT in roles else None

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    def require(self, *roles: Role) -> None:
        if not self.has(*roles):
            wanted = ", ".join(sorted(roles))
            raise Problem(403, f"This needs one of the roles: {wanted}", kind="forbidden")

    def require_self_or_admin(self, employee_id: str | None) -> None:
        """A participant may act only for themselves; admins for anyone."""
        if self.is_admin:
            return
        if self.employee_id is None or self.employee_id != employee_id:
            raise Problem(403, "A participant can act only for themselves", kind="forbidden")


def _unauthorised(detail: str, *, claim: str | None = None) -> Problem:
    return Problem(401, detail, kind="unauthorised", field=claim,
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenVerifier:
    """Verifies bearer tokens against the configured secret or the issuer's JWKS.

    A token verified lately is known by its whole text for `VERIFIED_SECONDS` at most
    (and never past its `exp`): the gateway passes its caller's token on with every call
    a query makes, so one token reaches a service many times a second, and decoding and
    checking it each time was a visible share of a small call's CPU. A token differing in any
    character is verified anew; the most recent `VERIFIED_TOKENS` are kept.
    """

    VERIFIED_SECONDS = 60.0
    VERIFIED_TOKENS = 10_000

    def __init__(self, settings: UpwardSettings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        if settings.jwks_url is not None:
            self._jwks = jwt.PyJWKClient(
                str(settings.jwks_url), cache_keys=True, lifespan=settings.jwks_cache_seconds
            )
        # token -> (its principal, the time.time() until which it stands verified)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            principal, until = known
            if now < until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = await self._check(token)
        self._verified[token] = (principal, min(expires, now + self.VERIFIED_SECONDS))
        if len(self._verified) > self.VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float]:
        """The token's principal and its `exp`, or the 401 that refuses it."""
        try:
            if self._jwks is not None:
                # The JWKS fetch is blocking I/O; keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing_key.key
                algorithms = ["RS256"]
            else:
                key = self.settings.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorised("The token has expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise _unauthorised(f"The token is not valid: {exc}") from exc
        # PyJWT has checked that `exp` is a number in the future.
        return principal_of(claims, token), float(claims["exp"])


_EMPLOYEE_ID: TypeAdapter[str] = TypeAdapter(Identifier)
_KNOWN_ROLES = ", ".join(role.value for role in Role)


def principal_of(claims: dict[str, Any], token: str = "") -> Principal:
    """The principal of verified claims; a claim of the wrong shape is a 401, never a 500.

    `sub` is a non-empty string of at most 255 characters; `roles` a non-empty JSON
    list of known role names (repeats are harmless); `employee_id`, when present and
    not null, an `Identifier`.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= SUB_MAX or not sub.isprintable():
        raise _unauthorised(
            f"The token's sub claim must be a printable string of 1 to {SUB_MAX} characters",
            claim="sub")
    raw_roles = claims.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles or not all(
            isinstance(role, str) for role in raw_roles):
        raise _unauthorised(
            f"The token's roles claim must be a non-empty list of role names ({_KNOWN_ROLES})",
            claim="roles")
    try:
        roles = frozenset(Role(role) for role in raw_roles)
    except ValueError as exc:
        raise _unauthorised(f"The token names an unknown role: {exc}", claim="roles") from exc
    employee_id = claims.get("employee_id")
    if employee_id is not None:
        try:
            employee_id = _EMPLOYEE_ID.validate_python(employee_id, strict=True)
        except ValidationError as exc:
            reason = message_of(exc.errors()[0])
            raise _unauthorised(f"The token's employee_id claim is not an id: {reason}",
                                claim="employee_id") from exc
    return Principal(sub=sub, roles=roles, employee_id=employee_id, token=token)


def mint_token(
    settings: UpwardSettings,
    *,
    roles: list[str],
    employee_id: str | None = None,
    sub: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """Sign a development token with the shared secret (never used with JWKS)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub or employee_id or f"dev-{uuid.uuid4().hex[:8]}",
        "roles": [Role(r).value for r in roles],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if employee_id is not None:
        claims["employee_id"] = employee_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


# The OpenAPI security scheme every route that needs a caller declares (Swagger UI's
# Authorize button sends it). `auto_error=False`: a missing or non-bearer header reaches
# `current_principal`, which answers the same 401 problem+json as a bad token.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description=(
        "A JWT in `Authorization: Bearer <token>`. Production tokens come from the "
        "organisation's OpenID Connect issuer (RS256, checked against its JWKS); in "
        "development `make token ROLE=<role> [EMPLOYEE_ID=<id>]` mints one (HS256, the "
        "shared secret). Claims: `sub`, `roles` (`hr_admin`, `programme_manager`, "
        "`participant`, `hris`), `employee_id` for participants, `iss`, `aud`, `exp`. "
        f"An operation's `{ROLES_EXTENSION}` lists the roles it admits (any one of "
        "them); an operation without it admits every valid token and decides by the "
        "caller's relation to the thing (their own, their pair's)."
    ),
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Principal:
    """The verified caller; 401 without a valid bearer token.

    As a dependency FastAPI hands it the parsed header; called directly (the
    gateway's forwarding and GraphQL context) it reads the header itself.
    """
    if credentials is None:
        credentials = await BEARER(request)
    if credentials is None:
        raise _unauthorised("A bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials)


CurrentUser = Annotated[Principal, Depends(current_principal)]


class RoleGate:
    """A dependency: the verified caller, who must hold one of `roles` (else 403).

    The app factory reads `roles` back from each route's dependencies to list them
    in the operation's OpenAPI document (`roles_of`).
    """

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, user: CurrentUser) -> Principal:
        user.require(*self.roles)
        return user


# Role gates for route signatures: `user: HrAdmin` admits the caller only with that role.
HrAdmin = Annotated[Principal, Depends(RoleGate(Role.HR_ADMIN))]
ProgrammeAdmin = Annotated[Principal, Depends(RoleGate(Role.HR_ADMIN, Role.PROGRAMME_MANAGER))]
Hris = Annotated[Principal, Depends(RoleGate(Role.HRIS))]
HrisOrHrAdmin = Annotated[Principal, Depends(RoleGate(Role.HRIS, Role.HR_ADMIN))]
HrisOrAdmin = Annotated[Principal, Depends(RoleGate(Role.HRIS, Role.HR_ADMIN,
                                                    Role.PROGRAMME_MANAGER))]
# A participant acting for themselves (the route then checks what is theirs).
ParticipantUser = Annotated[Principal, Depends(RoleGate(Role.PARTICIPANT))]
# Any person: an admin or a participant, never an HRIS job.
PersonUser = Annotated[Principal, Depends(RoleGate(Role.HR_ADMIN, Role.PROGRAMME_MANAGER,
                                                   Role.PARTICIPANT))]


def roles_of(dependant: Dependant) -> frozenset[Role] | None:
    """The roles that alone pass every gate of a route (its gates' common roles); None
    when it has no gate."""
    admitted: frozenset[Role] | None = None
    pending = [dependant]
    while pending:
        current = pending.pop()
        if isinstance(current.call, RoleGate):
            gate = current.call.roles
            admitted = gate if admitted is None else admitted & gate
        pending.extend(current.dependencies)
    return admitted


def document_roles(router: APIRouter) -> None:
    """Write each gated route's roles into its OpenAPI operation as `x-roles`.

    Run on a router before an app includes it (the app factory does): the operation
    is built from the route's `openapi_extra`.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        roles = roles_of(route.dependant)
        if roles is not None:
            # A fresh dict: one `openapi_extra` may be shared by several routes.
            route.openapi_extra = {**(route.openapi_extra or {}),
                                   ROLES_EXTENSION: sorted(role.value for role in roles)}
