"""The workforce baseline through the gateway: HR enters an attribute's head counts, admins
read them back, a bad entry is a typed error naming its field and writes nothing, and only
HR may change them."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.e2e.conftest import Platform

SET = """
mutation S($i: WorkforceBaselineInput!) {
  setWorkforceBaseline(input: $i) {
    workforceBaseline { attribute asOf people values { value people } }
    errors { field code }
  }
}"""
LIST = "{ workforceBaseline { attribute asOf people values { value people } } }"
REMOVE = """mutation R($a: String!) { removeWorkforceBaseline(attribute: $a) {
  workforceBaseline { people } errors { code } } }"""


async def test_hr_enters_reads_and_removes_a_workforce_baseline(
    platform: Platform, token: Callable[..., str],
) -> None:
    attribute = f"gender-{uuid.uuid4().hex[:6]}"
    entry = {"attribute": attribute, "asOf": "2026-06-30",
             "values": [{"value": "woman", "people": 480}, {"value": "man", "people": 520}]}
    async with platform.client(token("hr_admin")) as hr:
        bad = (await hr.data(SET, i={**entry, "values": [{"value": "woman", "people": -3}]}))
        assert bad["setWorkforceBaseline"]["workforceBaseline"] is None
        assert bad["setWorkforceBaseline"]["errors"] == [
            {"field": "input.values.0.people", "code": "INVALID"}]
        assert attribute not in {b["attribute"] for b in (await hr.data(LIST))[
            "workforceBaseline"]}
        stored = await hr.done(SET, "setWorkforceBaseline", "workforceBaseline", i=entry)
        assert stored == {"attribute": attribute, "asOf": "2026-06-30", "people": 1000,
                          "values": [{"value": "man", "people": 520},
                                     {"value": "woman", "people": 480}]}
    async with platform.client(token("programme_manager")) as manager:
        assert stored in (await manager.data(LIST))["workforceBaseline"]
        refused = (await manager.data(SET, i=entry))["setWorkforceBaseline"]
        assert refused["errors"] == [{"field": None, "code": "FORBIDDEN"}]
    async with platform.client(token("hr_admin")) as hr:
        assert (await hr.data(REMOVE, a=attribute))["removeWorkforceBaseline"] == {
            "workforceBaseline": {"people": 1000}, "errors": []}
        again = (await hr.data(REMOVE, a=attribute))["removeWorkforceBaseline"]
        assert again == {"workforceBaseline": None, "errors": [{"code": "NOT_FOUND"}]}
