"""Enrolment's HTTP API: thin routes over the service layer."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from enrolment import cards, imports, repository, service
from enrolment.models import (
    EMPLOYEE_PAGE_MAX,
    EMPLOYEE_SEARCH_MAX,
    MAX_JOB_LEVEL,
    Employee,
    EmployeePage,
    EmployeePublic,
    ImportReport,
    InvitationCreate,
    InvitationPublic,
    Participant,
    ParticipantCard,
    ParticipantCreate,
    ParticipantImportReport,
    ParticipantPublic,
    ProgrammeCreate,
    ProgrammePublic,
    ProgrammeTransition,
    ProgrammeUpdate,
    SurveyAnswers,
    SurveyChange,
    SurveyVersionPublic,
    TopicsAdd,
)
from upward_common.auth import (
    CurrentUser,
    HrAdmin,
    HrisOrAdmin,
    HrisOrHrAdmin,
    PersonUser,
    Principal,
    ProgrammeAdmin,
)
from upward_common.batch import Batch, BatchIds
from upward_common.db import SessionDep
from upward_common.limits import Identifier, Name, Tag, Text
from upward_common.problems import PROBLEM_JSON, Problem


class JsonBodyRoute(APIRoute):
    """A route whose JSON body nests too deep to parse answers 400 naming the body.

    The body is parsed once here (FastAPI reuses the parsed value); a parse that
    runs out of recursion would otherwise surface as a bare 400 naming nothing.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler  # imports read and parse their own bodies

        async def route(request: Request) -> Response:
            try:
                await request.json()
            except RecursionError as exc:
                raise Problem(400, "The body nests too deep to be read as JSON",
                              field="body", kind="malformed-body") from exc
            except ValueError:
                pass  # not JSON (or not UTF-8): FastAPI reports it as usual
            return await handler(request)

        return route


router = APIRouter(prefix="/api/v1", route_class=JsonBodyRoute)

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            imports.CSV: {"schema": {"type": "string"}},
            imports.NDJSON: {"schema": {"type": "string"}},
            imports.JSON: {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}

