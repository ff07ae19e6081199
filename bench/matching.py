"""Whole-cohort matching and shortlist latency, on the scoring and solver layer.

Run: `python -m bench.matching` (part of `make bench`). Each cohort size runs
in a child process of its own, so its peak memory (maxrss) is its own and a
size that overruns its time limit is stopped and reported as such.

- Dry runs at 1,000 x 1,000, 10,000 x 10,000 and 100,000 mentees (about as many
  mentor places), scoring included, for both objectives' headline (max_score).
- SciPy's `linear_sum_assignment` alone on the precomputed dense 10k x 10k matrix.
- A greedy baseline (best pairs first) beside the optimum.
- Shortlist p99: one mentee among 10,000 mentors through `suggestions.suggestions`,
  on a real (SQLite) database with migrations applied.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

LIMIT_SECONDS = int(os.environ.get("BENCH_MATCHING_LIMIT", "900"))
# The solver's own deadline for the largest size: past it, the best matching so far is
# reported with optimal=False instead of the process being stopped.
DEADLINE_SECONDS = float(os.environ.get("BENCH_MATCHING_DEADLINE", "600"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cohort_run(mentees: int, mentors: int, capacities: tuple[int, ...], dense: bool,
                deadline: float | None, out: Any) -> None:
    from matching import scoring, solver
    from tests.matching.cohorts import cohort

    people = cohort(mentees, mentors, seed=11, capacities=capacities)
    began = time.perf_counter()
    pool = scoring.build_pool(*people, scoring.Rules(min_level_gap=2))
    built = time.perf_counter() - began
    found = solver.solve(pool, pool.mentors.capacity, "max_score", deadline_seconds=deadline)
    seconds = time.perf_counter() - began
    result: dict[str, Any] = {
        "rows": mentees, "mentors": mentors, "places": int(pool.mentors.capacity.sum()),
        "seconds": seconds, "build": built, "rss": _rss_mb(), "total": found.total / 100,
        "matched": found.matched, "optimal": found.optimal, "stats": found.stats,
    }
    # Greedy baseline over each mentee's 64 best eligible pairs (what "best first" looks at);
    # past the dense sizes, over the solver's own candidate pairs.
    gi, gj, gw = [], [], []
    if found.candidates is not None and mentees * mentors > 250_000_000:
        gi, gj, gw = [found.candidates[0]], [found.candidates[1]], [found.candidates[2]]
        result["greedy_over"] = "solver candidates"
    for start in range(0, mentees if not gi else 0, 512):
        rows = np.arange(start, min(start + 512, mentees))
        scored = scoring.score_rows(pool, rows)
        value = np.where(scored.eligible, scored.total, -1)
        k = min(64, mentors)
        top = np.argpartition(-value, k - 1, axis=1)[:, :k]
        r = np.repeat(rows, k)
        c = top.ravel()
        ok = value[r - start, c] >= 0
        gi.append(r[ok])
        gj.append(c[ok])
        gw.append(value[r - start, c][ok])
    g_total, g_matched = solver.greedy(pool.mentors.capacity, np.concatenate(gi),
                                       np.concatenate(gj), np.concatenate(gw))
    result.update(greedy_total=g_total / 100, greedy_matched=g_matched)
    result["rss"] = _rss_mb()  # peak of our run alone, before SciPy's dense matrix
    if dense:
        from scipy.optimize import linear_sum_assignment

        t = time.perf_counter()
        scores, eligible = scoring.dense_scores(pool)
        places = np.repeat(np.arange(mentors), pool.mentors.capacity)
        matrix = np.where(eligible[:, places], scores[:, places], 0).astype(np.float64)
        del scores, eligible
        result["dense_build"] = time.perf_counter() - t
        t = time.perf_counter()
        r, c = linear_sum_assignment(matrix, maximize=True)
        result["scipy_seconds"] = time.perf_counter() - t
        result["scipy_total"] = float(matrix[r, c].sum()) / 100
        result["rss_with_dense"] = _rss_mb()
    out.put(result)


def cohort_case(mentees: int, mentors: int, capacities: tuple[int, ...] = (1,),
                dense: bool = False, deadline: float | None = None) -> dict[str, Any]:
    """One size in its own process, stopped after LIMIT_SECONDS."""
    ctx = mp.get_context("spawn")
    queue: Any = ctx.Queue()
    child = ctx.Process(target=_cohort_run, args=(mentees, mentors, capacities, dense, deadline,
                                                        queue))
    child.start()
    began = time.perf_counter()
    try:
        result: dict[str, Any] = queue.get(timeout=LIMIT_SECONDS)
    except Exception:  # noqa: BLE001 - a timeout: the size overran its limit
        child.terminate()
        child.join()
        return {"rows": mentees, "mentors": mentors, "timeout": time.perf_counter() - began}
    child.join()
    return result


async def _shortlist(mentors: int, calls: int) -> dict[str, float]:
    from matching import repository, suggestions
    from matching.main import SERVICE
    from matching.models import Candidate, MatchingEmployee, MatchingProgramme
    from matching.pool import PoolCache
    from tests.matching.cohorts import cohort
    from upward_common.auth import Principal, Role
    from upward_common.db import create_engine, make_sessionmaker, upgrade_async
    from upward_common.events import utcnow

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'matching.db'}"
        # Alembic's env runs its own event loop: from async code it gets a thread.
        await upgrade_async(SERVICE.migrations_dir, url)
        engine = create_engine(url)
        sessionmaker = make_sessionmaker(engine)
        mentees, mentor_people = cohort(1, mentors, seed=5)
        now = utcnow()
        async with sessionmaker() as session:
            session.add(MatchingProgramme(id="bench", name="Bench", known=True, min_level_gap=2))
            for role, person in [("mentee", mentees[0])] + [("mentor", p) for p in mentor_people]:
                session.add(MatchingEmployee(
                    id=person.employee_id, given_name=person.given_name,
                    job_level=person.job_level, department=person.department,
                    manager_id=person.manager_id, manager_chain=list(person.manager_chain),
                    location=person.location, time_zone=person.time_zone, occurred_at=now))
                session.add(Candidate(
                    participant_id=person.participant_id, programme_id="bench",
                    employee_id=person.employee_id, role=role, occurred_at=now,
                    topics_teach=[{"topic": t, "level": lv} for t, lv in person.topics_teach],
                    topics_learn=[{"topic": t, "level": lv} for t, lv in person.topics_learn],
                    interests=list(person.interests),
                    availability=[{"weekday": d, "start": s, "end": e}
                                  for d, s, e in person.availability],
                    time_zone=person.time_zone, meeting_formats=list(person.meeting_formats),
                    languages=list(person.languages), mentor_capacity=person.capacity))
            await session.commit()
        admin = Principal(sub="bench", roles=frozenset({Role.HR_ADMIN}))
        cache = PoolCache()
        timings: list[float] = []
        mentee_id = mentees[0].participant_id
        for _ in range(calls + 1):
            async with sessionmaker() as session:
                t = time.perf_counter()
                result = await suggestions.suggestions(
                    session, user=admin, programme_id="bench", mentee_participant_id=mentee_id,
                    limit=3, cache=cache)
                timings.append((time.perf_counter() - t) * 1000)
                assert len(result.suggestions) == 3
        async with sessionmaker() as session:
            await repository.bump_revisions(session, ["bench"])
            await session.commit()
        await engine.dispose()
    cold, warm = timings[0], sorted(timings[1:])
    return {"cold_ms": cold, "p50_ms": statistics.median(warm),
            "p99_ms": warm[int(0.99 * (len(warm) - 1))], "calls": float(len(warm))}


def _row(label: str, r: dict[str, Any]) -> str:
    if "timeout" in r:
        return f"{label:<26} stopped after {r['timeout']:.0f} s (limit {LIMIT_SECONDS} s)"
    stats = r["stats"]
    return (f"{label:<26} {r['seconds']:>8.1f} {r['rss']:>9.0f} {r['matched']:>8} "
            f"{r['total']:>13,.2f} {r['greedy_matched']:>8} {r['greedy_total']:>13,.2f} "
            f"{r['optimal']!s:>7} {stats.get('rounds', 0):>6} "
            f"{stats.get('scored_pairs', 0):>13,}"
            + (" (deadline reached)" if stats.get("timed_out") else "")
            + (" (greedy over the solver's candidates)" if r.get("greedy_over") else ""))


def _split(r: dict[str, Any]) -> str:
    """Where a run's time went, from the solver's own figures."""
    stats = r["stats"]
    return (f"{'':<26} pool {r['seconds'] - stats.get('seconds', 0.0):.1f} s, first prices "
            f"{stats.get('first_prices_seconds', 0.0):.1f} s, scans "
            f"{stats.get('scan_seconds', 0.0):.1f} s, {stats.get('solves', 0)} solves "
            f"({stats.get('repaired_solves', 0)} repaired) "
            f"{stats.get('solve_seconds', 0.0):.1f} s, duals "
            f"{stats.get('dual_seconds', 0.0):.1f} s")


def main() -> None:
    print(f"cohort dry runs (max_score, scoring included); {os.cpu_count()} cores", flush=True)
    print(f"{'size':<26} {'seconds':>8} {'peak MB':>9} {'matched':>8} {'total':>13} "
          f"{'greedy#':>8} {'greedy total':>13} {'optimal':>7} {'rounds':>6} "
          f"{'pairs scored':>13}", flush=True)
    cases = [("1k", "1,000 x 1,000", 1_000, 1_000, (1,), False, None),
             ("10k", "10,000 x 10,000", 10_000, 10_000, (1,), True, None),
             ("100k", "100,000 x 66,667 (1-2)", 100_000, 66_667, (1, 2), False,
              DEADLINE_SECONDS)]
    # `python -m bench.matching 1k 100k` runs only those sizes.
    # (`make bench BENCH=matching` passes the module's own name: that means everything.)
    wanted = {a for a in sys.argv[1:] if a in {c[0] for c in cases} | {"shortlist"}}
    cases = [c for c in cases if not wanted or c[0] in wanted]
    for _, label, n, m, caps, with_dense, deadline in cases:
        result = cohort_case(n, m, caps, with_dense, deadline)
        print(_row(label, result), flush=True)
        if "timeout" not in result:
            print(_split(result), flush=True)
        if with_dense and "timeout" not in result:
            _print_dense(result)
    if wanted and "shortlist" not in wanted:
        return
    short = asyncio.run(_shortlist(10_000, 200))
    print(f"shortlist, 1 mentee among 10,000 mentors (suggestions.suggestions, SQLite): "
          f"cold {short['cold_ms']:.0f} ms, p50 {short['p50_ms']:.1f} ms, "
          f"p99 {short['p99_ms']:.1f} ms over {short['calls']:.0f} calls", flush=True)


def _print_dense(dense: dict[str, Any]) -> None:
    if dense:
        print(f"SciPy linear_sum_assignment alone on the dense 10k x 10k matrix: "
              f"{dense['scipy_seconds']:.1f} s (matrix built in {dense['dense_build']:.1f} s), "
              f"total {dense['scipy_total']:,.2f} vs ours {dense['total']:,.2f}; "
              f"peak {dense['rss_with_dense']:,.0f} MB with the dense matrix", flush=True)


if __name__ == "__main__":
    main()
