"""HRIS jobs talk to the gateway as if it were enrolment: SCIM and the bulk import pass as-is."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.gateway.conftest import Stack


def _csv(rows: int) -> bytes:
    header = b"external_id,email,given_name,family_name,job_level,department\n"
    return header + b"".join(
        b"W%d,w%d@example.com,Given%d,Family%d,%d,Sales\n" % (i, i, i, i, 1 + i % 12)
        for i in range(rows)
    )


async def test_a_csv_import_reaches_enrolment_byte_for_byte_and_its_answer_comes_back(
    stack: Stack, token: Callable[..., str]
) -> None:
    body = _csv(100_000)  # several megabytes, streamed through
    hris = token("hris")

    async with stack.client(hris) as client:
        response = await client.post("/api/v1/employees/import", content=body,
                                     headers={"content-type": "text/csv",
                                              "x-correlation-id": "nightly-2026-11-22"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-import-run"] == "run-7"
    assert response.headers["x-correlation-id"] == "nightly-2026-11-22"
    for header in ("date", "server", "x-correlation-id", "content-length"):
        assert len(response.headers.get_list(header)) == 1, header
    assert response.json()["created"] == 100_001
    [(content_type, received)] = stack.recorders["enrolment"].bodies
    assert content_type == "text/csv"
    assert received == body
    [call] = stack.recorders["enrolment"].calls
    assert call.headers["authorization"] == f"Bearer {hris}"
    assert call.headers["x-correlation-id"] == "nightly-2026-11-22"


async def test_a_refused_import_keeps_enrolments_status_and_problem_body(
    stack: Stack, token: Callable[..., str]
) -> None:
    async with stack.client(token("hris")) as client:
        response = await client.post("/api/v1/employees/import", content=b"",
                                     headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "body"
    assert response.json()["instance"] == "/api/v1/employees/import"


async def test_scim_create_keeps_status_media_type_and_links_to_the_gateway(
    stack: Stack, token: Callable[..., str]
) -> None:
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana"}

    async with stack.client(token("hris")) as client:
        response = await client.post("/scim/v2/Users", content=json.dumps(user),
                                     headers={"content-type": "application/scim+json"})

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/scim+json"
    assert response.headers["etag"] == 'W/"1"'
    # Enrolment saw the gateway's Host, so the links it wrote point at the gateway.
    assert response.headers["location"] == f"{stack.gateway.url}/scim/v2/Users/u-1"
    assert response.json()["meta"]["location"] == f"{stack.gateway.url}/scim/v2/Users/u-1"
    [(content_type, received)] = stack.recorders["enrolment"].bodies
    assert (content_type, json.loads(received)) == ("application/scim+json", user)


async def test_scim_queries_errors_and_deletes_pass_through_unchanged(
    stack: Stack, token: Callable[..., str]
) -> None:
    async with stack.client(token("hris")) as client:
        listed = await client.get("/scim/v2/Users", params={"filter": 'userName eq "ana"'})
        missing = await client.get("/scim/v2/Users/missing")
        deleted = await client.delete("/scim/v2/Users/u-1")

    assert listed.json() == {"totalResults": 0, "filter": 'userName eq "ana"', "path": "Users"}
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/scim+json"
    assert missing.json()["detail"] == "no such user"
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert [c.method for c in stack.recorders["enrolment"].calls] == ["GET", "GET", "DELETE"]


async def test_an_hris_job_without_a_token_is_refused_before_its_upload_is_forwarded(
    stack: Stack,
) -> None:
    async with stack.client() as client:
        imported = await client.post("/api/v1/employees/import", content=_csv(10),
                                     headers={"content-type": "text/csv"})
        scim = await client.get("/scim/v2/Users")

    assert (imported.status_code, scim.status_code) == (401, 401)
    assert imported.headers["content-type"] == "application/problem+json"
    assert not stack.recorders["enrolment"].calls


async def test_enrolment_down_is_a_503_problem(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    async with start_stack(enrolment=None) as stack, stack.client(token("hris")) as client:
        response = await client.get("/scim/v2/Users")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/downstream-unavailable")