_PARTICIPANT_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            imports.NDJSON: {"schema": {"type": "string"}},
            imports.JSON: {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


async def _rows(request: Request, what: str,
                phases: dict[str, float] | None = None) -> list[imports.Row]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit: int = request.app.state.settings.import_max_bytes
    encoding = request.headers.get("content-encoding")
    declared = request.headers.get("content-length")
    if (encoding is None and declared is not None and declared.isdigit()
            and int(declared) > limit):
        raise imports.too_large(limit)  # refused before a byte of it is read
    started = time.perf_counter()
    body = await imports.read_body(request.stream(), encoding=encoding, limit=limit)
    read = time.perf_counter()
    rows = imports.parse(body, media, limit=limit, what=what)
    if phases is not None:
        phases["read"] = read - started
        phases["parse"] = time.perf_counter() - read
    return rows


def _server_timing(phases: dict[str, float]) -> str:
    """A W3C `Server-Timing` header value: each phase, in milliseconds."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in phases.items())


@router.post("/employees/import", response_model=ImportReport, openapi_extra=_IMPORT_BODY,
             responses={422: {"description": "Every row was rejected; nothing was written"}})
async def import_employees(request: Request, response: Response, session: SessionDep,
                           user: HrisOrHrAdmin) -> Any:
    """Upsert employees from an HRIS export (CSV, NDJSON, JSON array); bad rows write nothing.

    The answer's `Server-Timing` header says where the time went: receiving the
    body (`read`, inflating included), `parse`, `apply` (validation, managers,
    rows and outbox events) and `commit`.
    """
    phases: dict[str, float] = {}
    rows = await _rows(request, "employee", phases)
    started = time.perf_counter()
    report = await service.import_employees(session, rows)
    phases["apply"] = time.perf_counter() - started
    accepted = report.created + report.updated + report.unchanged
    if report.rejected and not accepted:
        await session.rollback()
        first = report.errors[0]
        body = Problem(
            422, f"Every row was rejected; first: row {first.row}, {first.field}: "
                 f"{first.reason}", kind="validation-error", title="Invalid input",
            field=first.field,
            errors=[e.model_dump() | {"message": e.reason} for e in report.errors[:1000]],
            **report.model_dump(exclude={"errors"}),
        ).body(request.url.path)
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON,
                            headers={"server-timing": _server_timing(phases)})
    started = time.perf_counter()
    await session.commit()
    phases["commit"] = time.perf_counter() - started
    response.headers["server-timing"] = _server_timing(phases)
    return report


@router.get("/employees", response_model=EmployeePage)
async def search_employees(
    session: SessionDep, user: ProgrammeAdmin,
    search: Annotated[Tag | None, Query(max_length=EMPLOYEE_SEARCH_MAX, description=(
        "A fragment of the given name, family name, full name or e-mail, any case"))] = None,
    department: Annotated[Name | None, Query(description="This department only")] = None,
    job_level: Annotated[int | None, Query(ge=1, le=MAX_JOB_LEVEL,
                                           description="This job level only")] = None,
    include_inactive: Annotated[bool, Query(description="Leavers too")] = False,
    after: Annotated[Identifier | None, Query(
        description="Read on after this employee id (the last of the previous page)")] = None,
    limit: Annotated[int, Query(ge=1, le=EMPLOYEE_PAGE_MAX)] = 50,
) -> Any:
    """Employees for an invite picker, by family name then given name (admins)."""
    total, found, more = await service.search_employees(
        session, text=search, department=department, job_level=job_level,
        include_inactive=include_inactive, after=after, limit=limit)
    return EmployeePage(total=total, items=[_employee_public(e) for e in found], has_more=more)


@router.get("/employees/by-external-id/{external_id}", response_model=EmployeePublic)
async def get_employee_by_external_id(external_id: Identifier, session: SessionDep,
                                      user: HrisOrAdmin) -> Any:
    """The employee the HRIS knows by this id (admins and HRIS jobs)."""
    return _employee_public(await service.employee_by_external_id(
        session, external_id=external_id))


@router.get("/employees/{employee_id}", response_model=EmployeePublic)
async def get_employee(employee_id: Identifier, session: SessionDep, user: CurrentUser) -> Any:
    """One employee: themselves, or anyone for admins."""
    employee = await service.get_employee(session, user=user, employee_id=employee_id)
    return _employee_public(employee)


def _employee_public(employee: Employee) -> EmployeePublic:
    return EmployeePublic.model_validate(
        employee.model_dump() | {"erased": employee.erased_at is not None})


@router.get("/batch/employees", response_model=Batch[EmployeePublic], tags=["batch"])
async def batch_employees(ids: BatchIds, session: SessionDep, user: CurrentUser) -> Any:
    """Employees by id, each as `GET /employees/{employee_id}` answers it (docs/limits.md)."""
    found, missing = await service.get_employees(session, user=user, employee_ids=ids)
    return Batch[EmployeePublic](items=[_employee_public(e) for e in found], missing=missing)


@router.post("/employees/{employee_id}/erase", response_model=EmployeePublic)
async def erase_employee(employee_id: Identifier, session: SessionDep, user: HrAdmin) -> Any:
    """Erase a person on request: pseudonymised everywhere, aggregates kept (HR admins)."""
    employee = await service.erase_employee(session, employee_id=employee_id)
    await session.commit()
    return EmployeePublic.model_validate(employee.model_dump() | {"erased": True})


@router.get("/employees/{employee_id}/invitations", response_model=list[InvitationPublic])
async def list_employee_invitations(employee_id: Identifier, session: SessionDep,
                               user: CurrentUser) -> Any:
    """An employee's invitations: themselves, or admins."""
    return await service.list_invitations(session, user=user, employee_id=employee_id)


@router.post("/programmes", response_model=ProgrammePublic, status_code=201)
async def create_programme(data: ProgrammeCreate, session: SessionDep, user: ProgrammeAdmin) -> Any:
    """Create a programme, open (default) or as a draft (HR admins and programme managers)."""
    programme = await service.create_programme(session, data=data)
    await session.commit()
    return programme


@router.get("/programmes", response_model=list[ProgrammePublic])
async def list_programmes(session: SessionDep, user: PersonUser) -> Any:
    """Every programme; participants do not see drafts."""
    programmes = await repository.list_programmes(session)
    if user.is_admin:
        return programmes
    return [p for p in programmes if p.status != "draft"]


@router.get("/programmes/{programme_id}", response_model=ProgrammePublic)
async def get_programme(programme_id: Identifier, session: SessionDep, user: PersonUser) -> Any:
    """One programme."""
    programme = await service.get_programme(session, programme_id=programme_id)
    if programme.status == "draft" and not user.is_admin:
        raise Problem(404, f"Programme {programme_id} does not exist", kind="not-found")
    return programme


@router.get("/batch/programmes", response_model=Batch[ProgrammePublic], tags=["batch"])
async def batch_programmes(ids: BatchIds, session: SessionDep, user: PersonUser) -> Any:
    """Programmes by id, each as `GET /programmes/{programme_id}` answers it."""
    found, missing = await service.get_programmes(session, user=user, programme_ids=ids)
    return Batch[ProgrammePublic](items=[ProgrammePublic.model_validate(p, from_attributes=True)
                                         for p in found],
                                  missing=missing)


@router.patch("/programmes/{programme_id}", response_model=ProgrammePublic)
async def update_programme(programme_id: Identifier, data: ProgrammeUpdate, session: SessionDep,
                           user: ProgrammeAdmin) -> Any:
    """Change a programme within what its lifecycle state allows (admins)."""
    programme = await service.update_programme(session, programme_id=programme_id, data=data)
    await session.commit()
    return programme


@router.post("/programmes/{programme_id}/status", response_model=ProgrammePublic)
async def change_programme_status(programme_id: Identifier, data: ProgrammeTransition,
                               session: SessionDep, user: ProgrammeAdmin) -> Any:
    """Move a programme along draft -> open -> running -> closed (admins)."""
    programme = await service.transition_programme(session, programme_id=programme_id,
                                                   status=data.status)
    await session.commit()
    return programme


@router.post("/programmes/{programme_id}/topics", response_model=ProgrammePublic)
async def add_programme_topics(programme_id: Identifier, data: TopicsAdd, session: SessionDep,
                     user: ProgrammeAdmin) -> Any:
    """Add topics to a programme's catalogue (admins)."""
    programme = await service.add_topics(session, programme_id=programme_id, topics=data.topics)
    await session.commit()
    return programme


def _public(participant: Participant, user: Principal) -> ParticipantPublic:
    shown = participant.model_dump(warnings=False)
    if not service.can_see_diversity(user, participant):
        shown["diversity"] = None
    return ParticipantPublic.model_validate(shown)


def _publics(participants: Sequence[Participant], user: Principal) -> list[ParticipantPublic]:
    return [_public(p, user) for p in participants]


@router.post("/programmes/{programme_id}/participants", response_model=ParticipantPublic,
             status_code=201)
async def enrol_participant(programme_id: Identifier, data: ParticipantCreate, session: SessionDep,
                user: CurrentUser) -> Any:
    """Opt in to a programme as mentor (junior who teaches) or mentee (senior who learns)."""
    participant = await service.enrol(session, user=user, programme_id=programme_id, data=data)
    await session.commit()
    return _public(participant, user)


@router.get("/programmes/{programme_id}/participants", response_model=list[ParticipantPublic])
async def list_programme_participants(programme_id: Identifier, session: SessionDep,
                            user: ProgrammeAdmin) -> Any:
    """A programme's participants (admins; diversity attributes for HR admins only)."""
    await service.get_programme(session, programme_id=programme_id)
    return _publics(await repository.list_participants(session, programme_id), user)


@router.post("/programmes/{programme_id}/participants/import",
             response_model=ParticipantImportReport, openapi_extra=_PARTICIPANT_IMPORT_BODY)
async def import_participants(programme_id: Identifier, request: Request, session: SessionDep,
                              user: HrAdmin) -> Any:
    """Enrol opted-in people from a survey run elsewhere (NDJSON; consent time required)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == imports.CSV:
        raise Problem(415, f"Send {imports.NDJSON} or {imports.JSON}: the survey is nested",
                      field="content-type", kind="unsupported-media-type")
    rows = await _rows(request, "participant")
    report = await service.import_participants(session, user=user, programme_id=programme_id,
                                               rows=rows)
    await session.commit()
    return report


@router.post("/programmes/{programme_id}/invitations", response_model=InvitationPublic,
             status_code=201)
async def invite_employee(programme_id: Identifier, data: InvitationCreate, session: SessionDep,
                 user: ProgrammeAdmin) -> Any:
    """Invite an employee; they become a participant only by accepting (admins)."""
    invitation = await service.invite(session, programme_id=programme_id, data=data)
    await session.commit()
    return invitation


@router.get("/programmes/{programme_id}/invitations", response_model=list[InvitationPublic])
async def list_programme_invitations(programme_id: Identifier, session: SessionDep,
                                user: ProgrammeAdmin) -> Any:
    """A programme's invitations (admins)."""
    return await service.list_invitations(session, user=user, programme_id=programme_id)


@router.post("/invitations/{invitation_id}/accept", response_model=ParticipantPublic,
             status_code=201)
async def accept_invitation(invitation_id: Identifier, data: SurveyAnswers, session: SessionDep,
                            user: CurrentUser) -> Any:
    """Accept an invitation with the profile survey (the invited employee only)."""
    participant = await service.accept_invitation(session, user=user,
                                                  invitation_id=invitation_id, answers=data)
    await session.commit()
    return _public(participant, user)


@router.post("/invitations/{invitation_id}/decline", response_model=InvitationPublic)
async def decline_invitation(invitation_id: Identifier, session: SessionDep,
                             user: CurrentUser) -> Any:
    """Decline an invitation (the invited employee only)."""
    invitation = await service.decline_invitation(session, user=user,
                                                  invitation_id=invitation_id)
    await session.commit()
    return invitation


@router.get("/participants/{participant_id}", response_model=ParticipantPublic)
async def get_participant(participant_id: Identifier, session: SessionDep,
                          user: CurrentUser) -> Any:
    """One participant: themselves, or anyone for admins."""
    participant = await service.get_participant(session, user=user,
                                                participant_id=participant_id)
    return _public(participant, user)


@router.get("/batch/participants", response_model=Batch[ParticipantPublic], tags=["batch"])
async def batch_participants(ids: BatchIds, session: SessionDep, user: CurrentUser) -> Any:
    """Participants by id, each as `GET /participants/{participant_id}` answers it."""
    found, missing = await service.get_participants(session, user=user, participant_ids=ids)
    return Batch[ParticipantPublic](items=_publics(found, user), missing=missing)


@router.put("/participants/{participant_id}/survey", response_model=ParticipantPublic)
async def update_survey(participant_id: Identifier, data: SurveyAnswers, session: SessionDep,
                        user: CurrentUser) -> Any:
    """Submit new survey answers: a new version that matching sees next."""
    participant = await service.update_survey(session, user=user, participant_id=participant_id,
                                              answers=data)
    await session.commit()
    return _public(participant, user)


@router.patch("/participants/{participant_id}/survey", response_model=ParticipantPublic)
async def change_survey(participant_id: Identifier, data: SurveyChange, session: SessionDep,
                        user: CurrentUser) -> Any:
    """Change some survey answers: the fields sent replace theirs, the others are kept."""
    participant = await service.change_survey(session, user=user, participant_id=participant_id,
                                              change=data)
    await session.commit()
    return _public(participant, user)


@router.get("/participants/{participant_id}/survey/versions",
            response_model=list[SurveyVersionPublic])
async def list_survey_versions(participant_id: Identifier, session: SessionDep,
                          user: CurrentUser) -> Any:
    """Every version of a participant's survey, oldest first."""
    versions = await service.survey_history(session, user=user, participant_id=participant_id)
    participant = await repository.get_participant(session, participant_id)
    hide = participant is not None and not service.can_see_diversity(user, participant)
    return [
        SurveyVersionPublic(version=v.version, submitted_at=v.submitted_at,
                            answers=v.answers | ({"diversity": None} if hide else {}))
        for v in versions
    ]


class Withdrawal(BaseModel):
    reason: Text | None = None


@router.post("/participants/{participant_id}/withdraw", response_model=ParticipantPublic)
async def withdraw_participant(participant_id: Identifier, data: Withdrawal, session: SessionDep,
                   user: CurrentUser) -> Any:
    """Leave a programme; the participant's pairs end downstream."""
    participant = await service.withdraw(session, user=user, participant_id=participant_id,
                                         reason=data.reason)
    await session.commit()
    return _public(participant, user)


# --- participant cards -------------------------------------------------------------


@router.get("/participants/{participant_id}/card", response_model=ParticipantCard)
async def get_participant_card(participant_id: Identifier, session: SessionDep,
                               user: CurrentUser) -> Any:
    """A participant's card, for the people they may work with (and admins)."""
    return await cards.get_card(session, user=user, participant_id=participant_id)


@router.get("/batch/participant-cards", response_model=Batch[ParticipantCard], tags=["batch"])
async def batch_participant_cards(ids: BatchIds, session: SessionDep, user: CurrentUser) -> Any:
    """Participant cards by id, each as `GET /participants/{participant_id}/card` answers it."""
    found, missing = await cards.get_cards(session, user=user, participant_ids=ids)
    return Batch[ParticipantCard](items=found, missing=missing)


# --- the caller's own participations ---------------------------------------------------


@router.get("/me/participations", response_model=list[ParticipantPublic])
async def my_participations(session: SessionDep, user: PersonUser) -> Any:
    """The caller's own participations in every programme, oldest first (with their ids)."""
    return _publics(await service.my_participations(session, user=user), user)
