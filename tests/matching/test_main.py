"""Matching's long-lived state starts with the running app, never when the app is only built."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from matching import compiled, main
from matching.pool import PoolCache
from tests.matching.conftest import Feed, employee, participant, wait_pool
from tests.support.stack import Running
from upward_common.__main__ import main as command

PROGRAMME = "prog-main"


@pytest.fixture
def warm_ups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of the solver's warm-up, by the name of the thread that made it."""
    calls: list[str] = []
    monkeypatch.setattr(compiled, "warm_up", lambda: calls.append(threading.current_thread().name))
    return calls


def test_building_the_app_or_its_openapi_starts_no_thread(
    warm_ups: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(threading.enumerate())
    app = main.create_app()
    assert app.openapi()["info"]["title"] == "Upward matching"
    assert command(["openapi", "matching"]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["title"] == "Upward matching"
    assert set(threading.enumerate()) == before
    assert warm_ups == []
    assert not hasattr(app.state, "pool_cache")


async def test_the_running_app_warms_the_solver_up_once_and_its_routes_share_one_pool_cache(
    warm_ups: list[str], matching: Running, feed: Feed, admin: httpx.AsyncClient
) -> None:
    # Made by the lifespan, before the first event or request.
    state = matching.app.state
    cache = state.pool_cache
    assert isinstance(cache, PoolCache)
    state.warm_up.join(timeout=10)
    assert warm_ups == ["matching-warm-up"]

    await feed.programme(PROGRAMME)
    await feed.enrol(participant(PROGRAMME, "mentor", employee(job_level=2)))
    await wait_pool(admin, PROGRAMME, mentors=1)
    assert state.pool_cache is cache and PROGRAMME in cache._views
    assert warm_ups == ["matching-warm-up"]
