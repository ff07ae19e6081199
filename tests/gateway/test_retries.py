"""Reads that meet a brief outage are tried again, boundedly; writes never are."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from gateway.clients import RetryPolicy
from tests.gateway.conftest import Stack

StartStack = Callable[..., AbstractAsyncContextManager[Stack]]
FAST = {"downstream_retry_backoff_seconds": 0.01}
CREATE = 'mutation { createProgramme(input: {name: "Retry"}) { programme { id } } }'


def _body(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_read_that_gets_a_brief_outage_is_tried_again_and_answers(
    start_stack: StartStack, token: Callable[..., str], status: int,
) -> None:
    async with start_stack(settings=FAST) as stack:
        enrolment = stack.recorders["enrolment"]
        enrolment.failing, enrolment.failing_status = 2, status

        body = _body(await stack.graphql('{ programme(programmeId: "prog1") { name } }',
                                         token=token("hr_admin")))

    assert body == {"data": {"programme": {"name": "Programme 1"}}}
    assert enrolment.paths() == ["/api/v1/batch/programmes"] * 3


async def test_a_read_is_tried_a_bounded_number_of_times_then_errors_on_its_field(
    start_stack: StartStack, token: Callable[..., str],
) -> None:
    async with start_stack(settings={**FAST, "downstream_read_attempts": 2}) as stack:
        enrolment = stack.recorders["enrolment"]
        enrolment.failing = 10

        body = _body(await stack.graphql('{ programme(programmeId: "prog1") { name } }',
                                         token=token("hr_admin")))

    assert body["data"] == {"programme": None}
    assert body["errors"][0]["extensions"]["status"] == 503
    assert len(enrolment.calls) == 2


async def test_a_write_is_never_tried_again(
    start_stack: StartStack, token: Callable[..., str],
) -> None:
    async with start_stack(settings=FAST) as stack:
        enrolment = stack.recorders["enrolment"]
        enrolment.failing = 1

        body = _body(await stack.graphql(CREATE, token=token("hr_admin")))

    assert body["errors"][0]["extensions"]["status"] == 503
    assert enrolment.paths("POST") == ["/api/v1/programmes"]  # once, though it failed
    assert enrolment.failing == 0


async def test_a_refusal_is_not_tried_again(
    stack: Stack, token: Callable[..., str],
) -> None:
    body = _body(await stack.graphql('{ programme(programmeId: "nowhere") { name } }',
                                     token=token("hr_admin")))

    assert body["errors"][0]["extensions"]["status"] == 404
    assert len(stack.recorders["enrolment"].calls) == 1


async def test_a_read_of_a_service_that_is_down_errors_after_its_attempts_not_a_hang(
    start_stack: StartStack, token: Callable[..., str],
) -> None:
    async with start_stack(settings=FAST, analytics=None) as stack:
        query = '{ programme(programmeId: "prog1") { name summary { mentors } } }'
        body = _body(await stack.graphql(query, token=token("hr_admin")))

    assert body["data"] == {"programme": {"name": "Programme 1", "summary": None}}
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["status"]) == (["programme", "summary"], 503)


def test_only_reads_are_retried_and_the_waits_double_with_jitter() -> None:
    policy = RetryPolicy(attempts=3, backoff_seconds=0.1)

    assert policy.retries("GET") == 2
    assert {policy.retries(m) for m in ("POST", "PUT", "PATCH", "DELETE")} == {0}
    for retry, base in ((0, 0.1), (1, 0.2)):
        waits = {policy.delay(retry) for _ in range(50)}
        assert all(base * 0.5 <= wait <= base * 1.5 for wait in waits)
        assert len(waits) > 1  # jittered, so retries from many requests do not align
