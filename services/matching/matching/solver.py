"""Provably optimal whole-cohort matching: solve on candidates, price the rest, repeat.

The problem is a maximum-weight b-matching: each mentee takes at most one
mentor, each mentor at most their free places, and only eligible pairs count.
Its linear programme is totally unimodular, so dual values (u for mentees,
v for mentors, both >= 0, u_i + v_j >= w_ij on every eligible pair) certify
optimality: a matching whose duals cover every pair cannot be improved.

1. Scan: for each mentee, every mentor is scored exactly (`kernel.best_pairs`,
   compiled, both cores, no pair matrix). Its k best pairs at the current
   mentor prices p become candidates, the next best ones its reserve (scored,
   kept aside), and `rest_i` is the best value w_ij - p_j of the pairs beyond.
   Large cohorts start from prices estimated on a 1-in-10 sample.
2. Solve the restricted problem exactly: a min-cost flow over the candidates
   (OR-Tools' cost-scaling solver; capacities are arc capacities, a mentee
   may stay unmatched at no cost).
3. Duals: the least (u, v) meeting complementary slackness on the candidate
   graph, by label correcting (a longest-path computation; optimality of the
   restricted solution means there is no positive cycle).
4. Proof: reserve pairs are checked exactly against (u, v) and join the
   candidates if they could improve the matching. A pair beyond the reserve
   was worth at most rest_i at the prices of i's last scan, so now at most
   rest_i + (p_j - v_j). Where that cannot exceed u_i, no pair of i can
   improve the matching; otherwise i is scanned again at prices v, against
   only the mentors whose price fell enough to matter. The loop goes on until
   every mentee is proven: the result is optimal over all eligible pairs,
   though most of them are never stored.

Objectives are encoded in integer weights, so "then" is exact:
- max_score:          w' = score * (n + 1) + 1  (the most total score, then the most pairs);
- max_participation:  w' = score + (100 * n + 1) * 100 (the most pairs, then the most score).
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from matching import kernel, scoring

Objective = Literal["max_score", "max_participation"]
Ints = NDArray[np.int64]
Index = NDArray[np.intp]

# One whole-cohort solve at a time per process: it already uses every core.
_SOLVING = threading.Lock()
# From this many mentees, first prices come from a sample of 1 in SAMPLE (see _first_prices).
SAMPLE_FROM = 20_000
SAMPLE = 10


@dataclass
class Solution:
    """Matched (mentee row, mentor row) pairs with their scores in hundredths."""

    mentees: Index
    mentors: Index
    scores: Ints
    total: int
    optimal: bool
    unmatched: Index
    unmatched_reason: list[str]
    stats: dict[str, Any] = field(default_factory=dict)
    # The final candidate pairs (mentee rows, mentor rows, scores), for baselines and checks.
    candidates: tuple[Index, Index, Ints] | None = None
    # The certifying duals: u per mentee of the run, v per mentor with a free place.
    duals: tuple[Ints, Ints] | None = None

    @property
    def matched(self) -> int:
        return int(self.mentees.size)


@dataclass
class _Weights:
    objective: Objective
    n: int

    @property
    def multiplier(self) -> int:
        return self.n + 1 if self.objective == "max_score" else 1

    @property
    def offset(self) -> int:
        return 1 if self.objective == "max_score" else scoring.SCALE * self.n + 1

    def of(self, score: Ints) -> Ints:
        return score * self.multiplier + self.offset


class _Candidates:
    """The growing candidate edge set (local mentee, local mentor, score), without repeats."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.keys = np.empty(0, dtype=np.int64)
        self.score = np.empty(0, dtype=np.int64)

    def add(self, mi: Index, mj: Index, score: Ints) -> int:
        keys = mi.astype(np.int64) * self.m + mj
        keys, first = np.unique(keys, return_index=True)
        fresh = ~_isin_sorted(keys, self.keys)
        if not fresh.any():
            return 0
        merged = np.concatenate([self.keys, keys[fresh]])
        order = np.argsort(merged, kind="stable")
        self.keys = merged[order]
        self.score = np.concatenate([self.score, score[first][fresh]])[order]
        return int(fresh.sum())

    @property
    def mentee(self) -> Index:
        return (self.keys // self.m).astype(np.intp)

    @property
    def mentor(self) -> Index:
        return (self.keys % self.m).astype(np.intp)


def _isin_sorted(keys: Ints, table: Ints) -> NDArray[np.bool_]:
    if table.size == 0:
        return np.zeros(keys.shape, dtype=np.bool_)
    at = np.searchsorted(table, keys).clip(0, table.size - 1)
    return table[at] == keys


def solve_restricted(
    n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints
) -> Index:
    """Exact maximum-weight b-matching on explicit edges (local indices); -1 = unmatched.

    A min-cost flow: source -> mentee (1) -> mentor (1, cost -w) -> sink (capacity),
    and mentee -> sink (1, cost 0) for staying unmatched.
    """
    m = capacity.size
    source, sink = n_rows + m, n_rows + m + 1
    mentees = np.arange(n_rows, dtype=np.int32)
    tails = np.concatenate([np.full(n_rows, source, np.int32), ei.astype(np.int32),
                            (n_rows + np.arange(m)).astype(np.int32), mentees])
    heads = np.concatenate([mentees, (n_rows + ej).astype(np.int32),
                            np.full(m, sink, np.int32), np.full(n_rows, sink, np.int32)])
    capacities = np.concatenate([np.ones(n_rows + ei.size, np.int64),
                                 capacity.astype(np.int64), np.ones(n_rows, np.int64)])
    costs = np.concatenate([np.zeros(n_rows, np.int64), -weight.astype(np.int64),
                            np.zeros(m + n_rows, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    flow.set_nodes_supplies(np.array([source, sink], dtype=np.int32),
                            np.array([n_rows, -n_rows], dtype=np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow did not solve: {status}")
    used = flow.flows(arcs[n_rows : n_rows + ei.size]) > 0
    matched = np.full(n_rows, -1, dtype=np.intp)
    matched[ei[used]] = ej[used]
    return matched


def duals(
    n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints, matched: Index,
) -> tuple[Ints, Ints]:
    """The least optimal duals (u, v) of an optimal restricted solution (local indices)."""
    taken = np.bincount(matched[matched >= 0], minlength=capacity.size)
    saturated = taken >= capacity
    has = matched >= 0
    is_match = matched[ei] == ej
    matched_weight = np.zeros(n_rows, dtype=np.int64)
    matched_weight[ei[is_match]] = weight[is_match]
    v = kernel.least_prices(saturated, matched.astype(np.int64), ei.astype(np.int64),
                            ej.astype(np.int64), weight.astype(np.int64), matched_weight)
    u = np.where(has, matched_weight - v[np.where(has, matched, 0)], 0)
    return u.astype(np.int64), v


def solve(
    pool: scoring.Pool,
    capacity: Ints,
    objective: Objective = "max_score",
    *,
    mentee_rows: Index | None = None,
    candidates_per_mentee: int = 16,
    reserve_per_mentee: int = 48,
    max_rounds: int = 100,
    deadline_seconds: float | None = None,
) -> Solution:
    """The optimal matching of `mentee_rows` to mentors with free `capacity`, with proof.

    With `deadline_seconds`, the proof stops when time is up and the best matching
    found so far comes back with `optimal=False` (a valid matching, not a proven one).
    """
    with _SOLVING:
        return _solve(pool, capacity, objective, mentee_rows, candidates_per_mentee,
                      reserve_per_mentee, max_rounds, deadline_seconds)


def _rescan(packed: kernel.Packed, which: Index, prices: list[Ints], scanned_at: Index,
            rest: Ints, u: Ints, enc: _Weights, k: int, reserve_col: Index,
            reserve_score: Ints) -> tuple[Index, Ints, Ints, int]:
    """Scan again, at the latest prices, only the mentors that could break each proof.

    Mentee i's pairs left out at its last scan were worth at most rest_i at those
    prices p. Against the latest prices v a pair is worth at most rest_i + (p_j - v_j),
    so only mentors whose price fell by more than u_i - rest_i (less a margin of one
    point, so small moves later do not reopen the proof) need scoring: mentors are put
    in order of the fall and each mentee scans just its prefix. The new `rest` covers
    both parts: the best left-out pair scanned, and rest_i plus the largest fall not
    scanned. Reserve pairs of the last scan with mentors outside the prefix are
    known exactly, so their values at the latest prices join `rest` too.
    """
    latest = prices[-1]
    margin = 100 * enc.multiplier
    m = latest.size
    width = k + reserve_col.shape[1]
    cols = np.empty((which.size, width), dtype=np.intp)
    scores = np.empty((which.size, width), dtype=np.int64)
    left = np.empty(which.size, dtype=np.int64)
    work = 0
    for snapshot in np.unique(scanned_at[which]).tolist():
        part = np.flatnonzero(scanned_at[which] == snapshot)
        mentees = which[part]
        fall = prices[snapshot] - latest
        order = np.argsort(-fall, kind="stable").astype(np.intp)
        falls = fall[order]
        # Mentors to scan: fall > u_i - rest_i - margin; they come first in `order`.
        need = u[mentees] - rest[mentees] - margin
        limit = np.searchsorted(-falls, -need, side="left").astype(np.int64)
        view = kernel.reorder(packed, order)
        c, sc, best_left, _ = kernel.best_pairs(view, mentees, latest[order], enc.multiplier,
                                                enc.offset, width, limit=limit)
        cols[part] = np.where(c >= 0, order[np.maximum(c, 0)], -1)
        scores[part] = sc
        unscanned = np.where(limit < m, falls[np.minimum(limit, m - 1)], kernel.NONE)
        carried = np.where(unscanned != kernel.NONE, rest[mentees] + unscanned, kernel.NONE)
        position = np.empty(m, dtype=np.int64)
        position[order] = np.arange(m)
        old = reserve_col[mentees]
        outside = (old >= 0) & (position[np.maximum(old, 0)] >= limit[:, None])
        kept = np.where(outside, enc.of(reserve_score[mentees]) - latest[np.maximum(old, 0)],
                        kernel.NONE)
        folded = kept.max(axis=1) if kept.shape[1] else np.full(mentees.size, kernel.NONE)
        left[part] = np.maximum(np.maximum(best_left, carried), folded)
        work += int(limit.sum())
    return cols, scores, left, work


def _first_prices(pool: scoring.Pool, capacity: Ints, objective: Objective, rows: Index,
                  mentor_rows: Index, packed: kernel.Packed, enc: _Weights, k: int,
                  max_rounds: int) -> Ints:
    """Mentor prices to scan at first: zero for small cohorts, else estimated from a sample.

    The proof holds whatever the first prices are; good ones save whole scans,
    because a mentee is re-scanned only against mentors whose price then falls.
    A random 1-in-10 sample of mentees and of mentors (the same market in
    miniature) is solved exactly; every mentor's estimate is the best bid a
    sampled mentee would make for it at its sampled utility, w_ij - u_i.
    """
    n, m = rows.size, mentor_rows.size
    if n < SAMPLE_FROM or m < SAMPLE:
        return np.zeros(m, dtype=np.int64)
    rng = np.random.default_rng(n * 7919 + m)
    some_mentees = np.sort(rng.choice(n, n // SAMPLE, replace=False))
    some_mentors = mentor_rows[rng.choice(m, m // SAMPLE, replace=False)]
    sample_capacity = np.zeros_like(capacity)
    sample_capacity[some_mentors] = capacity[some_mentors]
    sample = _solve(pool, sample_capacity, objective, rows[some_mentees], k, 0, max_rounds,
                    None)
    if sample.duals is None:
        return np.zeros(m, dtype=np.int64)
    sample_enc = _Weights(objective, some_mentees.size)
    bids = kernel.best_bids(packed, some_mentees, sample.duals[0], sample_enc.multiplier,
                            sample_enc.offset)
    scale = enc.multiplier / sample_enc.multiplier
    return np.rint(np.maximum(bids, 0) * scale).astype(np.int64)


def _solve(pool: scoring.Pool, capacity: Ints, objective: Objective, mentee_rows: Index | None,
           k: int, k2: int, max_rounds: int, deadline_seconds: float | None) -> Solution:
    began = _time.perf_counter()
    n_all, _ = pool.shape
    rows = np.arange(n_all, dtype=np.intp) if mentee_rows is None else np.asarray(
        mentee_rows, dtype=np.intp)
    capacity = np.asarray(capacity, dtype=np.int64)
    mentor_rows = np.flatnonzero(capacity > 0).astype(np.intp)
    n, m = rows.size, mentor_rows.size
    stats: dict[str, Any] = {"mentees": int(n), "mentors": int(m),
                             "places": int(capacity[mentor_rows].sum())}
    if n == 0 or m == 0:
        return Solution(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.int64), 0,
                        True, rows, ["no_eligible_mentor"] * int(n), stats)
    enc = _Weights(objective, n)
    k = max(1, min(k, m))
    packed = kernel.pack(pool, rows, mentor_rows)
    cap_local = capacity[mentor_rows]
    edges = _Candidates(m)
    # For each mentee: the prices of its last scan (index into `prices`) and the best value
    # w_ij - p_j it left out then (NONE: it left nothing out).
    t = _time.perf_counter()
    prices: list[Ints] = [_first_prices(pool, capacity, objective, rows, mentor_rows, packed,
                                        enc, k, max_rounds)]
    stats["first_prices_seconds"] = round(_time.perf_counter() - t, 3)
    scanned_at = np.zeros(n, dtype=np.intp)
    rest = np.full(n, kernel.NONE, dtype=np.int64)
    eligible = np.zeros(n, dtype=np.int64)
    # Each mentee's next-best pairs of its last scan, scored but outside the restricted
    # problem: checked exactly against every new set of duals, which spares most re-scans.
    k2 = max(0, min(k2, m - k))
    reserve_col = np.full((n, k2), -1, dtype=np.intp)
    reserve_score = np.zeros((n, k2), dtype=np.int64)
    which = np.arange(n, dtype=np.intp)
    deadline = began + deadline_seconds if deadline_seconds is not None else float("inf")
    optimal = timed_out = False
    rounds = scanned = 0
    scan_seconds = solve_seconds = dual_seconds = 0.0
    matched = np.full(n, -1, dtype=np.intp)
    u = np.zeros(n, dtype=np.int64)
    while rounds < max_rounds:
        rounds += 1
        # 1. scan the mentees not yet proven, at the latest prices
        t = _time.perf_counter()
        if rounds == 1:
            cols, scores, left, count = kernel.best_pairs(packed, which, prices[-1],
                                                          enc.multiplier, enc.offset, k + k2)
            scanned += int(which.size) * m
            eligible[which] = count
        elif which.size:
            cols, scores, left, work = _rescan(packed, which, prices, scanned_at, rest, u,
                                               enc, k, reserve_col, reserve_score)
            scanned += work
        if which.size:
            top, top_scores = cols[:, :k], scores[:, :k]
            keep = top >= 0
            edges.add(np.repeat(which, k)[keep.ravel()], top[keep], top_scores[keep])
            reserve_col[which] = cols[:, k:]
            reserve_score[which] = scores[:, k:]
            rest[which] = left
            scanned_at[which] = len(prices) - 1
        scan_seconds += _time.perf_counter() - t
        # 2-3. exact solve on the candidates, then the duals that certify it
        t = _time.perf_counter()
        ei, ej = edges.mentee, edges.mentor
        weight = enc.of(edges.score)
        matched = solve_restricted(n, cap_local, ei, ej, weight)
        solve_seconds += _time.perf_counter() - t
        t = _time.perf_counter()
        u, v = duals(n, cap_local, ei, ej, weight, matched)
        dual_seconds += _time.perf_counter() - t
        # 4. proof: which mentees could still gain from a pair they left out?
        # Reserve pairs are known exactly: any that now improves joins the candidates.
        held = reserve_col >= 0
        gain = np.where(held, enc.of(reserve_score) - v[np.maximum(reserve_col, 0)]
                        - u[:, None], 0)
        r, c = np.nonzero(held & (gain > 0))
        added = edges.add(r.astype(np.intp), reserve_col[r, c], reserve_score[r, c])
        # The rest is bounded through the prices of each mentee's last scan.
        drift = np.array([int((p - v).max()) for p in prices], dtype=np.int64)
        open_rest = rest != kernel.NONE
        bound = np.where(open_rest, rest + drift[scanned_at], 0)
        unproven = open_rest & (bound > u)
        stats.setdefault("unproven_per_round", []).append(int(unproven.sum()))
        if not unproven.any() and added == 0:
            optimal = True
            break
        if _time.perf_counter() > deadline:
            timed_out = True
            break
        which = np.flatnonzero(unproven).astype(np.intp)
        prices.append(v.copy())
    stats.update(rounds=rounds, candidate_pairs=int(edges.keys.size), timed_out=timed_out,
                 scored_pairs=int(scanned), scan_seconds=round(scan_seconds, 3),
                 solve_seconds=round(solve_seconds, 3), dual_seconds=round(dual_seconds, 3))
    hit = matched >= 0
    keys = np.flatnonzero(hit).astype(np.int64) * m + matched[hit]
    scores = edges.score[np.searchsorted(edges.keys, keys)]
    unmatched = np.flatnonzero(~hit)
    reasons = ["capacity_taken" if eligible[i] > 0 else "no_eligible_mentor"
               for i in unmatched.tolist()]
    stats["seconds"] = round(_time.perf_counter() - began, 3)
    return Solution(rows[hit], mentor_rows[matched[hit]], scores, int(scores.sum()), optimal,
                    rows[unmatched], reasons, stats,
                    candidates=(rows[edges.mentee], mentor_rows[edges.mentor], edges.score),
                    duals=(u, v))


def greedy(capacity: Ints, edges_mi: Index, edges_mj: Index, scores: Ints) -> tuple[int, int]:
    """The usual greedy baseline: best pairs first while both sides are free (total, matched)."""
    free = np.asarray(capacity, dtype=np.int64).copy()
    taken: set[int] = set()
    total = matched = 0
    for k in np.lexsort((edges_mj, edges_mi, -scores)).tolist():
        i, j = int(edges_mi[k]), int(edges_mj[k])
        if i in taken or free[j] <= 0:
            continue
        taken.add(i)
        free[j] -= 1
        total += int(scores[k])
        matched += 1
    return total, matched
