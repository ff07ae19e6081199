"""A correlation id follows a request into the events it causes, and on through handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tests.support.stream import Stream
from upward_common.events import PairEnded, PairFormed, utcnow
from upward_common.outbox import emit


async def test_an_event_carries_the_correlation_id_of_the_request_that_caused_it(
    start_service: Any, stream: Stream, token: Callable[..., str]
) -> None:
    async with start_service("enrolment") as enrolment, enrolment.client(token("hr_admin")) as c:
        response = await c.post("/api/v1/programmes", json={"name": "Traced"},
                                headers={"X-Correlation-ID": "req-42"})
        assert response.status_code == 201, response.text
        [event] = await stream.events("mentoring.programme.updated")
        assert event.correlationid == "req-42"


async def test_a_handler_passes_the_correlation_id_on_to_the_events_it_emits(
    start_kernel_service: Any, stream: Stream
) -> None:
    async def react(session: AsyncSession, data: Any) -> None:
        emit(session, PairEnded(pair_id=data.pair_id, programme_id=data.programme_id,
                                reason="admin", occurred_at=utcnow()))

    async with start_kernel_service(react, model=PairFormed):
        formed = PairFormed(pair_id="p", programme_id="g", mentor_participant_id="m",
                            mentee_participant_id="e", mentor_employee_id="me",
                            mentee_employee_id="ee", score=50, occurred_at=utcnow())
        envelope = formed.envelope(source="/tests")
        envelope.correlationid = "journey-7"
        await stream.js.publish(formed.nats_subject(), envelope.model_dump_json().encode(),
                                headers={"Nats-Msg-Id": envelope.id})
        [ended] = await stream.events("mentoring.pair.ended")
        assert ended.correlationid == "journey-7"


def test_log_lines_are_json_with_the_correlation_id_in_force() -> None:
    import json
    import logging

    from upward_common.logs import JsonFormatter, correlation_id

    token = correlation_id.set("req-9")
    try:
        record = logging.makeLogRecord({"msg": "enrolled %s", "args": ("p-1",),
                                        "levelname": "INFO", "name": "enrolment"})
        record.event_id = "e-1"
        line = json.loads(JsonFormatter("enrolment").format(record))
    finally:
        correlation_id.reset(token)
    assert line["message"] == "enrolled p-1"
    assert line["correlation_id"] == "req-9"
    assert line["service"] == "enrolment"
    assert line["event_id"] == "e-1"
