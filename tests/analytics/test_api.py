"""Programme figures are for admins; a programme analytics has not heard of reads as zeros."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.support.stack import Running
from tests.support.tokens import signed_token

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
        "pairs_at_risk": 0, "pairs_fit_flagged": 0, "pairs_closure_proposed": 0,
        "touchpoints": 0, "group_sessions": 0,
    }


async def test_a_malformed_token_is_a_401_not_a_500(
    start_service: StartService, token: Callable[..., str],
) -> None:
    path = f"/api/v1/programmes/{uuid.uuid4()}/summary"
    async with start_service("analytics") as svc:
        for claims in [{"roles": [], "employee_id": "emp-1"}, {"roles": 5}, {"roles": None},
                       {"roles": {"hr_admin": True}}, {"roles": "hr_admin"},
                       {"roles": ["hr_admin"], "sub": ""},
                       {"roles": ["hr_admin"], "employee_id": ["emp-1"]}]:
            async with svc.client(signed_token(**claims)) as client:
                response = await client.get(path)
            assert response.status_code == 401, (claims, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert response.json()["field"] in {"roles", "sub", "employee_id"}
        # An HRIS token naming an employee is still only an HRIS job.
        async with svc.client(signed_token(roles=["hris"], employee_id="emp-1")) as client:
            assert (await client.get(path)).status_code == 403


async def test_a_programme_id_is_capped(
    start_service: StartService, token: Callable[..., str],
) -> None:
    async with start_service("analytics") as svc, svc.client(token("hr_admin")) as client:
        for bad in ["p" * 65, "-p", "p%00"]:
            response = await client.get(f"/api/v1/programmes/{bad}/summary")
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["field"] == "programme_id"
