"""Analytics' part of the schema: what the event stream says about each programme."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

import strawberry

from gateway import clients
from gateway.context import Info
from gateway.schema.enrolment import ParticipantRole
from gateway.schema.errors import USER_ERRORS, UserError, attempt
from gateway.schema.inputs import ProgrammeId, described

# --- types -----------------------------------------------------------------------------


@strawberry.type(description="How one programme is going, counted from events by analytics.")
class ProgrammeSummary:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    participants_enrolled: int = strawberry.field(description="Participants enrolled now.")
    mentors: int = strawberry.field(description="Of them, mentors.")
    mentees: int = strawberry.field(description="Of them, mentees.")
    pairs_formed: int = strawberry.field(description="Pairs formed, ever.")
    pairs_active: int = strawberry.field(description="Pairs active now.")
    sessions_scheduled: int = strawberry.field(description="Sessions planned, ever.")
    sessions_held: int = strawberry.field(description="Sessions held, ever.")

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
        )


@strawberry.type(description="A role's participants in a programme.")
class RoleFunnel:
    role: ParticipantRole = strawberry.field(description="The role.")
    enrolled: int = strawberry.field(description="Participants who opted in, ever.")
    active: int = strawberry.field(description="Of them, taking part now.")
    withdrawn: int = strawberry.field(description="Of them, withdrawn.")


@strawberry.type(description="Pairs that ended for one reason.")
class EndedPairs:
    reason: str = strawberry.field(description="Why they ended (e.g. `completed`).")
    pairs: int = strawberry.field(description="How many pairs.")


@strawberry.type(description="Opt-ins in one calendar month (UTC).")
class MonthCount:
    month: str = strawberry.field(description="The month, `YYYY-MM`.")
    opt_ins: int = strawberry.field(description="Participants who enrolled that month.")


@strawberry.type(description="How healthy a programme is, from events: funnel, pairs, "
                             "sessions, attendance, hours and interest over time.")
class ProgrammeHealth:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    funnel: list[RoleFunnel] = strawberry.field(description="Participants by role.")
    pairs_formed: int = strawberry.field(description="Pairs formed, ever.")
    pairs_active: int = strawberry.field(description="Pairs not ended.")
    pairs_ended: list[EndedPairs] = strawberry.field(
        description="Ended pairs by reason, the most frequent first.")
    sessions_planned: int = strawberry.field(description="Sessions planned and not cancelled.")
    sessions_held: int = strawberry.field(description="Sessions logged as held.")
    sessions_cancelled: int = strawberry.field(description="Sessions cancelled.")
    attendance_rate: float | None = strawberry.field(
        description="Held / (held + cancelled); null before any was held or cancelled.")
    mentoring_hours: float = strawberry.field(description="Hours of the sessions held.")
    interest_trend: list[MonthCount] = strawberry.field(
        description="Opt-ins per month, oldest first (months without any are left out).")

    @classmethod
    def of(cls, h: clients.ProgrammeHealthPublic) -> ProgrammeHealth:
        return cls(
            programme_id=strawberry.ID(h.programme_id),
            funnel=[RoleFunnel(role=ParticipantRole(f.role), enrolled=f.enrolled,
                               active=f.active, withdrawn=f.withdrawn) for f in h.funnel],
            pairs_formed=h.pairs_formed, pairs_active=h.pairs_active,
            pairs_ended=[EndedPairs(reason=e.reason, pairs=e.pairs) for e in h.pairs_ended],
            sessions_planned=h.sessions_planned, sessions_held=h.sessions_held,
            sessions_cancelled=h.sessions_cancelled, attendance_rate=h.attendance_rate,
            mentoring_hours=h.mentoring_hours,
            interest_trend=[MonthCount(month=m.month, opt_ins=m.opt_ins)
                            for m in h.interest_trend])


# --- retention ---------------------------------------------------------------------------


@strawberry.enum(description="The groups a retention report follows.")
class RetentionGroupName(Enum):
    MENTORS = strawberry.enum_value("mentors", description="The programme's mentors.")
    MENTEES = strawberry.enum_value("mentees", description="The programme's mentees.")
    MENTOR_COMPARISON = strawberry.enum_value(
        "mentor_comparison", description="Non-participants matched to the mentors.")
    MENTEE_COMPARISON = strawberry.enum_value(
        "mentee_comparison", description="Non-participants matched to the mentees.")


@strawberry.type(description="A step of a Kaplan-Meier curve: from `months` until the next "
                             "point, the share still employed and its 95 % interval.")
class CurvePoint:
    months: float = strawberry.field(description="Months after the start of follow-up.")
    estimate: float = strawberry.field(description="The share still employed.")
    lower: float = strawberry.field(description="Lower end of the 95 % interval.")
    upper: float = strawberry.field(description="Upper end of the 95 % interval.")

    @classmethod
    def of(cls, p: clients.CurvePointPublic) -> CurvePoint:
        return cls(months=p.months, estimate=p.estimate, lower=p.lower, upper=p.upper)


@strawberry.type(description="A curve read at a number of months; null figures when fewer "
                             "than 5 people were followed that long.")
class FigureAt:
    months: int = strawberry.field(description="Months after the start of follow-up.")
    estimate: float | None = strawberry.field(description="The estimate (a share, 0 to 1).")
    lower: float | None = strawberry.field(description="Lower end of the 95 % interval.")
    upper: float | None = strawberry.field(description="Upper end of the 95 % interval.")

    @classmethod
    def of(cls, f: clients.FigureAtPublic) -> FigureAt:
        return cls(months=f.months, estimate=f.estimate, lower=f.lower, upper=f.upper)


@strawberry.type(description="One group's retention and promotion; every figure is null and "
                             "`suppressed` says why when the group is under 5 people.")
class RetentionGroup:
    group: RetentionGroupName = strawberry.field(description="Which group this is.")
    suppressed: str | None = strawberry.field(
        description="Why the group's figures are withheld (null when they are shown).")
    people: int | None = strawberry.field(description="People followed.")
    leavers: int | None = strawberry.field(description="Of them, how many left during follow-up.")
    follow_up_months_total: float | None = strawberry.field(
        description="Months of follow-up, summed over the group's people.")
    follow_up_months_median: float | None = strawberry.field(
        description="The median person's months of follow-up.")
    curve: list[CurvePoint] = strawberry.field(
        description="The Kaplan-Meier curve, while at least 5 people are still followed.")
    retention: list[FigureAt] = strawberry.field(
        description="The share still employed at 6, 12 and 24 months.")
    promotion: list[FigureAt] = strawberry.field(
        description="The share promoted (a higher job level) by 6, 12 and 24 months; empty "
                    "when no level change arrived for the group.")

    @classmethod
    def of(cls, g: clients.RetentionGroupPublic) -> RetentionGroup:
        return cls(group=RetentionGroupName(g.group), suppressed=g.suppressed, people=g.people,
                   leavers=g.leavers, follow_up_months_total=g.follow_up_months_total,
                   follow_up_months_median=g.follow_up_months_median,
                   curve=[CurvePoint.of(p) for p in g.curve],
                   retention=[FigureAt.of(f) for f in g.retention],
                   promotion=[FigureAt.of(f) for f in g.promotion])


@strawberry.type(description="Log-rank test of a role's participants against their matched "
                             "comparison group.")
class RetentionComparison:
    role: ParticipantRole = strawberry.field(description="The participants' role.")
    suppressed: str | None = strawberry.field(
        description="Why no test is reported (a group under 5 people, or nobody left).")
    statistic: float | None = strawberry.field(description="Chi-squared statistic, 1 df.")
    p_value: float | None = strawberry.field(description="Two-sided p-value.")

    @classmethod
    def of(cls, c: clients.RetentionComparisonPublic) -> RetentionComparison:
        return cls(role=ParticipantRole(c.role), suppressed=c.suppressed,
                   statistic=c.statistic, p_value=c.p_value)


@strawberry.type(description="How a role's participants were matched to non-participants.")
class RoleMatching:
    role: ParticipantRole = strawberry.field(description="The participants' role.")
    participants: int = strawberry.field(description="Participants followed.")
    unmatched: int = strawberry.field(
        description="Of them, how many found no non-participant of their stratum.")
    excluded: int = strawberry.field(
        description="Participants left out: unknown to the HRIS feed, or gone by their start.")

    @classmethod
    def of(cls, m: clients.RoleMatchingPublic) -> RoleMatching:
        return cls(role=ParticipantRole(m.role), participants=m.participants,
                   unmatched=m.unmatched, excluded=m.excluded)


@strawberry.type(description="Retention of participants against matched non-participants, "
                             "each followed from the day participation started.")
class ProgrammeRetention:
    programme_id: strawberry.ID | None = strawberry.field(
        description="The programme, or null for all programmes together.")
    window_months: int = strawberry.field(description="Months each person is followed at most.")
    as_of: date = strawberry.field(description="The day follow-up ends for those still employed.")
    controls_per_participant: int = strawberry.field(
        description="Non-participants matched to each participant.")
    matching: list[RoleMatching] = strawberry.field(description="Matching, per role.")
    groups: list[RetentionGroup] = strawberry.field(description="The groups' figures.")
    comparisons: list[RetentionComparison] = strawberry.field(
        description="Log-rank tests, per role.")

    @classmethod
    def of(cls, r: clients.ProgrammeRetentionPublic) -> ProgrammeRetention:
        return cls(
            programme_id=strawberry.ID(r.programme_id) if r.programme_id is not None else None,
            window_months=r.window_months, as_of=r.as_of,
            controls_per_participant=r.controls_per_participant,
            matching=[RoleMatching.of(m) for m in r.matching],
            groups=[RetentionGroup.of(g) for g in r.groups],
            comparisons=[RetentionComparison.of(c) for c in r.comparisons])


@strawberry.input(description="One past participation, from before Upward: who took part, "
                              "in which programme and role, from when to when.")
class ParticipationHistoryInput:
    employee_id: strawberry.ID = strawberry.field(description="The employee's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    role: ParticipantRole = strawberry.field(description="The role they had.")
    started_on: date = strawberry.field(description="The day they started.")
    ended_on: date | None = strawberry.field(default=None,
                                             description="The day they finished, if known.")

    def to_row(self) -> clients.ParticipationHistoryRow:
        return clients.ParticipationHistoryRow(
            employee_id=str(self.employee_id), programme_id=str(self.programme_id),
            role=self.role.value, started_on=self.started_on, ended_on=self.ended_on)


@strawberry.type(description="What importParticipationHistory did: the rows stored, or why not.")
class ImportParticipationHistoryPayload:
    imported: int | None = strawberry.field(
        description="Rows stored (new or updated); null when errors say why nothing was.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programme figures."""

    @strawberry.field(description="Enrolment, pair and session counts of a programme (admins).")
    async def programme_summary(self, info: Info,
                                programme_id: ProgrammeId) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(
            await info.context.loaders.programme_summary.load(programme_id)
        )

    @strawberry.field(description="A programme's health figures (admins); several programmes "
                                  "asked in one request are read in one call.")
    async def programme_health(self, info: Info, programme_id: ProgrammeId) -> ProgrammeHealth:
        return ProgrammeHealth.of(await info.context.loaders.programme_health.load(programme_id))

    @strawberry.field(description="Retention (and promotion) of a programme's mentors and "
                                  "mentees against matched non-participants, or of all "
                                  "programmes' without `programmeId` (admins).")
    async def programme_retention(
        self, info: Info,
        programme_id: Annotated[strawberry.ID | None, described(
            "The programme's id; null for every programme together.")] = None,
        window_months: Annotated[int, described(
            "Months each person is followed from their start, 1 to 120.")] = 24,
        as_of: Annotated[date | None, described(
            "The day follow-up ends (today in UTC when null).")] = None,
    ) -> ProgrammeRetention:
        analytics = info.context.analytics
        found = (await analytics.retention(window_months, as_of) if programme_id is None
                 else await analytics.programme_retention(str(programme_id), window_months,
                                                          as_of))
        return ProgrammeRetention.of(found)


@strawberry.type
class Mutation:
    """Past cohorts."""

    @strawberry.mutation(description="Import past participations (hr_admin), so retention "
                                     "covers years before Upward; a bad row writes nothing.")
    async def import_participation_history(
        self, info: Info,
        rows: Annotated[list[ParticipationHistoryInput], described(
            "The past participations, 1 to 5,000.")],
    ) -> ImportParticipationHistoryPayload | None:
        analytics = info.context.analytics
        imported, errors = await attempt(
            info, lambda: analytics.import_participation_history([r.to_row() for r in rows]),
            lambda report: report.imported, body="rows")
        return ImportParticipationHistoryPayload(imported=imported, errors=errors)
