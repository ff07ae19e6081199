"""Bulk employee import: formats, row errors, managers, leavers, idempotence, events."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from tests.enrolment.conftest import published
from tests.support.databases import DatabaseFactory, on_postgres, statements
from tests.support.stack import Running, wait_until

HEADER = ("external_id,email,given_name,family_name,job_title,job_level,department,"
          "manager_external_id,location,time_zone,hire_date,leave_date")
CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}


def csv_of(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def person(external_id: str, manager: str = "", **extra: Any) -> dict[str, Any]:
    record = {"external_id": external_id, "email": f"{external_id}@corp.example",
              "given_name": external_id.title(), "family_name": "Doe", "job_level": 5,
              "department": "Sales", "manager_external_id": manager or None,
              "time_zone": "Europe/Paris", "hire_date": "2020-01-06"}
    record.update(extra)
    return record


def ndjson(*records: dict[str, Any]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


async def employee(hr: httpx.AsyncClient, external_ids: dict[str, str], ext: str) -> Any:
    response = await hr.get(f"/api/v1/employees/{external_ids[ext]}")
    assert response.status_code == 200
    return response.json()


async def ids_by_external(events: Callable[[str], Any], count: int) -> dict[str, str]:
    published = await wait_until(
        lambda: _at_least(events("mentoring.employee.updated"), count))
    return {e["data"]["employee"]["external_id"]: e["data"]["employee"]["employee_id"]
            for e in published}


async def _at_least(pending: Any, count: int) -> Any:
    got = await pending
    return got if len(got) >= count else None


async def test_csv_import_resolves_managers_in_any_order_and_publishes_chains(
    hris: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    body = csv_of(
        "ic,ic@corp.example,Ida,Coder,Engineer,2,Eng,lead,Lyon,Europe/Paris,2024-03-01,",
        "lead,lead@corp.example,Leo,Lead,Lead,5,Eng,ceo,Lyon,Europe/Paris,2019-03-01,",
        "ceo,ceo@corp.example,Cleo,Chief,CEO,12,Board,,Paris,Europe/Paris,2010-01-04,",
    )
    response = await hris.post("/api/v1/employees/import", content=body, headers=CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0,
                               "errors": []}
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 3))
    people = {e["data"]["employee"]["external_id"]: e["data"]["employee"] for e in published}
    assert len(published) == 3
    assert people["ic"]["manager_chain"] == [people["lead"]["employee_id"],
                                             people["ceo"]["employee_id"]]
    assert people["ic"]["job_level"] == 2 and people["ic"]["hire_on"] == "2024-03-01"
    assert people["ceo"]["manager_chain"] == []


async def test_ndjson_and_json_bodies_are_accepted(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    nd = await hris.post("/api/v1/employees/import", content=ndjson(person("a"), person("b", "a")),
                         headers=NDJSON)
    assert nd.status_code == 200 and nd.json()["created"] == 2
    js = await hris.post("/api/v1/employees/import", json=[person("c", "b")])
    assert js.status_code == 200 and js.json()["created"] == 1
    ids = await ids_by_external(events, 3)
    c = await employee(hr, ids, "c")
    assert c["manager_id"] == ids["b"] and c["time_zone"] == "Europe/Paris"


async def test_reimport_is_idempotent_and_changes_emit_one_event_each(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    body = ndjson(person("a"), person("b", "a"), person("c", "b"))
    first = await hris.post("/api/v1/employees/import", content=body, headers=NDJSON)
    assert first.json()["created"] == 3
    await ids_by_external(events, 3)
    again = await hris.post("/api/v1/employees/import", content=body, headers=NDJSON)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0,
                            "errors": []}
    changed = ndjson(person("a"), person("b", "a", job_title="Director"), person("c", "b"))
    third = await hris.post("/api/v1/employees/import", content=changed, headers=NDJSON)
    assert third.json()["updated"] == 1 and third.json()["unchanged"] == 2
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 4))
    assert len(published) == 4
    assert published[-1]["data"]["employee"]["job_title"] == "Director"


async def test_a_move_republishes_the_reports_with_their_new_chain(
    hris: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    body = ndjson(person("top"), person("mid", "top"), person("low", "mid"), person("other"))
    await hris.post("/api/v1/employees/import", content=body, headers=NDJSON)
    ids = await ids_by_external(events, 4)
    moved = await hris.post("/api/v1/employees/import",
                            content=ndjson(person("mid", "other")), headers=NDJSON)
    assert moved.json()["updated"] == 1
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 6))
    latest = {e["data"]["employee"]["external_id"]: e["data"]["employee"] for e in published}
    assert latest["low"]["manager_chain"] == [ids["mid"], ids["other"]]


async def test_bad_rows_are_reported_by_row_and_field_and_write_nothing(
    hris: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    future = (date.today() + timedelta(days=30)).isoformat()
    body = csv_of(
        "ok,ok@corp.example,Ok,Fine,,3,Eng,,,Europe/Paris,2020-01-01,",
        "bad-mail,not-an-email,Bad,Mail,,3,Eng,,,,,",
        "bad-zone,z@corp.example,Bad,Zone,,3,Eng,,,Mars/Olympus,,",
        "bad-level,l@corp.example,Bad,Level,,99,Eng,,,,,",
        f"bad-hire,h@corp.example,Bad,Hire,,3,Eng,,,,{future},",
        "orphan,o@corp.example,No,Boss,,3,Eng,ghost,,,,",
        "ok,dup@corp.example,Dup,Licate,,3,Eng,,,,,",
    )
    response = await hris.post("/api/v1/employees/import", content=body, headers=CSV)
    assert response.status_code == 200
    report = response.json()
    assert report["created"] == 1 and report["rejected"] == 6
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "email"), (4, "time_zone"), (5, "job_level"), (6, "hire_date"),
        (7, "manager_external_id"), (8, "external_id"),
    ]
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 1))
    assert [e["data"]["employee"]["external_id"] for e in published] == ["ok"]


async def test_a_manager_cycle_rejects_its_rows_but_not_the_rest(
    hris: httpx.AsyncClient,
) -> None:
    body = ndjson(person("x", "y"), person("y", "z"), person("z", "x"), person("w", "x"),
                  person("fine"))
    report = (await hris.post("/api/v1/employees/import", content=body, headers=NDJSON)).json()
    assert report["created"] == 1
    rejected = {e["row"]: e for e in report["errors"]}
    assert set(rejected) == {1, 2, 3, 4}
    assert all(e["field"] == "manager_external_id" for e in rejected.values())
    assert "loop" in rejected[1]["reason"] and "rejected" in rejected[4]["reason"]


async def test_a_cycle_through_stored_employees_is_caught(hris: httpx.AsyncClient) -> None:
    await hris.post("/api/v1/employees/import",
                    content=ndjson(person("boss"), person("report", "boss")), headers=NDJSON)
    flipped = await hris.post("/api/v1/employees/import",
                              content=ndjson(person("boss", "report")), headers=NDJSON)
    assert flipped.status_code == 422
    assert flipped.json()["errors"][0]["field"] == "manager_external_id"


async def test_leavers_are_kept_inactive(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    await hris.post("/api/v1/employees/import", content=ndjson(person("stay"), person("go")),
                    headers=NDJSON)
    ids = await ids_by_external(events, 2)
    left = (date.today() - timedelta(days=1)).isoformat()
    response = await hris.post("/api/v1/employees/import",
                               content=ndjson(person("go", leave_date=left)), headers=NDJSON)
    assert response.json()["updated"] == 1
    gone = await employee(hr, ids, "go")
    assert gone["active"] is False and gone["leave_on"] == left
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 3))
    assert published[-1]["data"]["employee"]["active"] is False


async def test_whole_file_problems_are_clear_4xx(
    hris: httpx.AsyncClient, enrolment: Running, token: Callable[..., str]
) -> None:
    unknown = await hris.post("/api/v1/employees/import",
                              content="external_id,email,given_name,family_name,shoe_size\n",
                              headers=CSV)
    assert unknown.status_code == 400 and unknown.json()["field"] == "shoe_size"
    ragged = await hris.post("/api/v1/employees/import",
                             content=csv_of("a,a@corp.example,A"), headers=CSV)
    assert ragged.status_code == 400 and ragged.json()["errors"][0]["row"] == 2
    broken = await hris.post("/api/v1/employees/import", content='{"external_id": "a"\n',
                             headers=NDJSON)
    assert broken.status_code == 400 and broken.json()["errors"][0]["row"] == 1
    extra = await hris.post("/api/v1/employees/import",
                            content=ndjson(person("a", shoe_size=44)), headers=NDJSON)
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "shoe_size"
    xml = await hris.post("/api/v1/employees/import", content="<a/>",
                          headers={"content-type": "application/xml"})
    assert xml.status_code == 415
    limit = enrolment.app.state.settings.import_max_bytes
    huge = await hris.post("/api/v1/employees/import", content=b"x" * (limit + 1), headers=CSV)
    assert huge.status_code == 413
    async with enrolment.client(token("participant", employee_id="x")) as participant:
        denied = await participant.post("/api/v1/employees/import", json=[person("a")])
    assert denied.status_code == 403


async def test_a_column_left_out_keeps_its_value_and_an_empty_cell_clears_it(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    await hris.post("/api/v1/employees/import", content=ndjson(person("kim", location="Oslo")),
                    headers=NDJSON)
    ids = await ids_by_external(events, 1)
    partial = "external_id,email,given_name,family_name,location\n" \
              "kim,kim@new.example,Kim,Doe,\n"
    response = await hris.post("/api/v1/employees/import", content=partial, headers=CSV)
    assert response.json()["updated"] == 1
    kim = await employee(hr, ids, "kim")
    assert kim["email"] == "kim@new.example" and kim["location"] is None
    assert kim["department"] == "Sales" and kim["job_level"] == 5


async def _nothing_written(enrolment: Running) -> bool:
    async with enrolment.app.state.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM enrolment_employee"))).scalar()
    return count == 0


async def test_a_time_zone_folder_is_a_row_error_in_every_format(
    hris: httpx.AsyncClient,
) -> None:
    """`Europe` is a tzdata folder, not a zone (it used to fail the request with a 500)."""
    csv_body = csv_of("a,a@corp.example,A,Doe,,3,Eng,,,Europe,,")
    for body, headers in ((csv_body, CSV),
                          (ndjson(person("a", time_zone="Europe")), NDJSON),
                          (json.dumps([person("a", time_zone="America")]), JSON)):
        response = await hris.post("/api/v1/employees/import", content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["field"] == "time_zone" and "IANA" in error["reason"]


async def test_json_nested_too_deep_is_a_400_naming_the_body(
    hris: httpx.AsyncClient, enrolment: Running,
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    as_json = await hris.post("/api/v1/employees/import", content=deep, headers=JSON)
    assert as_json.status_code == 400, as_json.text
    assert as_json.json()["field"] == "body" and "deep" in as_json.json()["detail"]
    lines = ndjson(person("a")) + '{"external_id": ' + deep + "}\n"
    as_ndjson = await hris.post("/api/v1/employees/import", content=lines, headers=NDJSON)
    assert as_ndjson.status_code == 400, as_ndjson.text
    [error] = as_ndjson.json()["errors"]
    assert (error["row"], error["field"]) == (2, "body") and "deep" in error["message"]
    assert await _nothing_written(enrolment)


async def test_unicode_line_separators_inside_ndjson_strings_are_kept(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, events: Callable[[str], Any],
) -> None:
    """U+2028, U+2029 and U+0085 are valid in a JSON string; only "\\n" ends a record."""
    titles = {"a": "Head\u2028of Sales", "b": "Lead\u2029Design", "c": "Data\x85Ops"}
    body = "\r\n".join(json.dumps(person(ext, job_title=title), ensure_ascii=False)
                       for ext, title in titles.items())
    assert "\u2028" in body and "\x85" in body
    response = await hris.post("/api/v1/employees/import", content=body.encode(),
                               headers=NDJSON)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
    ids = await ids_by_external(events, 3)
    for ext, title in titles.items():
        assert (await employee(hr, ids, ext))["job_title"] == title


async def test_an_empty_file_is_a_422_naming_the_header(
    hris: httpx.AsyncClient, enrolment: Running,
) -> None:
    for body in ("", "\ufeff", "\n\n"):
        response = await hris.post("/api/v1/employees/import", content=body.encode(),
                                   headers=CSV)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "header"
    empty = await hris.post("/api/v1/employees/import", content=b"", headers=NDJSON)
    assert empty.status_code == 422 and empty.json()["field"] == "body"
    # A header and no rows is an export of no one: nothing to do, and no error.
    no_rows = await hris.post("/api/v1/employees/import", content=csv_of(), headers=CSV)
    assert no_rows.status_code == 200 and no_rows.json()["created"] == 0
    assert await _nothing_written(enrolment)


async def test_strings_over_their_cap_or_with_nul_bytes_are_row_errors(
    hris: httpx.AsyncClient, events: Callable[[str], Any],
) -> None:
    rows = [
        person("ok"),
        person("x" * 65),
        person("nul", given_name="Ana\x00"),
        person("long", department="D" * 201),
        person("tab", family_name="Do\te"),
        person("mail", email=("m" * 250) + "@corp.example"),
        person("boss", manager_external_id="has space"),
        person("extra", **{"k" * 10_000: 1}),
    ]
    response = await hris.post("/api/v1/employees/import", content=json.dumps(rows),
                               headers=JSON)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 1
    assert [(e["row"], e["field"]) for e in report["errors"][:7]] == [
        (2, "external_id"), (3, "given_name"), (4, "department"), (5, "family_name"),
        (6, "email"), (7, "manager_external_id"), (8, "k" * 100)]
    csv_nul = await hris.post("/api/v1/employees/import", headers=CSV,
                              content=csv_of("z,z@corp.example,Z\x00,Doe,,3,Eng,,,,,"))
    assert csv_nul.status_code == 422 and csv_nul.json()["errors"][0]["field"] == "given_name"
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 1))
    assert [e["data"]["employee"]["external_id"] for e in published] == ["ok"]


GZIP_CSV = {"content-type": "text/csv", "content-encoding": "gzip"}


def people_csv(count: int, *extra: str, prefix: str = "p") -> bytes:
    """`count` people under one CEO, reports listed before their managers."""
    rows = [f"{prefix}{i},{prefix}{i}@corp.example,P{i},Doe,,3,Eng,{prefix + '0' if i else ''},"
            ",Europe/Paris,2020-01-06," for i in reversed(range(count))]
    return csv_of(*rows, *extra).encode()


def _employee_events(published: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What events say of the employees, without the ids each import draws."""
    said = []
    for event in published:
        employee = dict(event["data"]["employee"])
        employee.pop("employee_id")
        employee["manager_id"] = employee["manager_id"] is not None
        employee["manager_chain"] = len(employee["manager_chain"])
        said.append(employee)
    return sorted(said, key=lambda e: str(e["external_id"]))


