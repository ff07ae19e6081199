"""The whole-cohort optimiser is exact: it equals an independent solver on random cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from matching import scoring, solver
from tests.matching.cohorts import cohort

BIG = 10**7


@pytest.fixture
def sampled_first_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large cohorts start from prices estimated on a sample; force that path on small ones."""
    monkeypatch.setattr(solver, "SAMPLE_FROM", 20)
    monkeypatch.setattr(solver, "SAMPLE", 3)


def reference(pool: scoring.Pool, objective: str) -> tuple[int, int]:
    """(total hundredths, matched) by SciPy's dense assignment with capacities expanded."""
    scores, eligible = scoring.dense_scores(pool)
    places = np.repeat(np.arange(len(pool.mentors)), pool.mentors.capacity)
    if objective == "max_score":
        dense = np.where(eligible[:, places], scores[:, places], 0)
        r, c = linear_sum_assignment(dense, maximize=True)
        return int(dense[r, c].sum()), int((dense[r, c] > 0).sum())
    dense = np.where(eligible[:, places], scores[:, places] + BIG, 0)
    r, c = linear_sum_assignment(dense, maximize=True)
    total = int(dense[r, c].sum())
    return total % BIG, total // BIG


def random_instance(seed: int) -> scoring.Pool:
    rng = np.random.default_rng(seed)
    mentees, mentors = cohort(int(rng.integers(5, 70)), int(rng.integers(3, 45)), seed=seed,
                              capacities=(1, 2, 3))
    rules = scoring.Rules(
        min_level_gap=int(rng.integers(0, 5)),
        max_time_zone_hours=float(rng.choice([2.0, 5.0])) if seed % 3 == 0 else None,
        min_overlap_hours=float(rng.choice([1.0, 2.5])) if seed % 4 == 0 else None,
        mutual=seed % 5 == 0,
    )
    return scoring.build_pool(mentees, mentors, rules)


@pytest.mark.parametrize("objective", ["max_score", "max_participation"])
@pytest.mark.parametrize("seed", range(30))
def test_the_optimum_equals_scipy_on_the_dense_matrix(seed: int, objective: str) -> None:
    pool = random_instance(seed)
    rng = np.random.default_rng(seed + 1000)
    # One or two candidates and a small reserve per mentee force several scans at new prices.
    found = solver.solve(pool, pool.mentors.capacity, objective,  # type: ignore[arg-type]
                         candidates_per_mentee=int(rng.integers(1, 3)),
                         reserve_per_mentee=int(rng.integers(0, 4)))
    assert found.optimal
    total, matched = reference(pool, objective)
    if objective == "max_participation":
        assert found.matched == matched
    assert found.total == total

    scores, eligible = scoring.dense_scores(pool)
    assert eligible[found.mentees, found.mentors].all()
    assert (found.scores == scores[found.mentees, found.mentors]).all()
    assert len(set(found.mentees.tolist())) == found.matched
    assert (np.bincount(found.mentors, minlength=len(pool.mentors))
            <= pool.mentors.capacity).all()


def test_a_run_on_part_of_the_cohort_with_places_taken_is_optimal_for_that_part() -> None:
    pool = random_instance(7)
    rows = np.arange(0, len(pool.mentees), 2)
    free = pool.mentors.capacity.copy()
    free[::3] = 0
    found = solver.solve(pool, free, "max_score", mentee_rows=rows, candidates_per_mentee=1,
                         reserve_per_mentee=2)
    assert found.optimal
    scores, eligible = scoring.dense_scores(pool)
    places = np.repeat(np.arange(len(pool.mentors)), free)
    dense = np.where(eligible[np.ix_(rows, places)], scores[np.ix_(rows, places)], 0)
    r, c = linear_sum_assignment(dense, maximize=True)
    assert found.total == int(dense[r, c].sum())
    assert set(found.mentees.tolist()) <= set(rows.tolist())
    assert (free[found.mentors] > 0).all()


