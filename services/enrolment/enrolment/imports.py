"""Bulk employee import: parse an HR export and apply it set-based.

The whole file is validated in memory, managers are resolved within the file
whatever the row order, and the changes land in a handful of bulk statements
(one insert, one update, one outbox insert) instead of a query per row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import events, repository
from enrolment.models import (
    IMPORT_COLUMNS,
    REQUIRED_IMPORT_COLUMNS,
    EmployeeRecord,
    ImportReport,
    RejectedRow,
    new_id,
)
from upward_common.events import utcnow
from upward_common.problems import Problem

Row = tuple[int, Mapping[str, Any]]

CSV = "text/csv"
NDJSON = "application/x-ndjson"
JSON = "application/json"

# Columns the import owns; everything else on an employee (SCIM attributes, user name) is kept.
_COLUMN_OF_FIELD = {
    "email": "email",
    "given_name": "given_name",
    "family_name": "family_name",
    "job_title": "job_title",
    "job_level": "job_level",
    "department": "department",
    "location": "location",
    "time_zone": "time_zone",
    "hire_date": "hire_on",
    "leave_date": "leave_on",
}
_COMPARED = (*_COLUMN_OF_FIELD.values(), "active", "manager_id")


def parse(body: bytes, media_type: str, *, limit: int, what: str = "employee") -> list[Row]:
    """Rows of a CSV (header row; row 2 is the first record), NDJSON or JSON array body."""
    if len(body) > limit:
        raise Problem(413, f"The file is larger than the {limit} byte limit", field="body",
                      kind="payload-too-large")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"The file is not UTF-8 text (byte {exc.start})", field="body",
                      kind="malformed-body") from exc
    if media_type == CSV:
        return _parse_csv(text)
    if media_type == NDJSON:
        return _parse_ndjson(text, what)
    if media_type == JSON:
        return _parse_json(text, what)
    raise Problem(415, f"Send {CSV}, {NDJSON} or {JSON}", field="content-type",
                  kind="unsupported-media-type")


def _malformed(row: int, field: str, detail: str) -> Problem:
    return Problem(400, f"Row {row}: {detail}", field=field, kind="malformed-body",
                   errors=[{"row": row, "field": field, "message": detail}])


def _parse_csv(text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise _malformed(1, "body", f"the header is not valid CSV ({exc})") from exc
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        raise _malformed(1, unknown[0], f"unknown column {unknown[0]!r}; expected some of "
                                        f"{', '.join(IMPORT_COLUMNS)}")
    missing = [c for c in REQUIRED_IMPORT_COLUMNS if c not in header]
    if missing:
        raise _malformed(1, missing[0], f"the required column {missing[0]!r} is missing")
    duplicated = {h for h in header if header.count(h) > 1}
    if duplicated:
        name = sorted(duplicated)[0]
        raise _malformed(1, name, f"the column {name!r} appears twice")
    rows: list[Row] = []
    width = len(header)
    try:
        for cells in reader:
            number = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != width:
                raise _malformed(number, "body",
                                 f"{len(cells)} cells where the header has {width}")
            # An empty cell clears the value: the export says the field is now blank.
            rows.append((number, {k: (v if v != "" else None)
                                  for k, v in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise _malformed(reader.line_num, "body", f"not valid CSV ({exc})") from exc
    return rows


def _parse_ndjson(text: str, what: str) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _malformed(number, "body", f"not valid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise _malformed(number, "body", f"expected one {what} object per line")
        rows.append((number, value))
    return rows


def _parse_json(text: str, what: str) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Problem(400, f"The body is not valid JSON ({exc.msg}, line {exc.lineno})",
                      field="body", kind="malformed-body") from exc
    if not isinstance(data, list):
        raise Problem(422, f"Expected a JSON array of {what} records", field="body")
    for number, value in enumerate(data, start=1):
        if not isinstance(value, dict):
            raise _malformed(number, "body", f"expected a {what} object")
    return list(enumerate(data, start=1))


@lru_cache(maxsize=1024)
def known_time_zone(name: str) -> bool:
    """Whether `name` is an IANA zone (cached: an export repeats a handful of zones)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def erased_key(external_id: str) -> str:
    """What an erased employee's external id becomes: a one-way key, so a re-send is caught."""
    return "erased:" + hashlib.sha256(external_id.encode()).hexdigest()[:40]


