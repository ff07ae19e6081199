"""Analytics' HTTP API: thin routes over the service layer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import health, milestones, report_store, service
from analytics.config import AnalyticsSettings
from analytics.models import (
    HISTORY_IMPORT_MAX,
    WINDOW_MONTHS_MAX,
    CelebrationFeed,
    DiversityTag,
    ParticipationHistoryCreate,
    ParticipationHistoryReport,
    ProgrammeHealth,
    ProgrammeRetention,
    ProgrammeSummary,
    PulseResponseCreate,
    PulseResponseReceipt,
    PulseSurveyCreate,
    PulseSurveyList,
    PulseSurveyPublic,
    PulseSurveyResults,
    WorkforceBaselineList,
    WorkforceBaselinePublic,
    WorkforceBaselineSet,
)
from analytics.rebuild import RebuildRunning, Rebuilds, RebuildStatus
from upward_common.auth import CurrentUser, HrAdmin, ProgrammeAdmin
from upward_common.batch import Batch, BatchIds, distinct
from upward_common.db import SessionDep
from upward_common.events import utcnow
from upward_common.limits import Identifier, Name
from upward_common.problems import conflict, invalid

router = APIRouter(prefix="/api/v1")


@router.get("/programmes/{programme_id}/summary", response_model=ProgrammeSummary)
async def get_programme_summary(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin
) -> ProgrammeSummary:
    """A programme's figures built from events (admins); zeros for one not yet heard of."""
    return await service.programme_summary(session, programme_id=programme_id)


@router.get("/batch/programme-summaries", response_model=Batch[ProgrammeSummary],
            tags=["batch"])
async def batch_programme_summaries(
    ids: BatchIds, session: SessionDep, user: ProgrammeAdmin
) -> Batch[ProgrammeSummary]:
    """Several programmes' figures by programme id (admins), each as
    `GET /programmes/{programme_id}/summary` answers it (docs/limits.md)."""
    return Batch[ProgrammeSummary](items=[
        await service.programme_summary(session, programme_id=programme_id)
        for programme_id in distinct(ids)])


# --- pulse surveys -------------------------------------------------------------------

SURVEYS = "/programmes/{programme_id}/pulse-surveys"
RoleFilter = Annotated[Literal["mentor", "mentee"] | None, Query(
    description="Only answers of participants of this role.")]
DepartmentFilter = Annotated[Name | None, Query(
    description="Only answers of participants of this department (`unknown`: none known).")]
LevelBandFilter = Annotated[Literal["1-3", "4-6", "7+", "unknown"] | None, Query(
    description="Only answers of participants of this job level band.")]


def _secret(request: Request) -> bytes:
    settings: AnalyticsSettings = request.app.state.settings
    return settings.pulse_survey_secret.get_secret_value().encode()


@router.post(SURVEYS, response_model=PulseSurveyPublic, status_code=201,
             tags=["pulse surveys"])
async def create_pulse_survey(
    programme_id: Identifier, survey: PulseSurveyCreate, session: SessionDep,
    user: ProgrammeAdmin,
) -> PulseSurveyPublic:
    """A new, open pulse survey of the programme with its questions (admins)."""
    created = await service.create_pulse_survey(session, programme_id=programme_id,
                                                survey=survey, now=utcnow())
    await session.commit()
    return created


@router.get(SURVEYS, response_model=PulseSurveyList, tags=["pulse surveys"])
async def list_pulse_surveys(
    programme_id: Identifier, session: SessionDep, user: CurrentUser,
) -> PulseSurveyList:
    """The programme's pulse surveys, newest first (admins, the programme's participants)."""
    return PulseSurveyList(items=await service.pulse_surveys(
        session, user=user, programme_id=programme_id))


@router.get(SURVEYS + "/{survey_id}", response_model=PulseSurveyPublic,
            tags=["pulse surveys"])
async def get_pulse_survey(
    programme_id: Identifier, survey_id: Identifier, session: SessionDep, user: CurrentUser,
) -> PulseSurveyPublic:
    """A pulse survey and its questions (admins, the programme's participants)."""
    return await service.pulse_survey(session, user=user, programme_id=programme_id,
                                      survey_id=survey_id)


@router.post(SURVEYS + "/{survey_id}/close", response_model=PulseSurveyPublic,
             tags=["pulse surveys"])
