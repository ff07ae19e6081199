"""Provably optimal whole-cohort matching: solve on candidates, price the rest, repeat.

The problem is a maximum-weight b-matching: each mentee takes at most one
mentor, each mentor at most their free places, and only eligible pairs count.
Its linear programme is totally unimodular, so dual values (u for mentees,
v for mentors, both >= 0, u_i + v_j >= w_ij on every eligible pair) certify
optimality: a matching whose duals cover every pair cannot be improved.

1. Scan: for each mentee, every mentor is scored exactly (`compiled.best_pairs`,
   compiled, on every core, no pair matrix). Its best pairs at the current mentor
   prices p become candidates (64 in the first solve, k later), the next best
   ones its reserve (scored, kept aside), and `rest_i` is the best value
   w_ij - p_j of the pairs beyond. Large cohorts start from prices estimated
   on a 1-in-10 sample.
2. Solve the restricted problem exactly: a min-cost flow over the active
   candidates (OR-Tools' cost-scaling solver; capacities are arc capacities,
   a mentee may stay unmatched at no cost). When only a few mentees gained a
   pair the last duals do not cover, the last matching is repaired instead
   (`compiled.repair`: a shortest augmenting path per such mentee). Candidates
   far below their duals sit a solve out and are woken when they could
   improve it.
3. Duals: optimal (u, v) meeting complementary slackness on the candidate
   graph, by label correcting (longest and shortest paths over mentors;
   optimality of the restricted solution means there is no positive cycle),
   chosen as close as they can be to the prices the mentees were scanned at.
4. Proof: reserve pairs are checked exactly against (u, v) and join the
   candidates if they could improve the matching. A pair beyond the reserve
   was worth at most rest_i at the prices of i's last full scan, so now at
   most rest_i + (p_j - v_j); mentors a partial re-scan covered are bounded
   the same way at that re-scan's prices (`_Bounds`). Where neither can exceed
   u_i, no pair of i can improve the matching; otherwise i is scanned again
   at prices v, against only the mentors whose price fell enough to matter.
   The loop goes on until every mentee is proven: the result is optimal over
   all eligible pairs, though most of them are never stored.

Objectives are encoded in integer weights, so "then" is exact:
- max_score:          w' = score * (n + 1) + 1  (the most total score, then the most pairs);
- max_participation:  w' = score + (100 * n + 1) * 100 (the most pairs, then the most score).
"""

from __future__ import annotations

import logging
import threading
import time as _time
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from matching import compiled, scoring

Objective = Literal["max_score", "max_participation"]
Ints = NDArray[np.int64]
Index = NDArray[np.intp]

