"""Provably optimal whole-cohort matching: solve on candidates, price the rest, repeat.

The problem is a maximum-weight b-matching: each mentee takes at most one
mentor, each mentor at most their free places, and only eligible pairs count.
Its linear programme is totally unimodular, so the dual values (u for mentees,
v for mentors, both >= 0, u_i + v_j >= w_ij on every eligible pair) certify
optimality: a solution whose duals cover every pair cannot be improved.

1. Candidates: mentors are grouped by likeness (`scoring.group_mentors`); for
   each mentee the groups with the highest score bound are scored exactly and
   the mentee's best `k` eligible pairs kept.
2. Solve the restricted problem exactly: capacities expanded into places,
   one "unmatched" column per mentee, LAPJVsp
   (`scipy.sparse.csgraph.min_weight_full_bipartite_matching`).
3. Duals: the least (u, v) meeting complementary slackness on the candidate
   graph, by label correcting (a longest-path computation; optimality of the
   restricted solution means there is no positive cycle).
4. Pricing: a pruned pair can improve the solution only if w_ij > u_i + v_j.
   Whole groups are ruled out with their bound (bound_ig - min v over the
   group <= u_i); groups that cannot be ruled out are scored exactly and any
   pair that prices in joins the candidates. Repeat from 2 until none does.

Objectives are encoded in integer weights, so "then" is exact:
- max_score:          w' = score * (n + 1) + 1  (the most total score, then the most pairs);
- max_participation:  w' = score + (100 * n + 1) * 100 (the most pairs, then the most score).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matching import scoring

Objective = Literal["max_score", "max_participation"]
Ints = NDArray[np.int64]
Index = NDArray[np.intp]

# Bound-matrix cells computed at once (mentees x groups): keeps memory flat.
BOUND_CELLS = 1 << 21


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
    """The growing candidate edge set (global mentee row, global mentor row, weight)."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.keys = np.empty(0, dtype=np.int64)
        self.score = np.empty(0, dtype=np.int64)

    def add(self, mi: Index, mj: Index, score: Ints) -> int:
        keys = mi.astype(np.int64) * self.m + mj
        fresh = ~np.isin(keys, self.keys)
        if not fresh.any():
            return 0
        keys, score = keys[fresh], score[fresh]
        keys, first = np.unique(keys, return_index=True)
        merged = np.concatenate([self.keys, keys])
        order = np.argsort(merged, kind="stable")
        self.keys = merged[order]
        self.score = np.concatenate([self.score, score[first]])[order]
        return int(keys.size)

    def contains(self, mi: Index, mj: Index) -> NDArray[np.bool_]:
        keys = mi.astype(np.int64) * self.m + mj
        if self.keys.size == 0:
            return np.zeros(keys.shape, dtype=np.bool_)
        at = np.searchsorted(self.keys, keys).clip(0, self.keys.size - 1)
        return self.keys[at] == keys

    @property
    def mentee(self) -> Index:
        return (self.keys // self.m).astype(np.intp)

    @property
    def mentor(self) -> Index:
        return (self.keys % self.m).astype(np.intp)


def _by_group(li: Index, gs: Index) -> list[tuple[int, Index]]:
    """(group, local mentee rows asking for it) for every group asked for."""
    order = np.argsort(gs, kind="stable")
    gs, li = gs[order], li[order]
    cuts = np.flatnonzero(np.diff(gs)) + 1
    return [(int(g[0]), part) for g, part in zip(np.split(gs, cuts), np.split(li, cuts),
                                                  strict=True) if g.size]


def _score_requests(
    pool: scoring.Pool, groups: scoring.MentorGroups, rows: Index, rank: Index,
    li_all: Index, g_all: Index, chunk: int = 256,
) -> Any:
    """Score the requested (local mentee, group) cells; yields (mentees, mentors, Scored, mask).

    Mentees are taken in `rank` order (similar people together) so a chunk's
    requests share groups; a chunk is scored as one dense block when the block
    is mostly requested, else group by group (a big block is many times faster
    per pair than many small ones).
    """
    if li_all.size == 0:
        return
    ends = np.append(groups.starts[1:], groups.order.size)
    position = rank[li_all] // chunk
    order = np.argsort(position, kind="stable")
    li_all, g_all, position = li_all[order], g_all[order], position[order]
    cuts = np.flatnonzero(np.diff(position)) + 1
    sparse_i: list[Index] = []
    sparse_g: list[Index] = []
    for li, gs in zip(np.split(li_all, cuts), np.split(g_all, cuts), strict=True):
        mentees, row_at = np.unique(li, return_inverse=True)
        wanted, group_at = np.unique(gs, return_inverse=True)
        sizes = ends[wanted] - groups.starts[wanted]
        if mentees.size * int(sizes.sum()) <= 4 * int((sizes[group_at]).sum()):
            cols = np.concatenate([groups.order[groups.starts[g] : ends[g]] for g in wanted])
            cell = np.zeros((mentees.size, wanted.size), dtype=np.bool_)
            cell[row_at, group_at] = True
            mask = np.repeat(cell, sizes, axis=1)
            yield mentees, cols, scoring.score_block(pool, rows[mentees], cols), mask
        else:
            sparse_i.append(li)
            sparse_g.append(gs)
    if sparse_i:
        # Scattered requests: one block per group with every mentee asking for it.
        for g, part in _by_group(np.concatenate(sparse_i), np.concatenate(sparse_g)):
            cols = groups.members(g)
            scored = scoring.score_block(pool, rows[part], cols)
            yield part, cols, scored, np.ones(scored.total.shape, dtype=np.bool_)


def _similarity_rank(pool: scoring.Pool, rows: Index) -> Index:
    """Each local mentee's position when similar mentees are put side by side."""
    a = pool.mentees
    top = a.learn[rows].argmax(axis=1) if a.learn.size else np.zeros(rows.size, np.intp)
    order = np.lexsort((np.nan_to_num(a.offset[rows], nan=99.0), top, a.level[rows]))
    rank = np.empty(rows.size, dtype=np.intp)
    rank[order] = np.arange(rows.size)
    return rank


def _best_per_row(value: NDArray[Any], valid: NDArray[np.bool_], k: int) -> NDArray[np.bool_]:
    """Mask of each row's k highest valid entries."""
    keep = np.zeros(valid.shape, dtype=np.bool_)
    if k >= valid.shape[1]:
        return valid.copy()
    cost = np.where(valid, -value, np.iinfo(np.int64).max)
    top = np.argpartition(cost, k - 1, axis=1)[:, :k]
    np.put_along_axis(keep, top, True, axis=1)
    return keep & valid


def _top_k(mi: Index, value: Ints, k: int) -> NDArray[np.bool_]:
    """Mask of each mentee's k highest values."""
    order = np.lexsort((-value, mi))
    sorted_mi = mi[order]
    first = np.searchsorted(sorted_mi, sorted_mi, side="left")
    rank = np.arange(mi.size) - first
    keep = np.zeros(mi.size, dtype=np.bool_)
    keep[order[rank < k]] = True
    return keep


class _Reserve:
    """Eligible pairs scored exactly but not (yet) among the candidates."""

    def __init__(self) -> None:
        self.parts: list[tuple[Index, Index, Ints]] = []

    def put(self, li: Index, mj: Index, score: Ints) -> None:
        if li.size:
            # int32 halves the memory of a large reserve; widened again when used.
            self.parts.append((li.astype(np.int32), mj.astype(np.int32), score.astype(np.int32)))

    def _all(self) -> tuple[Index, Index, Ints]:
        if not self.parts:
            empty = np.empty(0, dtype=np.intp)
            return empty, empty, np.empty(0, dtype=np.int64)
        if len(self.parts) > 1:
            self.parts = [tuple(np.concatenate(x) for x in zip(*self.parts, strict=True))]  # type: ignore[list-item]
        return self.parts[0]

    def _split(self, take: NDArray[np.bool_]) -> tuple[Index, Index, Ints]:
        li, mj, score = self._all()
        self.parts = [(li[~take], mj[~take], score[~take])]
        return (li[take].astype(np.intp), mj[take].astype(np.intp),
                score[take].astype(np.int64))

    @property
    def size(self) -> int:
        return sum(int(part[0].size) for part in self.parts)

    def compact(self, keep: int, enc: _Weights, tau: Ints) -> None:
        """Keep each mentee's `keep` best pairs; `tau` remembers the best weight dropped."""
        li, mj, score = self._all()
        best = _top_k(li.astype(np.intp), score.astype(np.int64), keep)
        if (~best).any():
            np.maximum.at(tau, li[~best], enc.of(score[~best].astype(np.int64)))
        self.parts = [(li[best], mj[best], score[best])]

    def take_best(self, k: int) -> tuple[Index, Index, Ints]:
        """Remove and return each mentee's k best pairs."""
        li, _, score = self._all()
        return self._split(_top_k(li, score, k))

    def take_improving(self, enc: _Weights, u: Ints, v: Ints, k: int
                       ) -> tuple[list[Index], list[Index], list[Ints]]:
        """Remove and return, per mentee, the k pairs that improve most at duals (u, v)."""
        li, mj, score = self._all()
        gain = enc.of(score.astype(np.int64)) - u[li] - v[mj]
        improving = gain > 0
        take = np.zeros(li.size, dtype=np.bool_)
        if improving.any():
            at = np.flatnonzero(improving)
            take[at[_top_k(li[at], gain[at], k)]] = True
        a, b, c = self._split(take)
        return [a], [b], [c]


def solve_restricted(
    n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints
) -> Index:
    """Exact maximum-weight b-matching on explicit edges (local indices); -1 = unmatched."""
    slot_start = np.concatenate([[0], np.cumsum(capacity)[:-1]]).astype(np.int64)
    places = int(capacity.sum())
    reps = capacity[ej]
    rows = np.repeat(ei, reps)
    within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    cols = np.repeat(slot_start[ej], reps) + within
    data = np.repeat(weight.astype(np.float64), reps) + 1.0  # weights must be non-zero
    # One "unmatched" column per mentee with weight 1 (the +1 every row pays).
    rows = np.concatenate([rows, np.arange(n_rows)])
    cols = np.concatenate([cols, places + np.arange(n_rows)])
    data = np.concatenate([data, np.ones(n_rows)])
    matrix = csr_array((data, (rows, cols)), shape=(n_rows, places + n_rows))
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix, maximize=True)
    owner = np.repeat(np.arange(capacity.size), capacity)
    matched = np.full(n_rows, -1, dtype=np.intp)
    real = col_ind < places
    matched[row_ind[real]] = owner[col_ind[real]]
    return matched