async def close_pulse_survey(
    programme_id: Identifier, survey_id: Identifier, session: SessionDep,
    user: ProgrammeAdmin,
) -> PulseSurveyPublic:
    """Close the survey to answers; its results are published from then on (admins)."""
    closed = await service.close_pulse_survey(session, programme_id=programme_id,
                                              survey_id=survey_id, now=utcnow())
    await session.commit()
    return closed


@router.post(SURVEYS + "/{survey_id}/responses", response_model=PulseResponseReceipt,
             status_code=201, tags=["pulse surveys"])
async def answer_pulse_survey(
    programme_id: Identifier, survey_id: Identifier, response: PulseResponseCreate,
    request: Request, session: SessionDep, user: CurrentUser,
) -> PulseResponseReceipt:
    """Answer once, anonymously (the programme's participants); a second answer is a 409."""
    await service.answer_pulse_survey(session, user=user, programme_id=programme_id,
                                      survey_id=survey_id, response=response,
                                      secret=_secret(request))
    await session.commit()
    return PulseResponseReceipt(survey_id=survey_id, answered=True)


@router.get(SURVEYS + "/{survey_id}/results", response_model=PulseSurveyResults,
            tags=["pulse surveys"])
async def get_pulse_survey_results(
    programme_id: Identifier, survey_id: Identifier, session: SessionDep,
    user: ProgrammeAdmin, role: RoleFilter = None, department: DepartmentFilter = None,
    level_band: LevelBandFilter = None,
) -> PulseSurveyResults:
    """One cut of a closed survey's results, suppressed under 5 respondents (admins)."""
    return await service.pulse_survey_results(
        session, programme_id=programme_id, survey_id=survey_id, role=role,
        department=department, level_band=level_band)


# --- milestones ----------------------------------------------------------------------


@router.get("/programmes/{programme_id}/celebrations", response_model=CelebrationFeed,
            tags=["milestones"])
async def get_celebrations(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
) -> CelebrationFeed:
    """Milestones the programme's pairs reached, per day, for intranets (admins)."""
    return await milestones.celebrations(session, programme_id=programme_id)


# --- retention and promotion ------------------------------------------------------

WindowMonths = Annotated[int, Query(ge=1, le=WINDOW_MONTHS_MAX, description=(
    "How long each person is followed from the start of their participation, in months."))]
AsOf = Annotated[date | None, Query(ge=date(1900, 1, 1), le=date(2200, 12, 31), description=(
    "The day follow-up ends for everyone still employed (today, in UTC, unless given); "
    "the same day always gives the same report."))]
HistoryRows = Annotated[list[ParticipationHistoryCreate], Body(
    min_length=1, max_length=HISTORY_IMPORT_MAX,
    description=f"Past participations, 1 to {HISTORY_IMPORT_MAX:,} rows.")]


def _as_of(as_of: date | None) -> date:
    # A report's end, not a handler's time: the request's day when none is asked for.
    return as_of or datetime.now(UTC).date()


async def _retention(session: AsyncSession, programme_id: str | None, window_months: int,
                     as_of: date | None) -> ProgrammeRetention:
    # The stored report, or one computed now: committed, it is stored for the next request.
    report = await report_store.retention_report(
        session, programme_id=programme_id, window_months=window_months, as_of=_as_of(as_of),
        now=utcnow())
    await session.commit()
    return report


@router.get("/programmes/{programme_id}/retention", response_model=ProgrammeRetention,
            tags=["retention"])
async def get_programme_retention(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
    window_months: WindowMonths = 24, as_of: AsOf = None,
) -> ProgrammeRetention:
    """Retention (and promotion) of a programme's mentors and mentees against matched
    non-participants (admins); groups under 5 people are suppressed."""
    return await _retention(session, programme_id, window_months, as_of)


@router.get("/retention", response_model=ProgrammeRetention, tags=["retention"])
async def get_retention(
    session: SessionDep, user: ProgrammeAdmin, window_months: WindowMonths = 24,
    as_of: AsOf = None,
) -> ProgrammeRetention:
    """Retention across every programme: each person from their first participation (admins)."""
    return await _retention(session, None, window_months, as_of)


@router.post("/participation-history", response_model=ParticipationHistoryReport,
             tags=["retention"])
async def import_participation_history(
    rows: HistoryRows, session: SessionDep, user: HrAdmin,
) -> ParticipationHistoryReport:
    """Import past cohorts (HR admins), so retention covers years before Upward; a bad row
    is a 422 naming its field and nothing is written."""
    imported = await service.import_history(session, rows=rows)
    await session.commit()
    return ParticipationHistoryReport(imported=imported)


