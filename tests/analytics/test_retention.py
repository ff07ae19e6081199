"""Retention statistics against lifelines, and the matched comparison on a planted effect."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

from analytics import retention
from analytics.retention import Employment, Participation

RNG_FIXTURES = [
    # (durations, observed): ties, censoring at event times, all censored, all leaving.
    ([1, 2, 2, 3, 4, 4, 5, 5, 5, 8], [1, 1, 0, 1, 1, 1, 0, 1, 1, 0]),
    ([3.5, 3.5, 3.5, 7.25, 12, 12, 18.5], [0, 1, 1, 0, 1, 0, 0]),
    ([2, 4, 6], [0, 0, 0]),
    ([2, 4, 6, 6], [1, 1, 1, 1]),
    ([5], [1]),
]


def _random_fixture(seed: int, size: int) -> tuple[list[float], list[int]]:
    rng = np.random.default_rng(seed)
    return (list(np.round(rng.exponential(20, size), 1)),
            list((rng.random(size) < 0.6).astype(int)))


FIXTURES = [*RNG_FIXTURES, _random_fixture(1, 60), _random_fixture(2, 400)]


@pytest.mark.parametrize(("durations", "observed"), FIXTURES)
def test_every_estimate_and_interval_equals_lifelines(durations: list[float],
                                                      observed: list[int]) -> None:
    curve = retention.kaplan_meier(durations, np.array(observed, dtype=bool))
    reference = KaplanMeierFitter().fit(durations, observed)
    timeline = reference.survival_function_.index.to_numpy(dtype=float)
    np.testing.assert_array_equal(curve.times, timeline)
    np.testing.assert_allclose(curve.estimate, reference.survival_function_.iloc[:, 0],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(curve.lower, reference.confidence_interval_.iloc[:, 0],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(curve.upper, reference.confidence_interval_.iloc[:, 1],
                               rtol=0, atol=1e-9)
    # Between and beyond the steps too (6, 12 and 24 months are rarely a step).
    for months in (0.5, 6, 12, 24, 100):
        estimate, low, high = curve.at(months)
        assert estimate == pytest.approx(float(reference.predict(months)), abs=1e-9)
        ci = reference.confidence_interval_
        row = ci[ci.index <= months].iloc[-1]
        assert (low, high) == pytest.approx((row.iloc[0], row.iloc[1]), abs=1e-9)


@pytest.mark.parametrize(("a", "b"), [(FIXTURES[0], FIXTURES[1]), (FIXTURES[5], FIXTURES[6]),
                                      (FIXTURES[3], FIXTURES[6])])
def test_logrank_equals_lifelines(a: tuple[list[float], list[int]],
                                  b: tuple[list[float], list[int]]) -> None:
    ours = retention.logrank(a[0], np.array(a[1], dtype=bool), b[0], np.array(b[1], dtype=bool))
    reference = logrank_test(a[0], b[0], event_observed_A=a[1], event_observed_B=b[1])
    assert ours.statistic == pytest.approx(reference.test_statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(reference.p_value, abs=1e-9)


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="equally long"):
        retention.kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError, match="not negative"):
        retention.kaplan_meier([-1], [True])


@pytest.mark.parametrize(("level", "band"), [(None, "unknown"), (1, "1-2"), (2, "1-2"),
                                             (5, "5-6"), (8, "7-8"), (9, "9+"), (14, "9+")])
def test_level_bands(level: int | None, band: str) -> None:
    assert retention.level_band(level) == band


@pytest.mark.parametrize(("days", "band"), [(0, "<1"), (364, "<1"), (366, "1-3"),
                                            (4 * 365, "3-5"), (7 * 365, "5-10"),
                                            (11 * 365, "10+")])
def test_tenure_bands(days: int, band: str) -> None:
    hired = date(2010, 1, 1)
    assert retention.tenure_band(hired, hired + timedelta(days=days)) == band


# --- a generated workforce with a planted effect -------------------------------------

HAZARD = 0.02  # monthly leave hazard of everyone not taking part
FACTOR = 0.5  # participants' hazard, from their start, is this much of it
STARTS = (date(2021, 3, 1), date(2022, 3, 1))
UNTIL = date(2025, 6, 30)
WINDOW = 24


def _workforce(seed: int) -> tuple[list[Employment], list[Participation]]:
    """Employees hired 2012-2022 who leave at a constant hazard; some take part.

    Those still employed at a programme's start may take part (mentors from the junior
    levels, mentees from the senior ones); from that day their hazard is FACTOR times
    lower (memoryless: the time left is drawn afresh).
    """
    rng = np.random.default_rng(seed)
    size = 8000
    hires = [date(2012, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 11 * 365, size)]
    stays = rng.exponential(1 / HAZARD, size) * retention.MONTH_DAYS
    levels = rng.integers(1, 9, size)
    departments = rng.choice(["sales", "engineering", "finance", "operations"], size)
    leaves: list[date | None] = [h + timedelta(days=int(s))
                                 for h, s in zip(hires, stays, strict=True)]
    taking_part: list[Participation] = []
    for i in range(size):
        for start in STARTS:
            leave = leaves[i]
            employed = hires[i] <= start and (leave is None or leave > start)
            if employed and rng.random() < 0.08 and not any(
                    p.employee_id == f"e{i}" for p in taking_part):
                role = "mentor" if levels[i] <= 4 else "mentee"
                taking_part.append(Participation(employee_id=f"e{i}", role=role, started_on=start))
                rest = rng.exponential(1 / (HAZARD * FACTOR)) * retention.MONTH_DAYS
                leaves[i] = start + timedelta(days=int(rest))
    employees = [
        Employment(employee_id=f"e{i}", hire_on=hires[i],
                   leave_on=leaves[i] if leaves[i] is not None and leaves[i] <= UNTIL else None,
                   job_level=int(levels[i]), department=str(departments[i]))
        for i in range(size)]
    return employees, taking_part


def _first_started(taking_part: list[Participation]) -> dict[str, date]:
    return {p.employee_id: p.started_on for p in retention.first_participations(taking_part)}


def test_the_matched_comparison_recovers_the_planted_retention() -> None:
    employees, taking_part = _workforce(seed=14)
    matched = retention.match(retention.first_participations(taking_part), employees,
                              first_started=_first_started(taking_part),
                              roles=("mentor", "mentee"), k=2, until=UNTIL,
                              window_months=WINDOW)
    for role in ("mentor", "mentee"):
        participants, controls = matched.participants[role], matched.controls[role]
        assert participants.size > 150
        assert matched.unmatched[role] < participants.size // 10
        assert controls.size > participants.size
        for group, hazard in ((participants, HAZARD * FACTOR), (controls, HAZARD)):
            curve = retention.kaplan_meier(*group.arrays())
            for months in (6, 12, 24):
                planted = float(np.exp(-hazard * months))
                estimate, low, high = curve.at(months)
                assert low <= planted <= high, (role, months, planted, estimate, low, high)
        test = retention.logrank(*participants.arrays(), *controls.arrays())
        assert test.p_value < 0.01


def test_a_naive_comparison_from_hire_dates_is_biased_on_the_same_data() -> None:
    employees, taking_part = _workforce(seed=14)
    ever = {p.employee_id for p in taking_part}
    participants, others = retention.naive(taking_part, employees, ever_participated=ever,
                                           until=UNTIL, window_months=WINDOW)
    curve = retention.kaplan_meier(*participants.arrays())
    for months in (12, 24):
        planted = float(np.exp(-HAZARD * FACTOR * months))
        estimate, low, _ = curve.at(months)
        # Counted from hire, participants look better than the planted effect allows:
        # they had to stay until their start to take part (immortal time).
        assert low > planted, (months, estimate, low, planted)
    # And the non-participants look worse than they are: leavers before any start stay in.
    others_curve = retention.kaplan_meier(*others.arrays())
    assert others_curve.at(24)[2] < float(np.exp(-HAZARD * 24))


def test_controls_are_drawn_without_replacement_and_deterministically() -> None:
    employees, taking_part = _workforce(seed=3)
    started = _first_started(taking_part)
    args: dict[str, Any] = dict(first_started=started, roles=("mentor", "mentee"), k=2,
                                until=UNTIL, window_months=WINDOW)
    first = retention.match(retention.first_participations(taking_part), employees, **args)
    again = retention.match(retention.first_participations(list(reversed(taking_part))),
                            list(reversed(employees)), **args)
    controls = [m for role in ("mentor", "mentee") for m in first.controls[role].members]
    ids = [m.employee_id for m in controls]
    assert len(ids) == len(set(ids))
    assert ids == [m.employee_id for role in ("mentor", "mentee")
                   for m in again.controls[role].members]
    # A control takes part later or never; one who joins later is followed only until then.
    later = [m for m in controls if m.employee_id in started]
    assert later, "the generated workforce has controls who join the second programme"
    for m in later:
        assert started[m.employee_id] > m.started_on
        assert m.months <= (started[m.employee_id] - m.started_on).days / retention.MONTH_DAYS
        assert not m.left


def test_a_control_must_still_be_employed_when_participation_starts() -> None:
    start = date(2023, 6, 1)
    base = dict(job_level=3, department="sales")
    participant = Employment(employee_id="p", hire_on=date(2020, 1, 1), leave_on=None, **base)  # type: ignore[arg-type]
    gone = Employment(employee_id="gone", hire_on=date(2020, 2, 1), leave_on=date(2023, 5, 1),
                      **base)  # type: ignore[arg-type]
    other_band = Employment(employee_id="senior", hire_on=date(2020, 2, 1), leave_on=None,
                            job_level=7, department="sales")
    stayer = Employment(employee_id="stayer", hire_on=date(2020, 3, 1),
                        leave_on=date(2023, 12, 1), **base)  # type: ignore[arg-type]
    matched = retention.match(
        [Participation(employee_id="p", role="mentor", started_on=start)],
        [participant, gone, other_band, stayer], first_started={"p": start}, roles=("mentor",),
        k=2, until=date(2024, 1, 1), window_months=24)
    [control] = matched.controls["mentor"].members
    assert control.employee_id == "stayer"
    assert control.started_on == start and control.left
    assert control.months == pytest.approx((date(2023, 12, 1) - start).days / retention.MONTH_DAYS)
    assert matched.unmatched == {"mentor": 0}


def test_promotion_is_the_first_higher_level_after_the_start_within_the_follow_up() -> None:
    start = date(2024, 1, 1)
    member = retention.AtRisk(employee_id="e", started_on=start, months=12.0, left=False)
    seen = [(date(2023, 6, 1), 3), (date(2024, 3, 1), 3), (date(2024, 7, 1), 4),
            (date(2024, 9, 1), 5)]
    promoted = retention.promotion(member, seen)
    assert promoted is not None and promoted.left
    assert promoted.months == pytest.approx((date(2024, 7, 1) - start).days / retention.MONTH_DAYS)
    # A change after the follow-up ends does not count; no level seen means no figure.
    late = retention.promotion(member, [(date(2023, 6, 1), 3), (date(2025, 6, 1), 4)])
    assert late is not None and not late.left and late.months == 12.0
    assert retention.promotion(member, []) is None
