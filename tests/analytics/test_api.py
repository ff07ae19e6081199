"""Programme figures are for admins; a programme analytics has not heard of reads as zeros."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.support.stack import Running

StartService = Callable[..., AbstractAsyncContextManager[Running]]


async def test_only_admins_read_a_programme_summary(
    start_service: StartService, token: Callable[..., str],
) -> None:
    path = f"/api/v1/programmes/{uuid.uuid4()}/summary"
    async with start_service("analytics") as svc:
        for caller in [token("participant", employee_id="emp-1"), token("hris")]:
            async with svc.client(caller) as client:
                response = await client.get(path)
            assert response.status_code == 403
            assert response.headers["content-type"].startswith("application/problem+json")
        async with svc.client() as client:
            assert (await client.get(path)).status_code == 401
        async with svc.client(token("programme_manager")) as client:
            assert (await client.get(path)).status_code == 200


async def test_an_unknown_programme_reads_as_all_zeros(
    start_service: StartService, token: Callable[..., str],
) -> None:
    programme_id = str(uuid.uuid4())
    async with start_service("analytics") as svc, svc.client(token("hr_admin")) as client:
        response = await client.get(f"/api/v1/programmes/{programme_id}/summary")
    assert response.status_code == 200
    assert response.json() == {
        "programme_id": programme_id, "participants_enrolled": 0, "mentors": 0, "mentees": 0,
        "pairs_formed": 0, "pairs_active": 0, "sessions_scheduled": 0, "sessions_held": 0,
    }
