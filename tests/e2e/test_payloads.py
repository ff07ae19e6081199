"""One refused mutation never erases what the rest of the request did, across the real
services: the refusal is in its payload, the others' results beside it and applied."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.conftest import Platform

FOUR = """mutation Four($id: ID!) {
  capacity: updateProgramme(programmeId: $id, input: {capacity: 10}) {
    programme { capacity } errors { field code message } }
  topics: addProgrammeTopics(programmeId: $id, topics: ["remote rituals"]) {
    programme { id } errors { field code message } }
  backToDraft: changeProgrammeStatus(programmeId: $id, status: DRAFT) {
    programme { status } errors { field code message } }
  another: createProgramme(input: {name: "Four, the second", sessionMinutes: 30}) {
    programme { id name sessionMinutes } errors { field code message } }
}"""


async def test_four_mutations_where_the_third_is_refused_answer_and_apply_the_other_three(
    platform: Platform, token: Callable[..., str]
) -> None:
    async with platform.client(token("hr_admin")) as hr:
        programme = await hr.done(
            'mutation { createProgramme(input: {name: "Four"}) { programme { id status } '
            "errors { code } } }", "createProgramme", "programme")
        assert programme["status"] == "OPEN"

        body = await hr.execute(FOUR, id=programme["id"])

        assert "errors" not in body, body["errors"]
        data = body["data"]
        assert data["capacity"] == {"programme": {"capacity": 10}, "errors": []}
        assert data["topics"] == {"programme": {"id": programme["id"]}, "errors": []}
        [refusal] = data["backToDraft"]["errors"]
        assert data["backToDraft"]["programme"] is None
        assert (refusal["field"], refusal["code"]) == ("status", "CONFLICT")
        assert refusal["message"]
        assert data["another"]["errors"] == []
        assert data["another"]["programme"]["sessionMinutes"] == 30

        # What the three did is there to read; the third changed nothing.
        after = await hr.data(
            """query ($id: ID!) { programme(programmeId: $id) { capacity topics status }
                 programmes(first: 500) { nodes { id } } }""", id=programme["id"])
        assert after["programme"]["capacity"] == 10
        assert "remote rituals" in after["programme"]["topics"]
        assert after["programme"]["status"] == "OPEN"
        assert data["another"]["programme"]["id"] in [
            p["id"] for p in after["programmes"]["nodes"]]


async def test_a_bad_value_is_a_user_error_naming_the_input_path(
    platform: Platform, token: Callable[..., str]
) -> None:
    async with platform.client(token("hr_admin")) as hr:
        body = await hr.data(
            """mutation { createProgramme(input: {name: "Wrong", sessionMinutes: 50,
                 mentorMaxLevel: 25}) { programme { id } errors { field code message } } }""")

    payload = body["createProgramme"]
    assert payload["programme"] is None
    assert {(e["field"], e["code"]) for e in payload["errors"]} == {
        ("input.sessionMinutes", "INVALID"), ("input.mentorMaxLevel", "INVALID")}
    assert all("_" not in e["message"] for e in payload["errors"])