async def test_a_gzip_upload_gives_the_report_and_events_of_the_plain_one(
    start_service: Callable[..., Any], nats_server: Any, token: Callable[..., str],
    databases: DatabaseFactory,
) -> None:
    body = people_csv(300, "bad,not-an-email,B,D,,3,Eng,,,,,")
    subject = "mentoring.employee.updated"
    answers = []
    # Each upload into a fresh enrolment; both publish to this test's one stream.
    for headers, content in ((CSV, body), (GZIP_CSV, gzip.compress(body))):
        async with start_service("enrolment", database_url=databases.new(
                f"enrolment-{len(answers)}")) as running, \
                running.client(token("hris")) as client:
            # Streamed in small pieces, as a slow HRIS link delivers it.
            answers.append(await client.post("/api/v1/employees/import", headers=headers,
                                             content=_pieces(content, 997)))
            stream = await wait_until(lambda: _at_least(
                published(nats_server.url, subject), 300 * len(answers)))
    plain, compressed = answers
    assert compressed.status_code == plain.status_code == 200, compressed.text
    assert compressed.json() == plain.json()
    assert plain.json()["created"] == 300 and plain.json()["rejected"] == 1
    assert len(stream) == 600
    assert _employee_events(stream[300:]) == _employee_events(stream[:300])


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