def test_participation_first_matches_more_people_than_score_first() -> None:
    # Scored on topics alone: the strong mentor is worth more to the first mentee than
    # the two possible pairs together, but only pairing both gets everyone a mentor.
    strong = scoring.Person("r1", "e-r1", job_level=1, topics_teach=(("AI tools", 5),
                                                                   ("Python", 5)))
    weak = scoring.Person("r2", "e-r2", job_level=1, topics_teach=(("Knitting", 1),),
                          avoid_employee_ids=("e-m2",))
    first = scoring.Person("m1", "e-m1", job_level=9,
                           topics_learn=(("AI tools", 1), ("Python", 2)))
    second = scoring.Person("m2", "e-m2", job_level=9,
                            topics_learn=(("AI tools", 1), ("Cooking", 2)))
    rules = scoring.Rules(min_level_gap=2, weights={"complementarity": 1.0})
    pool = scoring.build_pool([first, second], [strong, weak], rules)
    by_score = solver.solve(pool, pool.mentors.capacity, "max_score")
    by_people = solver.solve(pool, pool.mentors.capacity, "max_participation")
    assert (by_score.matched, by_score.total) == (1, 10_000)
    assert (by_people.matched, by_people.total) == (2, 5_556)
    assert reference(pool, "max_participation") == (5_556, 2)


def test_unmatched_mentees_are_told_why() -> None:
    mentor = scoring.Person("r1", "e-r1", job_level=1, topics_teach=(("AI tools", 5),))
    keen = scoring.Person("m1", "e-m1", job_level=9, topics_learn=(("AI tools", 1),))
    late = scoring.Person("m2", "e-m2", job_level=9,
                          topics_learn=(("Cooking", 1), ("AI tools", 2)))
    too_junior = scoring.Person("m3", "e-m3", job_level=2, topics_learn=(("AI tools", 1),))
    pool = scoring.build_pool([keen, late, too_junior], [mentor], scoring.Rules(min_level_gap=3))
    found = solver.solve(pool, pool.mentors.capacity, "max_score")
    assert found.mentees.tolist() == [0]
    assert dict(zip(found.unmatched.tolist(), found.unmatched_reason, strict=True)) == {
        1: "capacity_taken", 2: "no_eligible_mentor"}


def test_the_greedy_baseline_is_never_better() -> None:
    pool = random_instance(3)
    scores, eligible = scoring.dense_scores(pool)
    mi, mj = np.nonzero(eligible)
    greedy_total, _ = solver.greedy(pool.mentors.capacity, mi, mj, scores[mi, mj])
    best = solver.solve(pool, pool.mentors.capacity, "max_score")
    assert greedy_total <= best.total


@pytest.mark.parametrize("objective", ["max_score", "max_participation"])
@pytest.mark.parametrize("seed", range(8))
def test_first_prices_from_a_sample_change_the_work_not_the_optimum(
    seed: int, objective: str, sampled_first_prices: None
) -> None:
    pool = random_instance(seed + 60)
    found = solver.solve(pool, pool.mentors.capacity, objective,  # type: ignore[arg-type]
                         candidates_per_mentee=2, reserve_per_mentee=seed % 3)
    assert found.optimal
    total, matched = reference(pool, objective)
    assert found.total == total
    if objective == "max_participation":
        assert found.matched == matched


def _weights(objective: str, n: int, scores: np.ndarray) -> np.ndarray:
    if objective == "max_score":
        return scores * (n + 1) + 1
    return scores + scoring.SCALE * n + 1