def duals(
    n_rows: int, capacity: Ints, ei: Index, ej: Index, weight: Ints, matched: Index,
    max_rounds: int = 100_000,
) -> tuple[Ints, Ints]:
    """The least optimal duals (u, v) of an optimal restricted solution (local indices)."""
    m = capacity.size
    taken = np.bincount(matched[matched >= 0], minlength=m)
    saturated = taken >= capacity
    is_match = matched[ei] == ej
    wm = np.zeros(n_rows, dtype=np.int64)
    wm[ei[is_match]] = weight[is_match]
    free_e = ~is_match
    fi, fj, fw = ei[free_e], ej[free_e], weight[free_e]
    order = np.argsort(fj, kind="stable")
    fi, fj, fw = fi[order], fj[order], fw[order]
    heads = np.flatnonzero(np.r_[True, fj[1:] != fj[:-1]]) if fj.size else np.empty(0, np.intp)
    targets = fj[heads]
    v = np.zeros(m, dtype=np.int64)
    has = matched >= 0
    for _ in range(max_rounds):
        u = np.where(has, wm - v[np.where(has, matched, 0)], 0)
        if fj.size == 0:
            break
        need = np.maximum.reduceat(fw - u[fi], heads)
        proposed = np.zeros(m, dtype=np.int64)
        proposed[targets] = np.maximum(need, 0)
        proposed = np.where(saturated, proposed, 0)
        new_v = np.maximum(v, proposed)
        if np.array_equal(new_v, v):
            break
        v = new_v
    u = np.where(has, wm - v[np.where(has, matched, 0)], 0)
    return u.astype(np.int64), v


