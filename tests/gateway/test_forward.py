"""HRIS jobs talk to the gateway as if it were enrolment: SCIM and the bulk import pass as-is."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from gateway.config import GatewaySettings
from gateway.main import create_app
from tests.enrolment.conftest import published
from tests.gateway.conftest import Stack
from tests.support.databases import DatabaseFactory
from tests.support.nats import NatsServer, free_port
from tests.support.stack import TEST_JWT_SECRET, Running, serve, wait_until


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


async def _raw(stack: Stack, method: str, path: str, token: str) -> tuple[int, bytes, bytes]:
    """A request with its path sent exactly as given (as `curl --path-as-is` does):
    HTTP clients resolve dot segments before they send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


@pytest.mark.parametrize("method, path", [
    ("POST", "/scim/v2/../../api/v1/employees/e1/erase"),
    ("DELETE", "/scim/v2/Users/../../../api/v1/programmes/prog1"),
    ("GET", "/scim/v2/./Users"),
    ("POST", "/scim/v2/%2e%2e/%2E%2E/api/v1/employees/e1/erase"),
    ("POST", "/scim/v2/.%2e/..%2E/api/v1/employees/e1/erase"),
    ("GET", "/scim/v2/Users%2F..%2F..%2Fapi%2Fv1%2Fprogrammes"),
    ("GET", "/scim/v2/Users%5c..%5capi"),
    ("GET", "/scim/v2/Users\\..\\api"),
    ("GET", "/%73cim/v2/Users"),
    ("POST", "/api/v1/employees/%69mport"),
])
async def test_a_path_that_could_leave_the_forwarded_routes_is_a_400_and_never_forwarded(
    stack: Stack, token: Callable[..., str], method: str, path: str,
) -> None:
    status, head, body = await _raw(stack, method, path, token("hris"))

    assert status == 400
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["field"] == "path"
    assert problem["type"].endswith("/bad-path")
    assert not stack.recorders["enrolment"].calls


async def test_a_gzip_upload_reaches_enrolment_still_compressed(
    stack: Stack, token: Callable[..., str]
) -> None:
    packed = gzip.compress(_csv(20_000))

    async with stack.client(token("hris")) as client:
        response = await client.post("/api/v1/employees/import", content=packed, headers={
            "content-type": "text/csv", "content-encoding": "gzip"})

    assert response.status_code == 200
    [(content_type, received)] = stack.recorders["enrolment"].bodies
    assert (content_type, received) == ("text/csv", packed)
    [call] = stack.recorders["enrolment"].calls
    assert call.headers["content-encoding"] == "gzip"


def _company(count: int, *extra: bytes) -> bytes:
    """A CSV of `count` people under one CEO, reports before their managers."""
    header = (b"external_id,email,given_name,family_name,job_level,department,"
              b"manager_external_id\n")
    return header + b"".join(
        b"P%d,p%d@example.com,Given%d,Family%d,%d,Sales,%s\n"
        % (i, i, i, i, 1 + i % 12, b"P0" if i else b"") for i in reversed(range(count))
    ) + b"".join(extra)


ENROLMENT_EVENTS = "mentoring.employee.updated"


@pytest.fixture
def behind_gateway(
    start_service: Callable[..., AbstractAsyncContextManager[Running]],
    databases: DatabaseFactory,
) -> Callable[..., AbstractAsyncContextManager[Running]]:
    """`async with behind_gateway() as gateway:` the gateway before a real enrolment."""

    @asynccontextmanager
    async def start(**enrolment: Any) -> AsyncIterator[Running]:
        enrolment.setdefault("database_url", databases.new(f"enrolment-{free_port()}"))
        async with start_service("enrolment", **enrolment) as service:
            down = {f"{name}_url": f"http://127.0.0.1:{free_port()}"
                    for name in ("matching", "scheduling", "analytics")}
            settings = GatewaySettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                                       enrolment_url=service.url, **down)
            async with serve("gateway", create_app(settings)) as gateway:
                yield gateway

    return start


async def _at_least(count: int, nats_server: NatsServer) -> list[dict[str, Any]] | None:
    got = await published(nats_server.url, ENROLMENT_EVENTS)
    return got if len(got) >= count else None


