"""Bulk employee import: parse an HR export and apply it set-based.

The whole file is validated in memory, managers are resolved within the file
whatever the row order, and the changes land in a handful of bulk statements
(one insert, one update, one bulk write of the events) instead of a query per row.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import zlib
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import events, repository
from enrolment.models import (
    CORE_EMPLOYEE_RECORDS,
    EMPLOYEE_RECORDS,
    IMPORT_COLUMNS,
    REQUIRED_IMPORT_COLUMNS,
    EmployeeRecord,
    ImportReport,
    RejectedRow,
    new_ids,
)
from upward_common.db import bulk_page_cache
from upward_common.events import utcnow
from upward_common.limits import valid_time_zone
from upward_common.problems import Problem, message_of

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
_INSERT_COLUMNS = (
    "id", "external_id", "user_name", "email", "given_name", "family_name", "job_title",
    "job_level", "department", "manager_id", "location", "time_zone", "hire_on", "leave_on",
    "active", "scim_attributes", "version", "erased_at", "deprovisioned_at", "created_at",
    "updated_at",
)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a bulk import allocates.

    An export makes hundreds of thousands of small objects that all live until
    the import ends; each collector pass would walk them all again, for
    nothing. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


GZIP_ENCODINGS = ("gzip", "x-gzip")
# Compressed bytes inflated at most this far per step: a bomb never grows past
# the limit in memory before it is refused.
_INFLATE_STEP = 1024 * 1024


def too_large(limit: int) -> Problem:
    return Problem(413, f"The file is larger than the {limit} byte limit", field="body",
                   kind="payload-too-large")


async def read_body(chunks: AsyncIterable[bytes], *, encoding: str | None,
                    limit: int) -> bytes:
    """The request body as sent, or inflated if gzip; refused past `limit` bytes of it.

    The limit counts the bytes the import will parse (the decompressed ones), as
    they arrive: a body is refused at its first byte over, never held whole.
    """
    coding = (encoding or "identity").strip().lower()
    if coding in GZIP_ENCODINGS:
        return await _inflate(chunks, limit)
    if coding != "identity":
        raise Problem(415, f"Content-Encoding {coding[:40]!r} is not supported: send the file "
                           "as it is or gzip-compressed", field="content-encoding",
                      kind="unsupported-media-type", headers={"accept-encoding": "gzip"})
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _corrupt(detail: str) -> Problem:
    return Problem(400, f"The gzip-compressed body cannot be read ({detail})", field="body",
                   kind="malformed-body")


async def _inflate(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    # 16 + MAX_WBITS: a gzip header and trailer (CRC and length checked) around deflate.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    started = False
    try:
        async for chunk in chunks:
            data = chunk
            while data:
                started = True
                if inflater.eof:
                    # RFC 1952 allows several members one after another (pigz, appends).
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out = inflater.decompress(data, _INFLATE_STEP)
                size += len(out)
                if size > limit:
                    raise too_large(limit)
                parts.append(out)
                data = inflater.unconsumed_tail or inflater.unused_data
        if not started:
            return b""
        while not inflater.eof:  # what an input step left inside the inflater
            out = inflater.decompress(b"", _INFLATE_STEP)
            if not out:
                raise _corrupt("it ends before its gzip trailer")
            size += len(out)
            if size > limit:
                raise too_large(limit)
            parts.append(out)
    except zlib.error as exc:
        raise _corrupt(str(exc)) from exc
    return b"".join(parts)


def parse(body: bytes, media_type: str, *, limit: int, what: str = "employee") -> list[Row]:
    """Rows of a CSV (header row; row 2 is the first record), NDJSON or JSON array body."""
    with paused_gc():
        return _parse(body, media_type, limit=limit, what=what)


def _parse(body: bytes, media_type: str, *, limit: int, what: str) -> list[Row]:
    if len(body) > limit:
        raise too_large(limit)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"The file is not UTF-8 text (byte {exc.start})", field="body",
                      kind="malformed-body") from exc
    if media_type not in (CSV, NDJSON, JSON):
        raise Problem(415, f"Send {CSV}, {NDJSON} or {JSON}", field="content-type",
                      kind="unsupported-media-type")
    if not text.strip():
        # Nothing at all, not even a CSV header: a broken export, not one of no one.
        raise Problem(422, "The file is empty" + (": a CSV import starts with its header row"
                                                  if media_type == CSV else ""),
                      field="header" if media_type == CSV else "body",
                      kind="validation-error", title="Invalid input")
    if media_type == CSV:
        return _parse_csv(text)
    if media_type == NDJSON:
        return _parse_ndjson(text, what)
    return _parse_json(text, what)


def _malformed(row: int, field: str, detail: str) -> Problem:
    return Problem(400, f"Row {row}: {detail}", field=field, kind="malformed-body",
                   errors=[{"row": row, "field": field, "message": detail}])


def _parse_csv(text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:  # only blank space: refused before, kept for safety
        raise _malformed(1, "header", "the header row is missing") from exc
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
            row: dict[str, Any] = dict(zip(header, cells, strict=True))
            if "" in cells:
                # An empty cell clears the value: the export says the field is now blank.
                for index, cell in enumerate(cells):
                    if not cell:
                        row[header[index]] = None
            rows.append((number, row))
    except csv.Error as exc:
        raise _malformed(reader.line_num, "body", f"not valid CSV ({exc})") from exc
    return rows


_TOO_DEEP = "JSON nested too deep to read (a record is an object of plain fields)"


def _parse_ndjson(text: str, what: str) -> list[Row]:
    rows: list[Row] = []
    # Lines end at "\n" (and "\r\n") only: U+2028, U+2029 or U+0085 are valid inside
    # a JSON string, where str.splitlines() would cut the record.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _malformed(number, "body", f"not valid JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise _malformed(number, "body", _TOO_DEEP) from exc
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
    except RecursionError as exc:
        raise Problem(400, f"The body is not valid: {_TOO_DEEP}", field="body",
                      kind="malformed-body") from exc
    if not isinstance(data, list):
        raise Problem(422, f"Expected a JSON array of {what} records", field="body")
    for number, value in enumerate(data, start=1):
        if not isinstance(value, dict):
            raise _malformed(number, "body", f"expected a {what} object")
    return list(enumerate(data, start=1))


def known_time_zone(name: str) -> bool:
    """Whether `name` is an IANA zone; a tzdata folder (`Europe`) is none."""
    try:
        valid_time_zone(name)
    except ValueError:
        return False
    return True


def erased_key(external_id: str) -> str:
    """What an erased employee's external id becomes: a one-way key, so a re-send is caught."""
    return "erased:" + hashlib.sha256(external_id.encode()).hexdigest()[:40]