async def test_the_size_limit_counts_the_decompressed_bytes_and_a_bomb_writes_nothing(
    start_service: Callable[..., Any], token: Callable[..., str], events: Callable[[str], Any],
) -> None:
    limit = 40_000
    fits = people_csv(400)
    assert len(fits) < limit < len(fits) * 2
    over = fits + people_csv(400, prefix="q").split(b"\n", 1)[1]
    bomb = gzip.compress(fits + b"\n" * (200 * limit))  # blank lines are skipped
    assert len(gzip.compress(over)) < limit and len(bomb) < limit // 2
    async with start_service("enrolment", import_max_bytes=limit) as running, \
            running.client(token("hris")) as client:
        refused = [await client.post("/api/v1/employees/import", content=body,
                                     headers=GZIP_CSV) for body in (bomb, gzip.compress(over))]
        for response in refused:
            assert response.status_code == 413, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["field"] == "body"
            assert response.json()["type"].endswith("/payload-too-large")
        # Nothing of them was written: the file that fits is new in full.
        imported = await client.post("/api/v1/employees/import", content=gzip.compress(fits),
                                     headers=GZIP_CSV)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 400
    published = await wait_until(lambda: _at_least(events("mentoring.employee.updated"), 400))
    assert len(published) == 400


async def test_a_corrupt_gzip_is_a_400_and_an_unknown_encoding_a_415(
    hris: httpx.AsyncClient, events: Callable[[str], Any],
) -> None:
    packed = gzip.compress(people_csv(50))
    for broken in (b"not gzip at all", packed[:-9], packed[:30] + b"\xff" * 8 + packed[38:]):
        response = await hris.post("/api/v1/employees/import", content=broken,
                                   headers=GZIP_CSV)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == "body"
        assert response.json()["type"].endswith("/malformed-body")
    brotli = await hris.post("/api/v1/employees/import", content=packed,
                             headers={"content-type": "text/csv", "content-encoding": "br"})
    assert brotli.status_code == 415
    assert brotli.json()["field"] == "content-encoding"
    assert brotli.headers["accept-encoding"] == "gzip"
    assert await events("mentoring.employee.updated") == []