# --- programme health -------------------------------------------------------------


@router.get("/programmes/{programme_id}/health", response_model=ProgrammeHealth,
            tags=["health"])
async def get_programme_health(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
) -> ProgrammeHealth:
    """A programme's funnel, pairs, sessions, attendance, hours and opt-ins per month (admins)."""
    [health] = await service.programme_health(session, programme_ids=[programme_id])
    return health


@router.get("/batch/programme-health", response_model=Batch[ProgrammeHealth], tags=["batch"])
async def batch_programme_health(
    ids: BatchIds, session: SessionDep, user: ProgrammeAdmin,
) -> Batch[ProgrammeHealth]:
    """Several programmes' health figures (admins), each as
    `GET /programmes/{programme_id}/health` answers it, in one grouped query per figure."""
    return Batch[ProgrammeHealth](
        items=await service.programme_health(session, programme_ids=distinct(ids)))


# --- the workforce baseline ----------------------------------------------------------

BASELINE = "/workforce-baseline"
BaselineAttribute = Annotated[DiversityTag, Query(
    description="The diversity attribute, as participants' answers name it (`gender`).")]


@router.get(BASELINE, response_model=WorkforceBaselineList, tags=["health"])
async def list_workforce_baselines(
    session: SessionDep, user: ProgrammeAdmin,
) -> WorkforceBaselineList:
    """The workforce's head counts per diversity attribute and value that HR entered,
    which health reports compare participants' diversity against (admins)."""
    return await health.list_workforce_baselines(session)


@router.put(BASELINE, response_model=WorkforceBaselinePublic, tags=["health"])
async def set_workforce_baseline(
    data: WorkforceBaselineSet, session: SessionDep, user: HrAdmin,
) -> WorkforceBaselinePublic:
    """Enter an attribute's workforce head counts, every value at once, replacing what was
    entered for it before (HR admins); aggregates only, never people."""
    stored = await health.set_workforce_baseline(session, data=data, now=utcnow())
    await session.commit()
    return stored


@router.delete(BASELINE, response_model=WorkforceBaselinePublic, tags=["health"])
async def remove_workforce_baseline(
    attribute: BaselineAttribute, session: SessionDep, user: HrAdmin,
) -> WorkforceBaselinePublic:
    """Drop an attribute's workforce baseline, answering what it was (HR admins); reports
    stop comparing against it. A 404 when it has none."""
    removed = await health.remove_workforce_baseline(session, attribute=attribute)
    await session.commit()
    return removed


# --- operations ---------------------------------------------------------------------


def _rebuilds(request: Request) -> Rebuilds:
    rebuilds: Rebuilds = request.app.state.rebuilds
    return rebuilds


@router.post("/admin/rebuild", response_model=RebuildStatus, status_code=202, tags=["admin"])
async def start_rebuild(request: Request, user: HrAdmin) -> RebuildStatus:
    """Rebuild every read model by replaying the stream from its start (HR admins), in the
    background and in one transaction; `GET /admin/rebuild` follows it. While one runs,
    another is a 409."""
    try:
        return _rebuilds(request).start()
    except RebuildRunning:
        raise conflict("A rebuild is already running") from None


@router.get("/admin/rebuild", response_model=RebuildStatus, tags=["admin"])
async def get_rebuild(request: Request, user: HrAdmin) -> RebuildStatus:
    """The latest rebuild of this replica: running, succeeded or failed, with its counts
    (HR admins); `idle` before any."""
    return _rebuilds(request).current()
# --- programme health in depth, and CSV exports ---------------------------------------

PeriodStart = Annotated[date | None, Query(
    alias="from", ge=date(1900, 1, 1), le=date(2200, 12, 31),
    description="The period's first day (UTC); figures count what happened from it.")]
PeriodEnd = Annotated[date | None, Query(
    alias="to", ge=date(1900, 1, 1), le=date(2200, 12, 31),
    description="The period's last day (UTC, included).")]
HealthDepartment = Annotated[Name | None, Query(
    description="Only participants of this department (`unknown`: none known), and their pairs.")]
HealthLevelBand = Annotated[Literal["1-3", "4-6", "7+", "unknown"] | None, Query(
    description="Only participants of this job level band, and their pairs.")]