@pytest.mark.parametrize("objective", ["max_score", "max_participation"])
@pytest.mark.parametrize("seed", range(6))
def test_the_returned_duals_certify_the_optimum_over_every_eligible_pair(
    seed: int, objective: str, sampled_first_prices: None
) -> None:
    # The proof's claim, checked on the dense matrix: u_i + v_j >= w_ij for every eligible
    # pair, prices only where places are full, and the duals' total equals the matching's.
    pool = random_instance(seed + 200)
    found = solver.solve(pool, pool.mentors.capacity, objective,  # type: ignore[arg-type]
                         candidates_per_mentee=1, reserve_per_mentee=seed % 3)
    assert found.optimal and found.duals is not None
    u, v = found.duals
    n = len(pool.mentees)
    scores, eligible = scoring.dense_scores(pool)
    w = _weights(objective, n, scores.astype(np.int64))
    assert (u >= 0).all() and (v >= 0).all()
    assert (np.where(eligible, u[:, None] + v[None, :] - w, 0) >= 0).all()
    taken = np.bincount(found.mentors, minlength=len(pool.mentors))
    assert (v[taken < pool.mentors.capacity] == 0).all()
    matched_weight = int(w[found.mentees, found.mentors].sum())
    assert int(u.sum() + (v * pool.mentors.capacity).sum()) == matched_weight


@pytest.mark.parametrize("objective", ["max_score", "max_participation"])
def test_partial_re_scans_keep_the_proof_exact(
    objective: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cohort large enough that re-scans cover only the mentors whose price fell.
    monkeypatch.setattr(solver, "SAMPLE_FROM", 100)
    mentees, mentors = cohort(400, 260, seed=3, capacities=(1, 2))
    pool = scoring.build_pool(mentees, mentors, scoring.Rules(min_level_gap=2))
    found = solver.solve(pool, pool.mentors.capacity, objective,  # type: ignore[arg-type]
                         candidates_per_mentee=2, reserve_per_mentee=3)
    assert found.optimal
    assert found.stats["partial_rescans"] > 0
    assert found.stats["repaired_solves"] > 0  # and later solves repair the last matching
    total, matched = reference(pool, objective)
    assert found.total == total
    if objective == "max_participation":
        assert found.matched == matched


def _weight(matched: np.ndarray, keys: dict[tuple[int, int], int]) -> int:
    return sum(keys[(i, int(j))] for i, j in enumerate(matched.tolist()) if j >= 0)


@pytest.mark.parametrize("seed", range(40))
def test_a_repaired_matching_is_as_good_as_one_solved_from_scratch(seed: int) -> None:
    # An optimal matching of some edges and its duals, then the rest of the edges join.
    from matching import compiled

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 40)), int(rng.integers(1, 30))
    capacity = rng.integers(1, 3, m).astype(np.int64)
    pairs = np.unique(rng.choice(n * m, int(rng.integers(1, n * m + 1))))
    ei, ej = (pairs // m).astype(np.intp), (pairs % m).astype(np.intp)
    weight = rng.integers(1, 50, pairs.size).astype(np.int64) * (n + 1) + 1
    first = rng.random(pairs.size) < rng.random()
    first[0] = True
    before = solver.solve_restricted(n, capacity, ei[first], ej[first], weight[first])
    u, v = solver.duals(n, capacity, ei[first], ej[first], weight[first], before)
    start = np.searchsorted(ei, np.arange(n + 1)).astype(np.int64)
    args = (capacity, start, ej.astype(np.int64), weight, before.astype(np.int64), u, v)
    repaired, done = compiled.repair(*args, 10**9)
    assert done
    keys = dict(zip(zip(ei.tolist(), ej.tolist(), strict=True), weight.tolist(), strict=True))
    assert all(j < 0 or (i, j) in keys for i, j in enumerate(repaired.tolist()))
    assert (np.bincount(repaired[repaired >= 0], minlength=m) <= capacity).all()
    fresh = solver.solve_restricted(n, capacity, ei, ej, weight)
    assert _weight(repaired, keys) == _weight(fresh, keys)
    gained = np.unique(ei[weight - u[ei] - v[ej] > 0]).size
    if gained:  # with no work allowed, it says so and the solver starts from scratch
        assert not compiled.repair(*args, 0)[1]