_FIELD_SHOWN = 100


def first_error(exc: ValidationError, expected: Sequence[str] = ()) -> tuple[str, str]:
    """The first problem of a record as (field, reason)."""
    return _describe(exc.errors()[0], expected)


def _describe(error: Any, expected: Sequence[str], skip: int = 0) -> tuple[str, str]:
    # A field name comes from the client: an unknown key may be of any length.
    loc = [str(part)[:_FIELD_SHOWN] for part in error["loc"][skip:]]
    field = ".".join(loc) or "row"
    message = message_of(error)
    message = message[:1].lower() + message[1:]  # a row's errors read as one sentence
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown field" + (f"; expected some of {', '.join(expected)}"
                                     if expected else "")
    elif kind == "string_pattern_mismatch" and loc[-1:] == ["email"]:
        message = "not a valid email address"
    elif kind in ("missing", "string_type") and error.get("input") is None:
        message = "required"
    return field, message


def validate_rows(
    rows: Sequence[Row], report: ImportReport, today: date,
    rejected: dict[str, int] | None = None,
) -> dict[str, tuple[int, EmployeeRecord]]:
    """Valid records by external id; every other row goes to the report with each problem.

    `rejected` collects the external id (when the row has a usable one) and row of
    every rejected row, so its reports can say their manager was rejected.
    """
    raw = [row for _, row in rows]
    numbers = [number for number, _ in rows]
    refused = {} if rejected is None else rejected
    validated, failed = _validated(raw)
    for index, problems in failed.items():
        for field, reason in problems:
            report.errors.append(RejectedRow(row=numbers[index], field=field, reason=reason))
        external_id = raw[index].get("external_id")
        if isinstance(external_id, str) and external_id:
            refused.setdefault(external_id, numbers[index])
    kept = [i for i in range(len(raw)) if i not in failed] if failed else range(len(raw))
    records: dict[str, tuple[int, EmployeeRecord]] = {}
    for index, record in zip(kept, validated, strict=True):
        number = numbers[index]
        problems = _row_problems(record, today)
        if problems:
            for field, reason in problems:
                report.errors.append(RejectedRow(row=number, field=field, reason=reason))
            refused.setdefault(record["external_id"], number)
            continue
        external_id = record["external_id"]
        if external_id in records:
            first = records[external_id][0]
            report.errors.append(RejectedRow(
                row=number, field="external_id",
                reason=f"duplicate external_id {external_id!r} (first on row {first})"))
            continue
        records[external_id] = (number, record)
    return records