def _said(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What events say of employees, without the ids each enrolment draws."""
    out = []
    for event in events:
        employee = dict(event["data"]["employee"])
        employee.pop("employee_id")
        employee["manager_id"] = employee["manager_id"] is not None
        employee["manager_chain"] = len(employee["manager_chain"])
        out.append(employee)
    return sorted(out, key=lambda e: str(e["external_id"]))


async def test_a_gzip_import_through_the_gateway_gives_the_plain_ones_report_and_events(
    behind_gateway: Callable[..., AbstractAsyncContextManager[Running]],
    nats_server: NatsServer, token: Callable[..., str],
) -> None:
    body = _company(2_000, b"BAD,not-an-email,B,D,3,Sales,\n")
    answers = []
    for headers, content in (({"content-type": "text/csv"}, body),
                             ({"content-type": "text/csv", "content-encoding": "gzip"},
                              gzip.compress(body))):
        async with behind_gateway() as gateway, gateway.client(token("hris")) as client:
            answers.append(await client.post("/api/v1/employees/import", content=content,
                                             headers=headers))
            stream = await wait_until(lambda: _at_least(2_000 * len(answers), nats_server))
    plain, compressed = answers
    assert plain.status_code == compressed.status_code == 200, compressed.text
    assert plain.json()["created"] == 2_000 and plain.json()["rejected"] == 1
    assert compressed.json() == plain.json()
    assert len(stream) == 4_000
    assert _said(stream[2_000:]) == _said(stream[:2_000])


async def test_through_the_gateway_a_gzip_bomb_is_a_413_and_writes_nothing(
    behind_gateway: Callable[..., AbstractAsyncContextManager[Running]],
    nats_server: NatsServer, token: Callable[..., str],
) -> None:
    limit = 300_000
    fits = _company(4_000)
    assert len(fits) < limit < 2 * len(fits)
    gzipped = {"content-type": "text/csv", "content-encoding": "gzip"}
    bomb = gzip.compress(fits + b"\n" * (100 * limit))  # 30 MB inflated, ~70 kB sent
    assert len(bomb) < limit // 4
    doubled = gzip.compress(fits + fits.split(b"\n", 1)[1].replace(b"P", b"Q"))
    assert len(doubled) < limit
    async with behind_gateway(import_max_bytes=limit) as gateway, \
            gateway.client(token("hris")) as client:
        for refused in (bomb, doubled):
            response = await client.post("/api/v1/employees/import", content=refused,
                                         headers=gzipped)
            assert response.status_code == 413, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/payload-too-large")
            assert response.json()["field"] == "body"
        corrupt = await client.post("/api/v1/employees/import",
                                    content=gzip.compress(fits)[:-9], headers=gzipped)
        assert corrupt.status_code == 400, corrupt.text
        assert corrupt.json()["type"].endswith("/malformed-body")
        unknown = await client.post("/api/v1/employees/import", content=fits,
                                    headers={"content-type": "text/csv",
                                             "content-encoding": "zstd"})
        assert unknown.status_code == 415
        assert unknown.json()["field"] == "content-encoding"
        assert await published(nats_server.url, ENROLMENT_EVENTS) == []
        imported = await client.post("/api/v1/employees/import", content=gzip.compress(fits),
                                     headers=gzipped)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 4_000  # nothing of the refused files was written


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_client_hanging_up_mid_upload_is_a_logged_400_not_a_500(
    stack: Stack, token: Callable[..., str]
) -> None:
    # Straight into the gateway's ASGI app, so the hang-up comes at a known point: one
    # part of a 1 MB upload, then the disconnect.
    first = _csv(1_000)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/employees/import",
        "raw_path": b"/api/v1/employees/import", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"text/csv"),
                    (b"content-length", b"1000000"),
                    (b"authorization", f"Bearer {token('hris')}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", stack.gateway.port),
    }
    records = _Records()
    root = logging.getLogger()
    root.addHandler(records)
    try:
        await stack.gateway.app(scope, receive, send)
    finally:
        root.removeHandler(records)

    [start] = [m for m in sent if m["type"] == "http.response.start"]
    assert start["status"] == 400
    body = json.loads(b"".join(m.get("body", b"") for m in sent
                               if m["type"] == "http.response.body"))
    assert body["type"].endswith("/client-disconnected")
    assert body["errors"] == [{"field": "body", "message": body["detail"]}]
    assert not [r for r in records.records if r.levelno >= logging.ERROR]
    assert any("hung up" in r.getMessage() for r in records.records)
    # Enrolment never had the whole file: nothing of it was imported.
    await asyncio.sleep(0.2)
    assert not stack.recorders["enrolment"].bodies
