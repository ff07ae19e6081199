"""The platform on real ports in a process of its own, one per test module, and its callers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.security.authz_table import table_size
from tests.security.fuzzing import STATS
from tests.security.world import World, build_world
from tests.support.platform import RunningPlatform, running_platform


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: schemathesis against the running platform (make fuzz-ci, make fuzz)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fuzzing runs only when asked for by `-m fuzz`; `make test` leaves it out."""
    if "fuzz" in (config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("fuzz") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reports = [r for kind in ("passed", "failed", "xfailed", "xpassed")
               for r in terminalreporter.stats.get(kind, [])]
    if any("tests/security/test_authz.py" in getattr(r, "nodeid", "") for r in reports):
        size = table_size()
        terminalreporter.write_line(
            "authorisation table: " + ", ".join(f"{k} {v}" for k, v in size.items()))
    if STATS.operations:
        terminalreporter.write_sep("=", "fuzzing")
        terminalreporter.write_line(STATS.summary())


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


@pytest.fixture(scope="module")
def world(platform: RunningPlatform) -> World:
    return build_world(platform)


class Api:
    """Blocking calls to any part, with one kept-alive client per part."""

    def __init__(self, platform: RunningPlatform) -> None:
        self.platform = platform
        self.clients = {name: httpx.Client(base_url=url, timeout=30)
                        for name, url in platform.urls.items()}

    def token(self, *roles: str, employee_id: str | None = None) -> str:
        return self.platform.token(*roles, employee_id=employee_id)

    def call(self, service: str, method: str, path: str, *, token: str | None = None,
             headers: dict[str, str] | None = None, fresh: bool = False,
             **kwargs: Any) -> httpx.Response:
        """`fresh`: close the connection after the answer (a crash may leave it dead)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if fresh:
            sent["Connection"] = "close"
        return self.clients[service].request(method, path, headers=sent, **kwargs)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module")
def api(platform: RunningPlatform) -> Iterator[Api]:
    client = Api(platform)
    try:
        yield client
    finally:
        client.close()


def malformed_token(platform: RunningPlatform, kind: str, employee_id: str) -> str:
    """A token signed with the right key whose claims break one rule."""
    settings = platform.settings
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": employee_id, "employee_id": employee_id, "roles": ["participant"],
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "iat": now,
        "exp": now + 3600,
    }
    options: dict[str, dict[str, Any]] = {
        "roles_empty": {"roles": []},
        "roles_number": {"roles": 5},
        "roles_null": {"roles": None},
        "roles_object": {"roles": {"hr_admin": True}},
        "role_unknown": {"roles": ["superuser"]},
        "expired": {"exp": now - 60, "roles": ["hr_admin"]},
        "wrong_audience": {"aud": "someone-else", "roles": ["hr_admin"]},
        "missing_sub": {"sub": None, "roles": ["hr_admin"]},
    }
    claims.update(options[kind])
    claims = {k: v for k, v in claims.items() if not (k == "sub" and v is None)}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
