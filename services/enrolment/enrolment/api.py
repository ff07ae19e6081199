"""Enrolment's HTTP API: thin routes over the service layer."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from enrolment import service
from enrolment.models import (
    EmployeePublic,
    ImportReport,
    ParticipantCreate,
    ParticipantPublic,
    ProgrammeCreate,
    ProgrammePublic,
)
from enrolment import repository
from upward_common.auth import CurrentUser, Role
from upward_common.db import SessionDep
from upward_common.problems import Problem

router = APIRouter(prefix="/api/v1")


async def _read_rows(request: Request) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV (header row; row 2 is the first record) or a JSON array / NDJSON body."""
    limit: int = request.app.state.settings.import_max_bytes
    body = await request.body()
    if len(body) > limit:
        raise Problem(413, f"The file is larger than the {limit} byte limit", field="body")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(400, "The file is not UTF-8 text", field="body") from exc
    if media == "text/csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for number, row in enumerate(reader, start=2):
            if None in row:
                raise Problem(400, f"Row {number} has more cells than the header", field="body",
                              errors=[{"row": number, "field": "body",
                                       "message": "more cells than header"}])
            rows.append((number, {k: (v if v != "" else None) for k, v in row.items()}))
        return rows
    if media == "application/x-ndjson":
        try:
            return [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1)
                    if line.strip()]
        except json.JSONDecodeError as exc:
            raise Problem(400, f"Line {exc.lineno} is not valid JSON", field="body") from exc
    if media == "application/json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Problem(400, "The body is not valid JSON", field="body") from exc
        if not isinstance(data, list):
            raise Problem(422, "Expected a JSON array of employee records", field="body")
        return list(enumerate(data, start=1))
    raise Problem(415, "Send text/csv, application/x-ndjson or application/json",
                  field="content-type")


@router.post("/employees/import", response_model=ImportReport)
async def import_employees(request: Request, session: SessionDep, user: CurrentUser) -> ImportReport:
    """Upsert employees from an HRIS export; rejected rows are reported and write nothing."""
    user.require(Role.HRIS, Role.HR_ADMIN)
    rows = await _read_rows(request)
    report = await service.import_employees(session, rows)
    await session.commit()
    return report


@router.get("/employees/{employee_id}", response_model=EmployeePublic)
async def get_employee(employee_id: str, session: SessionDep, user: CurrentUser) -> Any:
    """One employee: themselves, or anyone for admins."""
    return await service.get_employee(session, user=user, employee_id=employee_id)


@router.post("/programmes", response_model=ProgrammePublic, status_code=201)
async def create_programme(data: ProgrammeCreate, session: SessionDep, user: CurrentUser) -> Any:
    """Create a programme (HR admins and programme managers)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    programme = await service.create_programme(session, data=data)
    await session.commit()
    return programme


@router.get("/programmes", response_model=list[ProgrammePublic])
async def list_programmes(session: SessionDep, user: CurrentUser) -> Any:
    """Every programme."""
    return await repository.list_programmes(session)


@router.get("/programmes/{programme_id}", response_model=ProgrammePublic)
async def get_programme(programme_id: str, session: SessionDep, user: CurrentUser) -> Any:
    """One programme."""
    return await service.get_programme(session, programme_id=programme_id)


@router.post("/programmes/{programme_id}/participants", response_model=ParticipantPublic,
             status_code=201)
async def enrol(programme_id: str, data: ParticipantCreate, session: SessionDep,
                user: CurrentUser) -> Any:
    """Opt in to a programme as mentor (junior who teaches) or mentee (senior who learns)."""
    participant = await service.enrol(session, user=user, programme_id=programme_id, data=data)
    await session.commit()
    return participant


@router.get("/programmes/{programme_id}/participants", response_model=list[ParticipantPublic])
async def list_participants(programme_id: str, session: SessionDep, user: CurrentUser) -> Any:
    """A programme's participants (admins)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    await service.get_programme(session, programme_id=programme_id)
    return await repository.list_participants(session, programme_id)


@router.get("/participants/{participant_id}", response_model=ParticipantPublic)
async def get_participant(participant_id: str, session: SessionDep, user: CurrentUser) -> Any:
    """One participant: themselves, or anyone for admins."""
    return await service.get_participant(session, user=user, participant_id=participant_id)


class Withdrawal(BaseModel):
    reason: str | None = None


@router.post("/participants/{participant_id}/withdraw", response_model=ParticipantPublic)
async def withdraw(participant_id: str, data: Withdrawal, session: SessionDep,
                   user: CurrentUser) -> Any:
    """Leave a programme; the participant's pairs end downstream."""
    participant = await service.withdraw(session, user=user, participant_id=participant_id,
                                         reason=data.reason)
    await session.commit()
    return participant