def _validated(raw: Sequence[Mapping[str, Any]]
               ) -> tuple[list[EmployeeRecord], dict[int, list[tuple[str, str]]]]:
    """The valid records in order, and every problem of each other row by its index.

    One pass of the core-only model (`CORE_EMPLOYEE_RECORDS`) takes a clean file.
    The rows it refuses go through the real one (`EMPLOYEE_RECORDS`), which names
    each problem, or takes a row after all (the core-only model refuses a little
    more); the rest pass the core-only model again (a row's validity does not
    depend on the other rows).
    """
    try:
        return CORE_EMPLOYEE_RECORDS.validate_python(raw), {}
    except ValidationError as exc:
        suspects = sorted({int(error["loc"][0]) for error in exc.errors()})
    failed: dict[int, list[tuple[str, str]]] = {}
    try:
        checked = EMPLOYEE_RECORDS.validate_python([raw[i] for i in suspects])
    except ValidationError as exc:
        for error in exc.errors():
            failed.setdefault(suspects[int(error["loc"][0])], []).append(
                _describe(error, IMPORT_COLUMNS, skip=1))
        taken = [i for i in suspects if i not in failed]
        checked = EMPLOYEE_RECORDS.validate_python([raw[i] for i in taken])
    else:
        taken = suspects
    suspect = set(suspects)
    others = [i for i in range(len(raw)) if i not in suspect]
    passed = dict(zip(others, CORE_EMPLOYEE_RECORDS.validate_python([raw[i] for i in others]),
                      strict=True))
    passed.update(zip(taken, checked, strict=True))
    return [passed[i] for i in range(len(raw)) if i in passed], failed


_EMPLOYEE_RECORD: TypeAdapter[EmployeeRecord] = TypeAdapter(EmployeeRecord)


def employee_problems(record: Mapping[str, Any], today: date
                      ) -> tuple[EmployeeRecord | None, list[tuple[str, str]]]:
    """The one check of an employee both HRIS channels apply: the validated record, or
    every (field, reason) wrong with it, fields named as in the import's columns.

    The import runs a whole file through the same model (`EMPLOYEE_RECORDS`) and
    `_row_problems` at once; SCIM maps its resource to these columns and calls this:
    required fields, e-mail format, lengths, the job-level range, time zone, dates
    and the self-manager rule are the same on both. Manager existence and loops are
    checked against the mirror by each channel (within the file for the import).
    """
    try:
        validated = _EMPLOYEE_RECORD.validate_python(record)
    except ValidationError as exc:
        return None, [_describe(error, IMPORT_COLUMNS) for error in exc.errors()]
    problems = _row_problems(validated, today)
    return (None, problems) if problems else (validated, [])