# One whole-cohort solve at a time per process: it already uses every core.
_SOLVING = threading.Lock()
# From this many mentees, first prices come from a sample of 1 in SAMPLE (see _first_prices).
SAMPLE_FROM = 20_000
SAMPLE = 10
# Re-scans wait for the next solve while more than this share of mentees gained reserve pairs.
DEFER_FROM = 0.1
# Slack (in score hundredths) a re-scan secures beyond what the latest prices need.
MARGIN = 100
# Candidate pairs more than this (score hundredths) below their duals sit out the next solve.
SET_ASIDE = 300
# Candidate pairs per mentee in the first solve (the rest of the first scan's best are reserve).
FIRST_CANDIDATES = 64
# Mentees whose reserves are merged at once after a partial re-scan (bounds temporaries).
MERGE_ROWS = 8192
# A solve repairs the last matching (`compiled.repair`, a shortest path per mentee) when
# few mentees have a new pair its duals do not cover: at most REPAIR_SHARE of them, or
# REPAIR_MIN; and with at most REPAIR_WORK arc relaxations per candidate pair, else
# the min-cost flow starts from scratch. A repair's cost grows with those mentees, a
# solve's with the whole candidate graph, so the repair wins only while they are few
# (the README gives the benchmark's figures).
REPAIR_SHARE = 0.005
REPAIR_MIN = 8
REPAIR_WORK = 5
_log = logging.getLogger(__name__)


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
    """The growing candidate edge set (local mentee, local mentor, score), without repeats.

    Every pair here is scored exactly. Only the `active` ones go into the restricted
    problem: a pair whose reduced cost at the latest duals is well below zero is set
    aside, checked exactly against every later set of duals, and woken if it could
    improve the matching, so the min-cost flow stays the size of what is contested.
    """

    def __init__(self, m: int) -> None:
        self.m = m
        self.keys = np.empty(0, dtype=np.int64)
        self.score = np.empty(0, dtype=np.int64)
        self.active = np.empty(0, dtype=np.bool_)

    def add(self, mi: Index, mj: Index, score: Ints) -> int:
        keys = mi.astype(np.int64) * self.m + mj
        keys, first = np.unique(keys, return_index=True)
        fresh = ~_isin_sorted(keys, self.keys)
        if not fresh.any():
            return 0
        # Both sides are sorted: insert in place of a full re-sort (time and peak memory).
        at = np.searchsorted(self.keys, keys[fresh])
        self.keys = np.insert(self.keys, at, keys[fresh])
        self.score = np.insert(self.score, at, score[first][fresh])
        self.active = np.insert(self.active, at, True)
        return int(fresh.sum())

    def settle(self, weight: Ints, u: Ints, v: Ints, slack: int) -> int:
        """After a solve: wake set-aside pairs that could improve it, set aside far ones."""
        reduced = weight - u[self.mentee] - v[self.mentor]
        woken = ~self.active & (reduced > 0)
        self.active = (reduced >= -slack) | woken
        return int(woken.sum())

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
    return cast("NDArray[np.bool_]", table[at] == keys)  # numpy types `==` as Any


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
    del tails, heads, capacities, costs
    flow.set_nodes_supplies(np.array([source, sink], dtype=np.int32),
                            np.array([n_rows, -n_rows], dtype=np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow did not solve: {status}")
    used = flow.flows(arcs[n_rows : n_rows + ei.size]) > 0
    matched = np.full(n_rows, -1, dtype=np.intp)
    matched[ei[used]] = ej[used]
    return matched


def resolve(n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints,
            matched: Index, u: Ints, v: Ints) -> tuple[Index, bool]:
    """`solve_restricted` after edges joined a problem whose optimal matching and duals
    (u, v) are known: repaired from them when few mentees gained (edges grouped by
    mentee). Returns the matching and whether it was repaired (or kept: nobody gained)."""
    gained = np.unique(ei[weight - u[ei] - v[ej] > 0]).size
    if 0 < gained <= max(REPAIR_SHARE * n_rows, REPAIR_MIN):
        start = np.searchsorted(ei, np.arange(n_rows + 1)).astype(np.int64)
        began = _time.perf_counter()
        found, done = compiled.repair(capacity.astype(np.int64), start, ej.astype(np.int64),
                                      weight.astype(np.int64), matched.astype(np.int64),
                                      u, v, REPAIR_WORK * max(ei.size, 1))
        _log.debug("repair for %d mentees: %s in %.2f s", gained,
                   "done" if done else "over budget", _time.perf_counter() - began)
        if done:
            return found.astype(np.intp), True
    elif gained == 0:
        return matched, True
    return solve_restricted(n_rows, capacity, ei, ej, weight), False


def duals(
    n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints, matched: Index,
    near: Ints | None = None,
) -> tuple[Ints, Ints]:
    """Optimal duals (u, v) of an optimal restricted solution (local indices)."""
    taken = np.bincount(matched[matched >= 0], minlength=capacity.size)
    saturated = taken >= capacity
    has = matched >= 0
    is_match = matched[ei] == ej
    matched_weight = np.zeros(n_rows, dtype=np.int64)
    matched_weight[ei[is_match]] = weight[is_match]
    # u_i must stay >= 0 and >= w_ij of any candidate mentor j with a free place (v_j = 0).
    need = np.zeros(n_rows, dtype=np.int64)
    free = ~saturated[ej]
    np.maximum.at(need, ei[free], weight[free])
    args = (saturated, matched.astype(np.int64), ei.astype(np.int64), ej.astype(np.int64),
            weight.astype(np.int64), matched_weight)
    floor = np.zeros(capacity.size, dtype=np.int64)
    if near is not None:
        # Any optimal duals certify; the proof goes fastest with prices that moved least
        # from `near` (the prices mentees were scanned at), up to one common shift, which
        # changes no pair's standing: so between the least and the greatest optimal prices,
        # as close to `near` moved by the median shift they need.
        lowest = compiled.least_prices(*args, floor)
        upper = np.full(capacity.size, compiled.NO_BOUND, dtype=np.int64)
        np.minimum.at(upper, matched[has], (matched_weight - need)[has])
        upper[~saturated] = 0
        highest = compiled.greatest_prices(*args, upper)
        shift = np.where(near < lowest, lowest - near, np.where(near > highest, highest - near, 0))
        floor = np.clip(near + int(np.median(shift[saturated])) if saturated.any() else near,
                        lowest, highest)
    v = compiled.least_prices(*args, floor)
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


def _plus(a: Ints, b: Ints) -> Ints:
    """a + b, NONE where either is NONE."""
    none = (a == compiled.NONE) | (b == compiled.NONE)
    return np.where(none, compiled.NONE, np.where(none, 0, a) + np.where(none, 0, b))


class _Bounds:
    """What each mentee's scans proved about its pairs outside the candidates and reserve.

    Two regions per mentee, each with the prices it was scanned at:
    - base: the whole row at its last full scan; a pair (i, j) there is worth at
      most rest_i at those prices p (w_ij - p_j <= rest_i);
    - recent: after a partial re-scan, the mentors scanned then (the first
      recent_len of the mentors in order of their fall from the base prices to the
      re-scan's), worth at most recent_rest_i at the re-scan's prices.
    A partial re-scan keeps the base bound (so small price moves elsewhere do not
    reopen it) and folds the region it replaces into it.
    """

    def __init__(self, n: int, first: Ints, margin: int) -> None:
        self.prices = [first]
        self.margin = margin
        self.base_at = np.zeros(n, dtype=np.intp)
        self.rest = np.full(n, compiled.NONE, dtype=np.int64)
        self.recent_at = np.full(n, -1, dtype=np.intp)
        self.recent_len = np.zeros(n, dtype=np.int64)
        self.recent_rest = np.full(n, compiled.NONE, dtype=np.int64)
        # The recent region's pairs left out, valued at the base prices instead.
        self.recent_at_base = np.full(n, compiled.NONE, dtype=np.int64)
        self._orders: dict[tuple[int, int], Index] = {}
        self.partial = 0  # re-scans of part of a row

    def order(self, base: int, recent: int) -> Index:
        """Mentors by their price fall from snapshot `base` to `recent`, largest first."""
        key = (base, recent)
        if key not in self._orders:
            fall = self.prices[base] - self.prices[recent]
            self._orders[key] = np.argsort(-fall, kind="stable").astype(np.intp)
        return self._orders[key]

    def _groups(self, which: Index) -> list[tuple[int, int, Index]]:
        key = self.base_at[which].astype(np.int64) * (len(self.prices) + 1) + (
            self.recent_at[which] + 1)
        return [(int(g) // (len(self.prices) + 1), int(g) % (len(self.prices) + 1) - 1,
                 which[key == g]) for g in np.unique(key)]

    def bound(self, v: Ints) -> Ints:
        """The most any pair of each mentee's regions can be worth at prices v (NONE: none)."""
        n = self.rest.size
        out = np.full(n, compiled.NONE, dtype=np.int64)
        m = v.size
        for base, recent, who in self._groups(np.arange(n, dtype=np.intp)):
            fall = self.prices[base] - v
            if recent < 0:
                out[who] = _plus(self.rest[who], np.full(who.size, fall.max()))
                continue
            order = self.order(base, recent)
            after = np.append(np.maximum.accumulate(fall[order][::-1])[::-1], compiled.NONE)
            within = np.insert(np.maximum.accumulate((self.prices[recent] - v)[order]), 0,
                               compiled.NONE)
            size = np.minimum(self.recent_len[who], m)
            out[who] = np.maximum(_plus(self.rest[who], after[size]),
                                  _plus(self.recent_rest[who], within[size]))
        return out

    def _merge(self, enc: _Weights, base: int, position: Ints, lim: Ints, old: Index,
               old_score: Ints, cols: Index, scores: Ints, rows: Index,
               k: int) -> tuple[Ints, Ints, Ints]:
        """Merge old reserve pairs outside the prefix with a partial re-scan's reserve.

        The best by value at the latest prices stay (written into cols/scores at
        rows); the rest are folded: old ones at base prices, new ones at the latest
        prices and at base prices. Returns those three bounds.
        """
        v = self.prices[-1]
        outside = (old >= 0) & (position[np.maximum(old, 0)] >= lim[:, None])
        new = cols[rows, k:]
        both = np.concatenate([np.where(outside, old, -1), new], axis=1)
        both_score = np.concatenate([old_score, scores[rows, k:]], axis=1)
        value = np.where(both >= 0, enc.of(both_score) - v[np.maximum(both, 0)], compiled.NONE)
        rank = np.argsort(-np.maximum(value, compiled.NONE + 1), axis=1, kind="stable")
        both = np.take_along_axis(both, rank, axis=1)
        both_score = np.take_along_axis(both_score, rank, axis=1)
        from_old = rank < old.shape[1]
        width = new.shape[1]
        cols[rows, k:] = both[:, :width]
        scores[rows, k:] = both_score[:, :width]
        dropped, dropped_score = both[:, width:], both_score[:, width:]
        dropped_old = from_old[:, width:] & (dropped >= 0)
        dropped_new = ~from_old[:, width:] & (dropped >= 0)
        safe = np.maximum(dropped, 0)
        at_base = enc.of(dropped_score) - self.prices[base][safe]
        at_latest = enc.of(dropped_score) - v[safe]

        def best(mask: NDArray[np.bool_], value: Ints) -> Ints:
            masked = np.where(mask, value, compiled.NONE)
            # numpy types a reduction over an axis as Any.
            return cast("Ints", masked.max(axis=1, initial=compiled.NONE))

        return best(dropped_old, at_base), best(dropped_new, at_latest), best(dropped_new,
                                                                              at_base)

    def rescan(self, packed: compiled.Packed, which: Index, u: Ints, enc: _Weights, k: int,
               reserve_col: Index, reserve_score: Ints) -> tuple[Index, Ints, int]:
        """Scan `which` again at the latest prices, only against mentors that could matter.

        Against the latest prices v a base pair is worth at most rest_i + (p_j - v_j),
        so only mentors whose price fell by more than u_i - rest_i (less a margin, so
        small moves later do not reopen the proof) need scoring: mentors are put in
        order of the fall and each mentee scans just that prefix, which becomes its
        recent region. The region it replaces and the old reserve pairs outside the
        prefix are folded into the base bound; a prefix of more than half the mentors
        is made a full scan, which becomes the new base.
        """
        latest = len(self.prices) - 1
        v = self.prices[latest]
        m = v.size
        width = k + reserve_col.shape[1]
        cols = np.empty((which.size, width), dtype=np.intp)
        scores = np.empty((which.size, width), dtype=np.int64)
        work = 0
        for base in np.unique(self.base_at[which]).tolist():
            part = np.flatnonzero(self.base_at[which] == base)
            mentees = which[part]
            order = self.order(base, latest)
            falls = (self.prices[base] - v)[order]
            need = np.where(self.rest[mentees] == compiled.NONE, np.iinfo(np.int64).max,
                            u[mentees] - self.rest[mentees] - self.margin)
            limit = np.searchsorted(-falls, -need, side="left").astype(np.int64)
            limit = np.where(limit * 2 > m, m, limit)
            found = compiled.best_pairs(compiled.reorder(packed, order), mentees, v[order],
                                        enc.multiplier, enc.offset, width, limit=limit,
                                        base=self.prices[base][order])
            c, sc, left = found.cols, found.scores, found.rest
            cols[part] = np.where(c >= 0, order[np.maximum(c, 0)], -1)
            scores[part] = sc
            work += int(limit.sum())
            whole = limit >= m
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("re-scan from base %d at %d: %d mentees, %d whole rows, prefix "
                           "quartiles %s", base, latest, mentees.size, int(whole.sum()),
                           np.percentile(limit, [25, 50, 75]).astype(int).tolist())
            # Full scans: a new base, nothing else to remember.
            full = mentees[whole]
            self.base_at[full] = latest
            self.rest[full] = left[whole]
            self.recent_at[full] = -1
            self.recent_len[full] = 0
            self.recent_rest[full] = compiled.NONE
            self.recent_at_base[full] = compiled.NONE
            # Partial scans: old reserve pairs outside the prefix are still exact; they
            # compete with the new ones for the reserve, and those that lose are folded into
            # the bound of their region (base prices outside, latest prices inside).
            some, lim = mentees[~whole], limit[~whole]
            self.partial += int(some.size)
            position = np.empty(m, dtype=np.int64)
            position[order] = np.arange(m)
            rows = part[~whole]
            folded = np.empty(some.size, dtype=np.int64)
            inside = np.empty(some.size, dtype=np.int64)
            inside_at_base = np.empty(some.size, dtype=np.int64)
            for c0 in range(0, some.size, MERGE_ROWS):  # in slices: bounded temporaries
                c1 = min(some.size, c0 + MERGE_ROWS)
                folded[c0:c1], inside[c0:c1], inside_at_base[c0:c1] = self._merge(
                    enc, base, position, lim[c0:c1], reserve_col[some[c0:c1]],
                    reserve_score[some[c0:c1]], cols, scores, rows[c0:c1], k)
            # The region replaced, at base prices (worked out when it was scanned).
            earlier = self.recent_at_base[some]
            self.rest[some] = np.maximum(np.maximum(self.rest[some], folded), earlier)
            self.recent_at[some] = latest
            self.recent_len[some] = lim
            self.recent_rest[some] = np.maximum(left[~whole], inside)
            self.recent_at_base[some] = np.maximum(found.rest_at_base[~whole], inside_at_base)
        return cols, scores, work


def _first_prices(pool: scoring.Pool, capacity: Ints, objective: Objective, rows: Index,
                  mentor_rows: Index, packed: compiled.Packed, enc: _Weights, k: int,
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
    bids = compiled.best_bids(packed, some_mentees, sample.duals[0], sample_enc.multiplier,
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
    packed = compiled.pack(pool, rows, mentor_rows)
    cap_local = capacity[mentor_rows]
    edges = _Candidates(m)
    t = _time.perf_counter()
    known = _Bounds(n, _first_prices(pool, capacity, objective, rows, mentor_rows, packed,
                                     enc, k, max_rounds),
                    MARGIN * enc.multiplier)
    prices = known.prices
    stats["first_prices_seconds"] = round(_time.perf_counter() - t, 3)
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
    v = np.zeros(m, dtype=np.int64)
    stale = True
    solves = active_pairs = repaired = 0
    while rounds < max_rounds:
        rounds += 1
        # 1. scan the mentees not yet proven, at the latest prices
        t = _time.perf_counter()
        if rounds == 1:
            first = compiled.best_pairs(packed, which, prices[-1], enc.multiplier, enc.offset,
                                        k + k2)
            scanned += int(which.size) * m
            eligible[which] = first.eligible
            known.rest[which] = first.rest
            # The first solve takes more than later ones (k_first pairs a mentee): at the
            # first prices that is the part of the market that is contested, and solving
            # it at once saves the rounds that would bring its pairs in one by one.
            k1 = min(k + k2, max(k, FIRST_CANDIDATES))
            top = first.cols[:, :k1]
            keep = top >= 0
            edges.add(np.repeat(which, k1)[keep.ravel()], top[keep], first.scores[:, :k1][keep])
            reserve_col[which, : k + k2 - k1] = first.cols[:, k1:]
            reserve_score[which, : k + k2 - k1] = first.scores[:, k1:]
        elif which.size:
            cols, scores, work = known.rescan(packed, which, u, enc, k, reserve_col,
                                              reserve_score)
            scanned += work
            top, top_scores = cols[:, :k], scores[:, :k]
            keep = top >= 0
            mi, mj, ms = np.repeat(which, k)[keep.ravel()], top[keep], top_scores[keep]
            edges.add(mi, mj, ms)
            # New candidates that the current duals already cover leave the solution optimal.
            stale = stale or bool((enc.of(ms) - u[mi] - v[mj] > 0).any())
            reserve_col[which] = cols[:, k:]
            reserve_score[which] = scores[:, k:]
        scan_seconds += _time.perf_counter() - t
        # 2-3. exact solve on the candidates, then the duals that certify it
        woken = 0
        if stale:
            t = _time.perf_counter()
            act = edges.active
            ei, ej, weight = edges.mentee[act], edges.mentor[act], enc.of(edges.score[act])
            if solves:
                matched, was_repaired = resolve(n, cap_local, ei, ej, weight, matched, u, v)
                repaired += was_repaired
            else:
                matched = solve_restricted(n, cap_local, ei, ej, weight)
            solves += 1
            active_pairs += int(ei.size)
            solve_seconds += _time.perf_counter() - t
            t = _time.perf_counter()
            u, v = duals(n, cap_local, ei, ej, weight, matched, prices[-1])
            woken = edges.settle(enc.of(edges.score), u, v, SET_ASIDE * enc.multiplier)
            dual_seconds += _time.perf_counter() - t
            stale = woken > 0
        # 4. proof: which mentees could still gain from a pair they left out?
        # Reserve pairs are known exactly: any that now improves joins the candidates.
        held = reserve_col >= 0
        gain = np.where(held, enc.of(reserve_score) - v[np.maximum(reserve_col, 0)]
                        - u[:, None], 0)
        r, c = np.nonzero(held & (gain > 0))
        added = edges.add(r.astype(np.intp), reserve_col[r, c], reserve_score[r, c])
        stale = stale or added > 0
        # The rest is bounded through the prices of each mentee's scans.
        bound = known.bound(v)
        unproven = (bound != compiled.NONE) & (bound > u)
        stats.setdefault("unproven_per_round", []).append(int(unproven.sum()))
        _log.debug("round %d at %.1f s: %d solves, %d reserve pairs added, %d unproven, "
                   "%d pairs scored", rounds, _time.perf_counter() - began, solves, added,
                   int(unproven.sum()), scanned)
        if not unproven.any() and added == 0 and woken == 0:
            optimal = True
            break
        if _time.perf_counter() > deadline:
            timed_out = True
            break
        which = np.flatnonzero(unproven).astype(np.intp)
        if added > n * DEFER_FROM:
            # Many reserve pairs improve: the candidates are still thin, and their duals
            # would send re-scans after prices that the next solve moves again.
            which = which[:0]
        prices.append(v.copy())
    stats.update(rounds=rounds, solves=solves, repaired_solves=repaired,
                 partial_rescans=known.partial,
                 pairs_per_solve=active_pairs // max(solves, 1),
                 candidate_pairs=int(edges.keys.size), timed_out=timed_out,
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