async def test_the_answer_says_where_the_time_went(hris: httpx.AsyncClient) -> None:
    imported = await hris.post("/api/v1/employees/import", content=gzip.compress(
        people_csv(20)), headers=GZIP_CSV)
    refused = await hris.post("/api/v1/employees/import",
                              content=ndjson(person("x", email="nope")), headers=NDJSON)

    assert (imported.status_code, refused.status_code) == (200, 422)
    for answer, phases in ((imported, ["read", "parse", "apply", "commit"]),
                           (refused, ["read", "parse", "apply"])):
        timing = [part.strip().split(";dur=") for part in
                  answer.headers["server-timing"].split(",")]
        assert [name for name, _ in timing] == phases
        assert all(float(milliseconds) >= 0 for _, milliseconds in timing)


async def test_the_import_writes_with_a_large_page_cache_on_sqlite(
    enrolment: Running, hris: httpx.AsyncClient,
) -> None:
    """Its inserts run inside `bulk_page_cache` (SQLite), which ends before the commit."""
    with statements(enrolment.app.state.engine) as seen:
        response = await hris.post("/api/v1/employees/import", headers=CSV,
                                   content=csv_of("a,a@corp.example,Ann,Doe,,5,Sales,,,"
                                                  "Europe/Paris,2020-01-06,"))
    assert response.status_code == 200, response.text
    pragmas = [i for i, sql in enumerate(seen) if sql.startswith("PRAGMA cache_size=")]
    inserts = [i for i, sql in enumerate(seen)
               if sql.startswith(("INSERT INTO enrolment_employee", "INSERT INTO outbox_event"))]
    if on_postgres():
        assert pragmas == []
    else:
        assert len(pragmas) == 2 and inserts
        assert pragmas[0] < min(inserts) and max(inserts) < pragmas[1]