def _row_problems(record: EmployeeRecord, today: date) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    hired, left = record.get("hire_date"), record.get("leave_date")
    if hired is not None and hired > today:
        problems.append(("hire_date", f"hire date {hired} is in the future"))
    elif left is not None and hired is not None and left < hired:
        problems.append(("leave_date", "leave date is before the hire date"))
    if record.get("manager_external_id") == record["external_id"]:
        problems.append(("manager_external_id", "an employee cannot be their own manager"))
    return problems


def _will_be_active(record: EmployeeRecord, today: date) -> bool:
    left = record.get("leave_date")
    return record.get("active") is not False and (left is None or left > today)


def reject_taken_emails(
    records: dict[str, tuple[int, EmployeeRecord]],
    stored: Sequence[Mapping[str, Any]],
    report: ImportReport,
    today: date,
    rejected_rows: dict[str, int],
) -> None:
    """One e-mail per active employee, whichever channel wrote it (SCIM answers 409).

    An active row's e-mail may be neither another active employee's e-mail nor
    anyone's SCIM userName (what `userName eq` finds), nor an earlier row's.
    """
    owner: dict[str, str] = {}
    for row in stored:
        if row["erased_at"] is not None:
            continue
        if row["user_name"]:
            owner[row["user_name"].lower()] = row["external_id"]
        if not row["email"] or not row["active"] or row["deprovisioned_at"] is not None:
            continue
        # A row of the file replaces its stored e-mail (keeping it keeps it); a leaver's frees it.
        email = row["email"].lower()
        in_file = records.get(row["external_id"])
        if in_file is None or (in_file[1]["email"].lower() == email
                               and _will_be_active(in_file[1], today)):
            owner.setdefault(email, row["external_id"])
    first_row: dict[str, int] = {}
    for external_id, (number, record) in list(records.items()):
        if not _will_be_active(record, today):
            continue
        email = record["email"].lower()
        holder = owner.get(email)
        if holder is not None and holder != external_id:
            reason = f"e-mail {record['email']!r} belongs to employee {holder!r}"
        elif email in first_row:
            reason = f"e-mail {record['email']!r} is also on row {first_row[email]}"
        else:
            first_row[email] = number
            continue
        del records[external_id]
        rejected_rows.setdefault(external_id, number)
        report.errors.append(RejectedRow(row=number, field="email", reason=reason))