def first_error(exc: ValidationError, expected: Sequence[str] = ()) -> tuple[str, str]:
    """The first problem of a record as (field, reason)."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "row"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field" + (f"; expected some of {', '.join(expected)}"
                                     if expected else "")
    return field, message.removeprefix("Value error, ")


def validate_rows(
    rows: Iterable[Row], report: ImportReport, today: date
) -> dict[str, tuple[int, EmployeeRecord]]:
    """Valid records by external id; every other row goes to the report with its field."""
    records: dict[str, tuple[int, EmployeeRecord]] = {}
    for number, raw in rows:
        try:
            record = EmployeeRecord.model_validate(raw)
        except ValidationError as exc:
            field, reason = first_error(exc, IMPORT_COLUMNS)
            report.errors.append(RejectedRow(row=number, field=field, reason=reason))
            continue
        problem = _row_problem(record, today)
        if problem is not None:
            report.errors.append(RejectedRow(row=number, field=problem[0], reason=problem[1]))
            continue
        if record.external_id in records:
            first = records[record.external_id][0]
            report.errors.append(RejectedRow(
                row=number, field="external_id",
                reason=f"duplicate external_id {record.external_id!r} (first on row {first})"))
            continue
        records[record.external_id] = (number, record)
    return records


def _row_problem(record: EmployeeRecord, today: date) -> tuple[str, str] | None:
    if record.time_zone is not None and not known_time_zone(record.time_zone):
        return "time_zone", f"unknown IANA time zone {record.time_zone!r}"
    if record.hire_date is not None and record.hire_date > today:
        return "hire_date", f"hire date {record.hire_date} is in the future"
    if (record.leave_date is not None and record.hire_date is not None
            and record.leave_date < record.hire_date):
        return "leave_date", "leave date is before the hire date"
    if record.manager_external_id == record.external_id:
        return "manager_external_id", "an employee cannot be their own manager"
    return None


def resolve_managers(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
) -> dict[str, str]:
    """Rejection reason by external id: unknown managers and reporting cycles.

    `known_manager` maps every stored employee's external id to its manager's
    external id. Rows of the file override stored rows; a rejected row leaves
    the stored one in place, so its reports may still point at it.
    """
    rejected: dict[str, str] = {}
    while True:
        changed = False
        for external_id, (_, record) in records.items():
            if external_id in rejected:
                continue
            manager = record.manager_external_id
            if not manager or manager in known_manager:
                continue
            if manager not in records:
                rejected[external_id] = f"manager {manager!r} is neither in this file nor known"
                changed = True
            elif manager in rejected:
                row = records[manager][0]
                rejected[external_id] = f"manager {manager!r} was rejected (row {row})"
                changed = True
        for external_id in _cycles(records, known_manager, rejected):
            path = " -> ".join(_cycle_path(external_id, records, known_manager, rejected))
            rejected[external_id] = f"reporting lines loop: {path}"
            changed = True
        if not changed:
            return rejected


def _parent(
    external_id: str,
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> str | None:
    if external_id in records and external_id not in rejected:
        record = records[external_id][1]
        if "manager_external_id" in record.model_fields_set:
            return record.manager_external_id or None
    return known_manager.get(external_id)


def _cycles(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> list[str]:
    """File rows on a reporting loop (stored data has none, so every loop goes through the file)."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: known to end at the top
    looping: list[str] = []
    for start in records:
        if start in rejected or start in state:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = _parent(node, records, known_manager, rejected)
        if node is not None and state[node] == 1:
            loop = path[path.index(node):]
            looping.extend(n for n in loop if n in records)
        for visited in path:
            state[visited] = 2
    return looping