CSV = "text/csv; charset=utf-8"


def _cut(programme_id: str | None, start: date | None, end: date | None,
         department: str | None, level_band: str | None) -> health.Cut:
    if start is not None and end is not None and end < start:
        raise invalid("to", "must not be before from")
    return health.Cut(programme_id=programme_id, start=start, end=end,
                      department=department, level_band=level_band)


def _senior(request: Request) -> int:
    settings: AnalyticsSettings = request.app.state.settings
    return settings.senior_min_level


def _csv(text: str, name: str) -> Response:
    return Response(text, media_type=CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/programmes/{programme_id}/health/report", response_model=health.HealthReport,
            tags=["health"])
async def get_programme_health_report(
    programme_id: Identifier, request: Request, session: SessionDep, user: ProgrammeAdmin,
    start: PeriodStart = None, end: PeriodEnd = None, department: HealthDepartment = None,
    level_band: HealthLevelBand = None,
) -> health.HealthReport:
    """A programme's health in depth, for a period, department or level band (admins)."""
    return await health.health_report(
        session, _cut(programme_id, start, end, department, level_band),
        senior_min_level=_senior(request))


@router.get("/health/report", response_model=health.HealthReport, tags=["health"])
async def get_health_report(
    request: Request, session: SessionDep, user: ProgrammeAdmin,
    start: PeriodStart = None, end: PeriodEnd = None, department: HealthDepartment = None,
    level_band: HealthLevelBand = None,
) -> health.HealthReport:
    """Health across every programme, for a period, department or level band (admins)."""
    return await health.health_report(session, _cut(None, start, end, department, level_band),
                                      senior_min_level=_senior(request))


@router.get("/programmes/{programme_id}/health.csv", tags=["health", "csv"],
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def get_programme_health_csv(
    programme_id: Identifier, request: Request, session: SessionDep, user: ProgrammeAdmin,
    start: PeriodStart = None, end: PeriodEnd = None, department: HealthDepartment = None,
    level_band: HealthLevelBand = None,
) -> Response:
    """The programme's health report as CSV, suppression applied (admins)."""
    report = await health.health_report(
        session, _cut(programme_id, start, end, department, level_band),
        senior_min_level=_senior(request))
    return _csv(health.to_csv(health.health_rows(report)), f"health-{programme_id}")


@router.get("/health.csv", tags=["health", "csv"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def get_health_csv(
    request: Request, session: SessionDep, user: ProgrammeAdmin,
    start: PeriodStart = None, end: PeriodEnd = None, department: HealthDepartment = None,
    level_band: HealthLevelBand = None,
) -> Response:
    """Health across every programme as CSV, suppression applied (admins)."""
    report = await health.health_report(session, _cut(None, start, end, department, level_band),
                                        senior_min_level=_senior(request))
    return _csv(health.to_csv(health.health_rows(report)), "health")


@router.get("/programmes/{programme_id}/retention.csv", tags=["retention", "csv"],
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def get_programme_retention_csv(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin,
    window_months: WindowMonths = 24, as_of: AsOf = None,
) -> Response:
    """The programme's retention report as CSV; suppressed groups carry no figure (admins)."""
    report = await _retention(session, programme_id, window_months, as_of)
    return _csv(health.to_csv(health.retention_rows(report)), f"retention-{programme_id}")


@router.get("/retention.csv", tags=["retention", "csv"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def get_retention_csv(
    session: SessionDep, user: ProgrammeAdmin, window_months: WindowMonths = 24,
    as_of: AsOf = None,
) -> Response:
    """Retention across every programme as CSV (admins)."""
    report = await _retention(session, None, window_months, as_of)
    return _csv(health.to_csv(health.retention_rows(report)), "retention")


@router.get(SURVEYS + "/{survey_id}/results.csv", tags=["pulse surveys", "csv"],
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def get_pulse_survey_results_csv(
    programme_id: Identifier, survey_id: Identifier, session: SessionDep,
    user: ProgrammeAdmin, role: RoleFilter = None, department: DepartmentFilter = None,
    level_band: LevelBandFilter = None,
) -> Response:
    """One cut of a closed survey's results as CSV; a suppressed cut says only that (admins)."""
    results = await service.pulse_survey_results(
        session, programme_id=programme_id, survey_id=survey_id, role=role,
        department=department, level_band=level_band)
    return _csv(health.to_csv(health.survey_rows(results)), f"survey-{survey_id}")