def resolve_managers(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected_rows: Mapping[str, int] | None = None,
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
            manager = record.get("manager_external_id")
            if not manager or manager in known_manager:
                continue
            if manager not in records and rejected_rows and manager in rejected_rows:
                rejected[external_id] = (f"manager {manager} was rejected: "
                                         f"row {rejected_rows[manager]}")
                changed = True
            elif manager not in records:
                rejected[external_id] = f"manager {manager!r} is neither in this file nor known"
                changed = True
            elif manager in rejected:
                row = records[manager][0]
                rejected[external_id] = f"manager {manager} was rejected: row {row}"
                changed = True
        parents = _parents(records, known_manager, rejected)
        for external_id in _cycles(records, parents, rejected):
            path = " -> ".join(_cycle_path(external_id, records, known_manager, rejected))
            rejected[external_id] = f"reporting lines loop: {path}"
            changed = True
        if not changed:
            return rejected


def _parents(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> dict[str, str | None]:
    """Each employee's manager (external ids) once the file is applied: `_parent` of all.

    One dict for the walks over every row, instead of a call a step.
    """
    parents = dict(known_manager)
    for external_id, (_, record) in records.items():
        if "manager_external_id" in record and external_id not in rejected:
            parents[external_id] = record["manager_external_id"] or None
    return parents


def _parent(
    external_id: str,
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> str | None:
    if external_id in records and external_id not in rejected:
        record = records[external_id][1]
        if "manager_external_id" in record:
            return record["manager_external_id"] or None
    return known_manager.get(external_id)


def _cycles(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    parents: Mapping[str, str | None],
    rejected: Mapping[str, str],
) -> list[str]:
    """File rows on a reporting loop (stored data has none, so every loop goes through the file).

    `parents` are `_parents(records, known_manager, rejected)`.
    """
    state: dict[str, int] = {}  # 1: on the current walk, 2: known to end at the top
    looping: list[str] = []
    parent_of = parents.get
    for start in records:
        if start in rejected or start in state:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent_of(node)
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


def _depths(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    known_manager: Mapping[str, str | None],
) -> dict[str, int]:
    """How many managers above each file row (loops were rejected before)."""
    parent_of = _parents(records, known_manager, {}).get
    depth: dict[str, int] = {}
    for start in records:
        if start in depth:
            continue
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node not in depth and node not in seen:
            path.append(node)
            seen.add(node)
            node = parent_of(node)
        level = depth[node] if node is not None and node in depth else -1
        for member in reversed(path):
            level += 1
            depth[member] = level
    return depth


def manager_chains(parents: Mapping[str, str | None],
                   wanted: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The manager chain (direct manager first) of each `wanted` employee (default: all).

    `parents` maps every employee's id to their manager's. A manager who is not
    in it ends the chain. Each walk up stops at the first manager whose chain
    is known, so every chain is built once, and only the ones asked for (and
    their managers') are built: an import builds those of the events it emits.
    """
    chains: dict[str, list[str]] = {}
    # Stored data never loops; if it did, those employees (and everyone below) get
    # no chain rather than a hang.
    looping: set[str] = set()
    for start in parents if wanted is None else wanted:
        path: list[str] = []
        on_path: set[str] = set()
        node = start
        while node not in chains:
            parent = parents.get(node)
            if parent is None or parent not in parents:
                chains[node] = []
                break
            if node in on_path:
                looping.add(node)
                break
            path.append(node)
            on_path.add(node)
            node = parent
        if node in looping:
            looping.update(path)
            chains.update((member, []) for member in path)
            continue
        above, chain = node, chains[node]
        for member in reversed(path):
            chain = [above, *chain]
            chains[member] = chain
            above = member
    return chains


@dataclass
class _Planned:
    inserts: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    changed_ids: list[str]


async def import_employees(session: AsyncSession, rows: Sequence[Row]) -> ImportReport:
    """Upsert employees by external id; rejected rows are reported and write nothing."""
    with paused_gc():
        async with bulk_page_cache(session):
            return await _import_employees(session, rows)


async def _import_employees(session: AsyncSession, rows: Sequence[Row]) -> ImportReport:
    now = utcnow()
    today = now.date()
    report = ImportReport()
    rejected_rows: dict[str, int] = {}
    records = validate_rows(rows, report, today, rejected_rows)

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
                rejected_rows.setdefault(external_id, number)
                report.errors.append(RejectedRow(
                    row=number, field="external_id",
                    reason="this employee was erased on request; remove them from the export"))

    reject_taken_emails(records, stored, report, today, rejected_rows)
    for external_id, reason in resolve_managers(records, known_manager,
                                                 rejected_rows).items():
        number = records.pop(external_id)[0]
        report.errors.append(RejectedRow(row=number, field="manager_external_id", reason=reason))

    plan = _plan(records, by_external, now, today, report,
                 depth=_depths(records, known_manager))
    parents: dict[str, str | None] = {row["id"]: row["manager_id"] for row in stored}
    old_parents = dict(parents)
    old_active = {row["id"]: bool(row["active"]) for row in stored}
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

    chains = manager_chains(parents, event_ids)
    current: dict[str, Mapping[str, Any]] = {row["id"]: row for row in stored}
    for values in (*plan.inserts, *plan.updates):
        previous = current.get(values["id"])
        current[values["id"]] = {**previous, **values} if previous else values
    updated = [(current[i], chains[i]) for i in event_ids]
    await repository.insert_employee_rows(session, plan.inserts)
    await repository.update_employee_rows(session, plan.updates)
    # A leaver (deactivated, or their leave date reached) no longer takes part anywhere.
    leavers = await repository.participants_leave(
        session, [v["id"] for v in plan.updates
                  if not v["active"] and old_active.get(v["id"], False)], now)
    await events.employees_updated(session, updated, occurred_at=now)
    # After the departure itself, so matching ends the pairs as a departure.
    events.participants_left(session, leavers, now)
    report.rejected = len({e.row for e in report.errors})
    report.errors.sort(key=lambda e: e.row)
    return report


def _as_columns(values: dict[str, Any], ids: Mapping[str, str]) -> None:
    """Rename a record's file names to the columns' in place; the manager becomes an id."""
    if "hire_date" in values:
        values["hire_on"] = values.pop("hire_date")
    if "leave_date" in values:
        values["leave_on"] = values.pop("leave_date")
    if "manager_external_id" in values:
        manager = values.pop("manager_external_id")
        values["manager_id"] = ids[manager] if manager else None


def _plan(
    records: Mapping[str, tuple[int, EmployeeRecord]],
    by_external: Mapping[str, Mapping[str, Any]],
    now: Any,
    today: date,
    report: ImportReport,
    *,
    depth: Mapping[str, int],
) -> _Planned:
    ids = {ext: row["id"] for ext, row in by_external.items()}
    # New ids increase with depth: inserted in id order, every manager's row comes
    # before its reports' (foreign keys hold) and the indexes grow at their end.
    fresh = sorted((external_id for external_id in records if external_id not in ids),
                   key=depth.__getitem__)
    ids.update(zip(fresh, new_ids(len(fresh)), strict=True))
    new_rows: dict[str, dict[str, Any]] = {}
    updates: list[dict[str, Any]] = []
    changed: list[str] = []
    new_row: dict[str, Any] = dict.fromkeys(_INSERT_COLUMNS)
    new_row.update(active=True, version=1, created_at=now, updated_at=now)
    stored_values: dict[tuple[str, ...], Any] = {}
    for external_id, (_, record) in records.items():
        row = by_external.get(external_id)
        if row is None:
            # A new employee: the record's values go straight into a full row (the
            # validated record is ours), the file's names renamed to the columns'.
            full = new_row.copy()
            full.update(record)
            _as_columns(full, ids)
            if full["active"] is None:
                full["active"] = True
            # A leaver is kept, marked inactive from their leave date on.
            left = full["leave_on"]
            if left is not None and left <= today:
                full["active"] = False
            full["id"] = employee_id = ids[external_id]
            new_rows[external_id] = full
            changed.append(employee_id)
            continue
        # The validated record is ours: it becomes the column values in place.
        values: dict[str, Any] = dict(record)
        del values["external_id"]
        _as_columns(values, ids)
        if values.get("active") is None:
            values.pop("active", None)
            if "leave_on" in values:
                values["active"] = True
        left = values.get("leave_on")
        if left is not None and left <= today:
            values["active"] = False
        # The stored values of the same columns, in one C call (a file sets the same
        # columns on every row, so one getter serves them all).
        columns = tuple(values)
        stored = stored_values.get(columns)
        if stored is None:
            stored = stored_values[columns] = (itemgetter(*columns) if len(columns) > 1
                                               else lambda r, c=columns[0]: (r[c],))
        if stored(row) != tuple(values.values()):
            merged = {k: row[k] for k in _COMPARED}
            merged.update(values)
            merged.update(id=row["id"], version=row["version"] + 1, updated_at=now)
            updates.append(merged)
            changed.append(row["id"])
            report.updated += 1
        else:
            report.unchanged += 1
    # In id order, which is `fresh`'s.
    inserts = [new_rows[external_id] for external_id in fresh]
    report.created += len(inserts)
    return _Planned(inserts, updates, changed)