async def test_one_email_per_active_employee_across_the_import_and_scim(
    hris: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    scim_headers = {"content-type": "application/scim+json"}
    sam = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
           "userName": "sam@corp.example", "externalId": "sam",
           "name": {"givenName": "Sam", "familyName": "Doe"},
           "emails": [{"value": "sam@corp.example", "primary": True}]}
    assert (await hris.post("/scim/v2/Users", json=sam, headers=scim_headers)
            ).status_code == 201
    first = await hris.post("/api/v1/employees/import", headers=NDJSON,
                            content=ndjson(person("ana"), person("bob")))
    assert first.json()["created"] == 2
    body = ndjson(
        person("cleo", email="ANA@corp.example"),       # another's e-mail, any case
        person("dan", email="dan@corp.example"),
        person("eve", email="Dan@corp.example"),        # an earlier row's
        person("fay", email="sam@corp.example"),        # a SCIM user's userName
        person("ana", email="ana@corp.example"),        # her own: fine
    )
    report = (await hris.post("/api/v1/employees/import", content=body,
                              headers=NDJSON)).json()
    assert report["created"] == 1 and report["unchanged"] == 1, report
    rejected = {e["row"]: e for e in report["errors"]}
    assert {row: e["field"] for row, e in rejected.items()} == {
        1: "email", 3: "email", 4: "email"}
    assert "'ana'" in rejected[1]["reason"] and "row 2" in rejected[3]["reason"]
    assert "'sam'" in rejected[4]["reason"]
    # A leaver's e-mail is free again.
    left = (date.today() - timedelta(days=1)).isoformat()
    await hris.post("/api/v1/employees/import", headers=NDJSON,
                    content=ndjson(person("bob", leave_date=left)))
    again = await hris.post("/api/v1/employees/import", headers=NDJSON,
                            content=ndjson(person("bob2", email="bob@corp.example")))
    assert again.json()["created"] == 1, again.text
    # SCIM answers 409 for an imported employee's e-mail, as a userName or an e-mail.
    for user_name, emails in (("ana@corp.example", []),
                              ("ana2@corp.example", [{"value": "Ana@corp.example"}])):
        taken = {**sam, "userName": user_name, "externalId": "other", "emails": emails}
        answer = await hris.post("/scim/v2/Users", json=taken, headers=scim_headers)
        assert answer.status_code == 409 and answer.json()["scimType"] == "uniqueness"
    found = (await hris.get("/scim/v2/Users",
                            params={"filter": 'userName eq "ana@corp.example"'})).json()
    assert found["totalResults"] == 1


async def test_every_error_of_a_row_is_reported_and_a_rejected_manager_is_named(
    hris: httpx.AsyncClient,
) -> None:
    future = (date.today() + timedelta(days=30)).isoformat()
    body = csv_of(
        "B001,boss@corp.example,Big,Boss,,9,Eng,,,Europe/Paris,2020-01-01,",
        "B003,not-an-email,Mid,Boss,,99,Eng,B001,,Mars/Olympus,,",
        "B007,rep@corp.example,Re,Port,,3,Eng,B003,,Europe/Paris,2021-01-01,",
        f"B008,self@corp.example,Se,Lf,,3,Eng,B008,,Europe/Paris,{future},",
    )
    response = await hris.post("/api/v1/employees/import", content=body, headers=CSV)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 1 and report["rejected"] == 3
    by_row: dict[int, list[tuple[str, str]]] = {}
    for error in report["errors"]:
        by_row.setdefault(error["row"], []).append((error["field"], error["reason"]))
    assert sorted(field for field, _ in by_row[3]) == ["email", "job_level", "time_zone"]
    assert by_row[4] == [("manager_external_id", "manager B003 was rejected: row 3")]
    assert sorted(field for field, _ in by_row[5]) == ["hire_date", "manager_external_id"]
