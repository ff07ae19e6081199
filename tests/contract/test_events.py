"""The event contract: one source of truth, published as AsyncAPI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from upward_common.events import (
    CloudEvent,
    EventData,
    PairFormed,
    asyncapi_document,
    parse_event,
    utcnow,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"

REQUIRED = {
    "employee.updated.v1", "participant.enrolled.v1", "participant.updated.v1",
    "participant.withdrawn.v1", "pair.formed.v1", "pair.ended.v1",
    "session.scheduled.v1", "session.logged.v1",
}


def test_every_event_the_design_names_exists_with_a_versioned_type() -> None:
    assert set(EventData.registry) >= REQUIRED
    for type_name, model in EventData.registry.items():
        assert re.fullmatch(r"[a-z]+\.[a-z]+\.v\d+", type_name)
        assert re.fullmatch(r"mentoring\.[a-z]+\.[a-z]+", model.nats_subject())


def test_an_envelope_round_trips_as_cloudevents_structured_json() -> None:
    data = PairFormed(pair_id="p", programme_id="g", mentor_participant_id="m",
                      mentee_participant_id="e", mentor_employee_id="me",
                      mentee_employee_id="ee", score=71.5, occurred_at=utcnow())
    wire = json.loads(data.envelope(source="/upward/matching").model_dump_json())
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "pair.formed.v1"
    assert wire["subject"] == "p"
    assert wire["datacontenttype"] == "application/json"
    assert {"id", "source", "time", "data", "correlationid"} <= set(wire)
    assert parse_event(CloudEvent.model_validate(wire)) == data


def test_the_asyncapi_document_describes_every_event_and_is_committed_up_to_date() -> None:
    document = asyncapi_document()
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert names == set(EventData.registry)
    assert DOCS.exists(), "run `make asyncapi` to write docs/asyncapi.json"
    assert json.loads(DOCS.read_text()) == json.loads(json.dumps(document)), (
        "docs/asyncapi.json is stale: run `make asyncapi`"
    )