def _cycle_path(
    start: str,
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> list[str]:
    path = [start]
    node = _parent(start, records, known_manager, rejected)
    while node is not None and node != start and len(path) < 20:
        path.append(node)
        node = _parent(node, records, known_manager, rejected)
    path.append(start)
    return path


def manager_chains(parents: Mapping[str, str | None], ids: Iterable[str]) -> dict[str, list[str]]:
    """Manager chains (direct manager first) of `ids`, memoised over the whole tree."""
    chains: dict[str, list[str]] = {}
    for start in ids:
        walk: list[str] = []
        node: str | None = start
        while node is not None and node not in chains:
            walk.append(node)
            node = parents.get(node)
            if node in walk:  # stored data should never loop; stop rather than spin
                node = None
        chain = chains[node] if node is not None else []
        # `walk` ends just below `node`; build the chains bottom-up from there.
        base = ([node, *chain] if node is not None else [])
        for member in reversed(walk):
            chains[member] = base
            base = [member, *base]
    return {i: chains[i] for i in ids}


@dataclass
class _Planned:
    inserts: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    changed_ids: list[str]


async def import_employees(session: AsyncSession, rows: Sequence[Row]) -> ImportReport:
    """Upsert employees by external id; rejected rows are reported and write nothing."""
    now = utcnow()
    today = now.date()
    report = ImportReport()
    records = validate_rows(rows, report, today)

    stored = await repository.all_employee_rows(session)
    by_external = {row["external_id"]: row for row in stored}
    ext_of_id = {row["id"]: row["external_id"] for row in stored}
    known_manager = {row["external_id"]: ext_of_id.get(row["manager_id"] or "")
                     for row in stored}

    erased = {row["external_id"] for row in stored if row["erased_at"] is not None}
    if erased:
        for external_id in list(records):
            if erased_key(external_id) in erased:
                number = records.pop(external_id)[0]
                report.errors.append(RejectedRow(
                    row=number, field="external_id",
                    reason="this employee was erased on request; remove them from the export"))

    for external_id, reason in resolve_managers(records, known_manager).items():
        number = records.pop(external_id)[0]
        report.errors.append(RejectedRow(row=number, field="manager_external_id", reason=reason))

    plan = _plan(records, by_external, now, today, report)
    parents: dict[str, str | None] = {row["id"]: row["manager_id"] for row in stored}
    old_parents = dict(parents)
    for values in plan.inserts:
        parents[values["id"]] = values["manager_id"]
    for values in plan.updates:
        parents[values["id"]] = values["manager_id"]

    # Reports of someone who moved get a new chain: they changed for matching too.
    moved = [v["id"] for v in plan.updates if old_parents.get(v["id"]) != v["manager_id"]]
    event_ids = dict.fromkeys(plan.changed_ids)
    if moved:
        children: dict[str, list[str]] = {}
        for child, parent in parents.items():
            if parent is not None:
                children.setdefault(parent, []).append(child)
        stack = list(moved)
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in event_ids:
                    event_ids[child] = None
                stack.append(child)

    # Managers first, so each insert's manager row already exists.
    chains = manager_chains(parents, list(parents))
    plan.inserts.sort(key=lambda v: len(chains[v["id"]]))
    await repository.insert_employee_rows(session, plan.inserts)
    await repository.update_employee_rows(session, plan.updates)

    current = {row["id"]: dict(row) for row in stored}
    for values in (*plan.inserts, *plan.updates):
        current.setdefault(values["id"], {}).update(values)
    await events.employees_updated_bulk(
        session, [(current[i], chains[i]) for i in event_ids], occurred_at=now
    )
    report.rejected = len(report.errors)
    report.errors.sort(key=lambda e: e.row)
    return report


def _plan(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    by_external: Mapping[str, Mapping[str, Any]],
    now: Any,
    today: date,
    report: ImportReport,
) -> _Planned:
    ids = {ext: row["id"] for ext, row in by_external.items()}
    for external_id in records:
        ids.setdefault(external_id, new_id())
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed: list[str] = []
    for external_id, (_, record) in records.items():
        given = record.model_fields_set
        values: dict[str, Any] = {
            column: getattr(record, field)
            for field, column in _COLUMN_OF_FIELD.items() if field in given
        }
        if "manager_external_id" in given:
            manager = record.manager_external_id
            values["manager_id"] = ids[manager] if manager else None
        if record.active is not None:
            values["active"] = record.active
        elif "leave_date" in given:
            values["active"] = True
        # A leaver is kept, marked inactive from their leave date on.
        if record.leave_date is not None and record.leave_date <= today:
            values["active"] = False
        row = by_external.get(external_id)
        if row is None:
            full = {
                "id": ids[external_id], "external_id": external_id, "user_name": None,
                "job_title": None, "job_level": None, "department": None, "manager_id": None,
                "location": None, "time_zone": None, "hire_on": None, "leave_on": None,
                "active": True, "scim_attributes": None, "version": 1, "erased_at": None,
                "deprovisioned_at": None,
                "created_at": now, "updated_at": now,
            }
            full.update(values)
            inserts.append(full)
            changed.append(full["id"])
            report.created += 1
            continue
        if any(row[k] != v for k, v in values.items()):
            merged = {k: row[k] for k in _COMPARED}
            merged.update(values)
            merged.update(id=row["id"], version=row["version"] + 1, updated_at=now)
            updates.append(merged)
            changed.append(row["id"])
            report.updated += 1
        else:
            report.unchanged += 1
    return _Planned(inserts, updates, changed)
