"""The score people see and the rules that protect them, on small hand-made pools."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from matching import scoring
from matching.scoring import Person, Rule, Rules

WINTER = date(2026, 1, 14)
SUMMER = date(2026, 7, 15)


def one(mentee: Person, mentor: Person, rules: Rules) -> tuple[scoring.Pool, scoring.Scored]:
    pool = scoring.build_pool([mentee], [mentor], rules)
    return pool, scoring.score_block(pool, np.array([0]), np.array([0]), with_points=True)


def test_availability_overlap_is_counted_in_utc_across_both_zones_and_seasons() -> None:
    london = Person("e", "e1", job_level=9, time_zone="Europe/London",
                    availability=((0, "14:00", "17:00"),))
    new_york = Person("r", "r1", job_level=1, time_zone="America/New_York",
                      availability=((0, "09:00", "12:00"),))
    rules = Rules(weights={"availability": 1.0}, ideal_overlap_hours=3.0)
    # Winter: London is UTC+0 and New York UTC-5, so the windows coincide entirely.
    _, winter = one(london, new_york, Rules(**{**rules.__dict__, "reference_date": WINTER}))
    assert winter.total[0, 0] == 10_000
    # The week after the US moved its clocks but Europe had not: one hour apart.
    _, march = one(london, new_york, Rules(**{**rules.__dict__,
                                               "reference_date": date(2026, 3, 18)}))
    assert march.total[0, 0] == round(10_000 * 2 / 3)


def test_the_breakdown_adds_up_to_the_score_and_reads_like_a_sentence() -> None:
    jane = Person("e", "e1", given_name="Jane", job_level=9, department="Sales",
                  topics_learn=(("Data analytics", 1), ("AI tools", 2)),
                  interests=("jazz", "chess"), languages=("English",),
                  availability=((1, "09:00", "11:00"),), time_zone="Europe/Paris")
    sam = Person("r", "r1", given_name="Sam", job_level=3, department="IT",
                 topics_teach=(("Data analytics", 4),), interests=("Jazz",),
                 languages=("english",), availability=((1, "09:00", "11:00"),),
                 time_zone="Europe/Paris")
    pool, scored = one(jane, sam, Rules(reference_date=WINTER))
    assert scored.points is not None
    breakdown = scoring.explain(pool, 0, 0, scored.points[:, 0, 0])
    assert round(sum(f["points"] for f in breakdown), 2) == scored.total[0, 0] / 100
    reasons = {f["factor"]: f["reason"] for f in breakdown}
    assert reasons["complementarity"] == "teaches Data analytics (4/5), which Jane ranks first"
    assert reasons["interests"] == "shares interests: jazz"
    assert reasons["availability"].startswith("2 h a week")
    assert reasons["language"] == "both speak english"
    assert "cross-silo" in reasons["department"]
    assert "diversity" not in reasons  # the programme did not opt in


def test_diversity_counts_only_where_the_programme_opts_in_and_stays_private() -> None:
    mentee = Person("e", "e1", job_level=9)
    mentor = Person("r", "r1", job_level=1, diversity={"under_represented": "yes"})
    _, plain = one(mentee, mentor, Rules())
    pool, opted = one(mentee, mentor, Rules(diversity_objective=True))
    assert plain.points is not None and opted.points is not None
    assert plain.points[scoring.FACTORS.index("diversity"), 0, 0] == 0
    assert opted.points[scoring.FACTORS.index("diversity"), 0, 0] > 0
    shown = scoring.explain(pool, 0, 0, opted.points[:, 0, 0], show_sensitive=False)
    assert "diversity" not in {f["factor"] for f in shown}
    assert "programme_objective" in {f["factor"] for f in shown}


def test_each_hard_constraint_is_reported_by_name() -> None:
    boss = Person("e", "boss", job_level=9, manager_chain=("ceo",))
    report = Person("r", "deep", job_level=2, manager_chain=("mid", "boss", "ceo"))
    _, scored = one(boss, report, Rules())
    assert scoring.rule_list(int(scored.violations[0, 0])) == [Rule.REPORTING_LINE]

    senior = Person("e", "e1", job_level=5, manager_id="m", topics_learn=(("DEI", 1),),
                    avoid_employee_ids=("r1",))
    junior = Person("r", "r1", job_level=4, manager_id="m", dei_opt_in=False)
    _, scored = one(senior, junior, Rules(min_level_gap=2))
    assert {scoring.RULE_NAMES[r] for r in scoring.rule_list(int(scored.violations[0, 0]))} == {
        "level_gap", "same_manager", "avoid_list", "dei_opt_in"}
    _, allowed = one(senior, Person("r", "r1", job_level=1, dei_opt_in=True),
                     Rules(min_level_gap=2, allow_shared_manager=True))
    assert allowed.violations[0, 0] == int(Rule.AVOID_LIST)

    far = Person("r", "r2", job_level=1, time_zone="Asia/Tokyo",
                 availability=((0, "09:00", "10:00"),))
    near = Person("e", "e2", job_level=9, time_zone="Europe/London",
                  availability=((0, "09:00", "10:00"),))
    _, limited = one(near, far, Rules(max_time_zone_hours=4, min_overlap_hours=1,
                                      reference_date=WINTER))
    assert scoring.rule_list(int(limited.violations[0, 0])) == [
        Rule.TIME_ZONE_DISTANCE, Rule.AVAILABILITY_OVERLAP]


def test_previously_paired_people_are_never_matched_again() -> None:
    mentee, mentor = Person("e", "e1", job_level=9), Person("r", "r1", job_level=1)
    pool = scoring.build_pool([mentee], [mentor], Rules(), previous_pairs=[("e", "r")])
    scored = scoring.score_block(pool, np.array([0]), np.array([0]))
    assert scored.violations[0, 0] == int(Rule.PREVIOUSLY_PAIRED)
    assert scoring.count_eligible(pool) == 0


@pytest.mark.parametrize("seed", range(16))
def test_the_compiled_scan_scores_exactly_like_the_matrix_products(seed: int) -> None:
    """Every route to a score gives the same hundredths: the solver maximises what people see."""
    from matching import compiled
    from tests.matching.cohorts import cohort

    rng = np.random.default_rng(seed)
    mentees, mentors = cohort(int(rng.integers(5, 90)), int(rng.integers(3, 60)), seed=seed)
    rules = Rules(min_level_gap=int(rng.integers(0, 5)), mutual=seed % 2 == 0,
                  max_time_zone_hours=2.0 if seed % 3 == 0 else None,
                  min_overlap_hours=1.5 if seed % 4 == 0 else None,
                  diversity_objective=seed % 3 == 1, allow_shared_manager=seed % 5 == 0,
                  weights={**scoring.DEFAULT_WEIGHTS, "interests": float(seed % 4)})
    pool = scoring.build_pool(mentees, mentors, rules)
    n, m = pool.shape
    rows, cols = np.arange(n)[::-1].copy(), np.arange(m)
    total, ok = compiled.score_all(compiled.pack(pool, rows, cols))
    scores, eligible = scoring.dense_scores(pool)
    assert (ok == eligible[rows]).all()
    assert (total[ok] == scores[rows][ok]).all()  # the compiled scan totals eligible pairs only
    k = np.arange(min(n, m))
    pair_totals, pair_rules, _ = scoring.pair_scores(pool, k, k)
    assert (pair_totals == scores[k, k]).all() and ((pair_rules == 0) == eligible[k, k]).all()


def test_the_scan_uses_no_more_threads_than_the_cpu_quota(tmp_path: Path) -> None:
    """In a container with a CPU limit, the scan runs as many threads as the limit allows."""
    from matching import compiled

    v2, v1, none = tmp_path / "v2", tmp_path / "v1", tmp_path / "none"
    (v1 / "cpu").mkdir(parents=True)
    v2.mkdir()
    none.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert compiled.cpu_quota(v2) == 1.5 and compiled.cpu_quota(v1) == 1.0
    assert compiled.cpu_quota(none) is None
    (v2 / "cpu.max").write_text("max 100000\n")
    assert compiled.cpu_quota(v2) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert compiled.cpu_quota(v1) is None
    (none / "cpu.max").write_text("50000 100000\n")
    assert compiled.cores(none) == 1  # half a CPU still gets one thread
    allowed = len(os.sched_getaffinity(0))
    assert compiled.cores(v2) == allowed  # no limit: every CPU the process may use