def solve(
    pool: scoring.Pool,
    capacity: Ints,
    objective: Objective = "max_score",
    *,
    mentee_rows: Index | None = None,
    candidates_per_mentee: int = 8,
    group_size: int = 32,
    groups_per_mentee: int = 3,
    added_per_group: int = 2,
    max_rounds: int = 100,
    dense_cells: int = 250_000_000,
    reserve_limit: int = 20_000_000,
    reserve_per_mentee: int = 64,
    deadline_seconds: float | None = None,
) -> Solution:
    """The optimal matching of `mentee_rows` to mentors with free `capacity`, with proof.

    With `deadline_seconds`, pricing stops when time is up and the best matching
    found so far comes back with `optimal=False` (a valid matching, not a proven one).
    """
    began = _time.perf_counter()
    n_all, m = pool.shape
    rows = np.arange(n_all, dtype=np.intp) if mentee_rows is None else np.asarray(
        mentee_rows, dtype=np.intp)
    capacity = np.asarray(capacity, dtype=np.int64)
    mentor_rows = np.flatnonzero(capacity > 0).astype(np.intp)
    n = rows.size
    stats: dict[str, Any] = {"mentees": int(n), "mentors": int(mentor_rows.size),
                             "places": int(capacity[mentor_rows].sum())}
    if n == 0 or mentor_rows.size == 0:
        return Solution(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.int64), 0,
                        True, rows, _reasons(pool, rows, mentor_rows, set()), stats)
    enc = _Weights(objective, n)
    if n * mentor_rows.size <= dense_cells:
        # Scanning is cheap here, so start wider and add more per round: fewer solves.
        return _solve_dense(pool, capacity, enc, rows, mentor_rows, stats, began,
                            2 * candidates_per_mentee, 4 * added_per_group, max_rounds)
    groups = scoring.group_mentors(pool, group_size, rows=mentor_rows)
    g_count = len(groups)
    edges = _Candidates(m)
    # Pairs scored exactly but left out of the restricted problem: (local mentee, mentor, score).
    reserve = _Reserve()
    # Memory stays bounded: past `reserve_limit` pairs the reserve keeps each mentee's best
    # and `tau` the best weight it let go; such a mentee's groups are rescored when needed.
    tau = np.full(n, -1, dtype=np.int64)
    block = max(1, BOUND_CELLS // g_count)
    scored_pairs = 0

    # 1. candidates: each mentee's most promising groups, and each group's most promising
    # mentees (so places are spread, not everyone on the same popular mentors), scored exactly
    t = _time.perf_counter()
    asks_i: list[Index] = []
    asks_g: list[Index] = []
    per_group = min(n, 2 * group_size)
    group_best = np.full((per_group, g_count), -1, dtype=np.int64)  # running top per group
    group_who = np.zeros((per_group, g_count), dtype=np.intp)
    for start in range(0, n, block):
        bound = scoring.group_bounds(pool, groups, rows[start : start + block])
        top = min(groups_per_mentee, g_count)
        best = np.argpartition(-bound, top - 1, axis=1)[:, :top]
        ok = (np.take_along_axis(bound, best, axis=1) >= 0).ravel()
        asks_i.append((start + np.repeat(np.arange(bound.shape[0]), top))[ok])
        asks_g.append(best.ravel()[ok].astype(np.intp))
        merged = np.concatenate([group_best, bound])
        who = np.concatenate([group_who, np.broadcast_to(
            np.arange(start, start + bound.shape[0])[:, None], bound.shape)])
        keep = np.argpartition(-merged, per_group - 1, axis=0)[:per_group]
        group_best = np.take_along_axis(merged, keep, axis=0)
        group_who = np.take_along_axis(who, keep, axis=0)
    ok = group_best >= 0
    asks_i.append(group_who[ok])
    asks_g.append(np.broadcast_to(np.arange(g_count), ok.shape)[ok].astype(np.intp))
    keys = np.unique(np.concatenate(asks_i).astype(np.int64) * g_count
                     + np.concatenate(asks_g))
    li_all, g_all = (keys // g_count).astype(np.intp), (keys % g_count).astype(np.intp)
    # Which (mentee, group) cells have been scored: one byte each, so memory stays flat.
    done = np.zeros((n, g_count), dtype=np.bool_)
    done[li_all, g_all] = True
    rank = _similarity_rank(pool, rows)
    for li, cols, scored, mask in _score_requests(pool, groups, rows, rank, li_all, g_all):
        scored_pairs += int(mask.sum())
        r, c = np.nonzero(scored.eligible & mask)
        reserve.put(li[r], cols[c], scored.total[r, c])
        if reserve.size > reserve_limit:
            reserve.compact(reserve_per_mentee, enc, tau)
    fi, fj, fw = reserve.take_best(candidates_per_mentee)
    edges.add(rows[fi], fj, fw)
    if reserve.size > reserve_limit:
        reserve.compact(reserve_per_mentee, enc, tau)
    stats["candidate_seconds"] = round(_time.perf_counter() - t, 3)

    local_of = np.full(n_all, -1, dtype=np.intp)
    local_of[rows] = np.arange(n)
    mentor_local = np.full(m, -1, dtype=np.intp)
    mentor_local[mentor_rows] = np.arange(mentor_rows.size)
    cap_local = capacity[mentor_rows]
    optimal = False
    rounds = 0
    solve_seconds = dual_seconds = price_seconds = 0.0
    matched = np.full(n, -1, dtype=np.intp)
    deadline = began + deadline_seconds if deadline_seconds is not None else float("inf")
    timed_out = False
    while rounds < max_rounds:
        rounds += 1
        # 2-3. exact solve on the candidates, then the duals that certify it
        t = _time.perf_counter()
        ei, ej = local_of[edges.mentee], mentor_local[edges.mentor]
        weight = enc.of(edges.score)
        matched = solve_restricted(n, cap_local, ei, ej, weight)
        solve_seconds += _time.perf_counter() - t
        t = _time.perf_counter()
        u, v = duals(n, cap_local, ei, ej, weight, matched)
        dual_seconds += _time.perf_counter() - t

        # 4. pricing: which left-out pairs could still improve the solution?
        t = _time.perf_counter()
        v_global = np.zeros(m, dtype=np.int64)
        v_global[mentor_rows] = v
        new_i, new_j, new_w = reserve.take_improving(enc, u, v_global, added_per_group)
        group_min_v = np.minimum.reduceat(v_global[groups.order], groups.starts)
        # Mentees whose dropped pairs might now pay get their scored groups scored again.
        again = np.zeros(n, dtype=np.bool_)
        again[tau > u] = True
        tau[again] = -1
        by_rank = np.argsort(rank)
        for start in range(0, n, block):
            local = by_rank[start : start + block]
            bound = scoring.group_bounds(pool, groups, rows[local])
            slack = np.where(bound >= 0, enc.of(bound) - group_min_v[None, :], -1)
            ask = (slack > u[local][:, None]) & ~done[local]
            ask |= done[local] & again[local][:, None]
            r, g = np.nonzero(ask)
            li_all, g_all = local[r], g.astype(np.intp)
            done[li_all, g_all] = True
            for li, cols, scored, mask in _score_requests(pool, groups, rows, rank, li_all,
                                                          g_all):
                scored_pairs += int(mask.sum())
                usable = scored.eligible & mask
                gain = enc.of(scored.total) - u[li][:, None] - v_global[cols][None, :]
                chosen = _best_per_row(gain, usable & (gain > 0), added_per_group)
                r, c = np.nonzero(chosen)
                new_i.append(li[r])
                new_j.append(cols[c])
                new_w.append(scored.total[r, c])
                r, c = np.nonzero(usable & ~chosen)
                reserve.put(li[r], cols[c], scored.total[r, c])
                if reserve.size > reserve_limit:
                    reserve.compact(reserve_per_mentee, enc, tau)
            if _time.perf_counter() > deadline:
                timed_out = True
                break
        added = edges.add(rows[np.concatenate(new_i)], np.concatenate(new_j),
                          np.concatenate(new_w))
        if reserve.size > reserve_limit:
            li, mj, score = reserve._all()
            fresh = ~edges.contains(rows[li], mj.astype(np.intp))
            reserve.parts = [(li[fresh], mj[fresh], score[fresh])]
            reserve.compact(reserve_per_mentee, enc, tau)
        price_seconds += _time.perf_counter() - t
        if timed_out:
            if added:
                # Out of time for a proof, not for one more exact solve with what was found.
                ei, ej = local_of[edges.mentee], mentor_local[edges.mentor]
                matched = solve_restricted(n, cap_local, ei, ej, enc.of(edges.score))
            break
        if added == 0:
            optimal = True
            break
    stats.update(rounds=rounds, candidate_pairs=int(edges.keys.size), timed_out=timed_out,
                 scored_pairs=int(scored_pairs), groups=g_count,
                 solve_seconds=round(solve_seconds, 3), dual_seconds=round(dual_seconds, 3),
                 price_seconds=round(price_seconds, 3))

    hit = matched >= 0
    mentees = rows[hit]
    mentors = mentor_rows[matched[hit]]
    keys = mentees.astype(np.int64) * m + mentors
    scores = edges.score[np.searchsorted(edges.keys, keys)]
    unmatched = rows[~hit]
    with_candidates = set(edges.mentee.tolist())
    reasons = _reasons(pool, unmatched, mentor_rows, with_candidates)
    stats["seconds"] = round(_time.perf_counter() - began, 3)
    return Solution(mentees, mentors, scores, int(scores.sum()), optimal, unmatched, reasons,
                    stats, candidates=(edges.mentee, edges.mentor, edges.score))


def _solve_dense(
    pool: scoring.Pool, capacity: Ints, enc: _Weights, rows: Index, mentor_rows: Index,
    stats: dict[str, Any], began: float, k: int, added_per_row: int, max_rounds: int,
) -> Solution:
    """The same method when every score fits in memory (2 bytes a pair): price by scanning.

    Below `dense_cells` pairs, bounds cost more than they save: every pair is
    scored once, in blocks, into an int16 matrix (-1 = ineligible), and pricing
    is a vectorised scan of it against the duals.
    """
    n, m_free = rows.size, mentor_rows.size
    t = _time.perf_counter()
    scores = np.empty((n, m_free), dtype=np.int16)
    per = max(1, scoring.BLOCK_PAIRS // m_free)
    for start in range(0, n, per):
        scored = scoring.score_block(pool, rows[start : start + per], mentor_rows)
        scores[start : start + per] = np.where(scored.eligible, scored.total, -1)
    stats["scoring_seconds"] = round(_time.perf_counter() - t, 3)
    cap_local = capacity[mentor_rows]
    ei_parts: list[Index] = []
    ej_parts: list[Index] = []
    for start in range(0, n, per):
        block = scores[start : start + per].astype(np.int64)
        keep = _best_per_row(block, block >= 0, k)
        r, c = np.nonzero(keep)
        ei_parts.append(start + r)
        ej_parts.append(c)
    ei, ej = np.concatenate(ei_parts), np.concatenate(ej_parts)
    optimal = False
    rounds = 0
    solve_seconds = price_seconds = 0.0
    matched = np.full(n, -1, dtype=np.intp)
    while rounds < max_rounds:
        rounds += 1
        t = _time.perf_counter()
        weight = enc.of(scores[ei, ej].astype(np.int64))
        matched = solve_restricted(n, cap_local, ei, ej, weight)
        u, v = duals(n, cap_local, ei, ej, weight, matched)
        solve_seconds += _time.perf_counter() - t
        t = _time.perf_counter()
        known = np.sort(ei.astype(np.int64) * m_free + ej)
        new_i: list[Index] = []
        new_j: list[Index] = []
        for start in range(0, n, per):
            block = scores[start : start + per].astype(np.int64)
            gain = enc.of(block) - u[start : start + per, None] - v[None, :]
            improving = (block >= 0) & (gain > 0)
            if not improving.any():
                continue
            r, c = np.nonzero(_best_per_row(gain, improving, added_per_row))
            fresh = ~_isin_sorted((start + r).astype(np.int64) * m_free + c, known)
            new_i.append(start + r[fresh])
            new_j.append(c[fresh])
        price_seconds += _time.perf_counter() - t
        if not new_i or sum(x.size for x in new_i) == 0:
            optimal = True
            break
        ei = np.concatenate([ei, *new_i])
        ej = np.concatenate([ej, *new_j])
    stats.update(rounds=rounds, candidate_pairs=int(ei.size), scored_pairs=int(n * m_free),
                 mode="dense", solve_seconds=round(solve_seconds, 3),
                 price_seconds=round(price_seconds, 3))
    hit = matched >= 0
    mentees, mentors = rows[hit], mentor_rows[matched[hit]]
    totals = scores[np.flatnonzero(hit), matched[hit]].astype(np.int64)
    has_eligible = (scores >= 0).any(axis=1)
    reasons = ["capacity_taken" if has_eligible[i] else "no_eligible_mentor"
               for i in np.flatnonzero(~hit).tolist()]
    stats["seconds"] = round(_time.perf_counter() - began, 3)
    return Solution(mentees, mentors, totals, int(totals.sum()), optimal, rows[~hit], reasons,
                    stats)


def _isin_sorted(keys: Ints, table: Ints) -> NDArray[np.bool_]:
    if table.size == 0:
        return np.zeros(keys.shape, dtype=np.bool_)
    at = np.searchsorted(table, keys).clip(0, table.size - 1)
    return table[at] == keys


def _reasons(pool: scoring.Pool, unmatched: Index, mentor_rows: Index,
             with_candidates: set[int]) -> list[str]:
    """Why each unmatched mentee is unmatched: nobody eligible, or the places went elsewhere."""
    reasons = []
    for row in unmatched.tolist():
        if row in with_candidates:
            reasons.append("capacity_taken")
            continue
        eligible = scoring.count_eligible(pool, mentee_rows=np.array([row]),
                                          mentor_rows=mentor_rows) > 0
        reasons.append("capacity_taken" if eligible else "no_eligible_mentor")
    return reasons


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
