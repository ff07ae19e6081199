"""The solver's compiled loops: the scan, its dual prices and the repair's shortest paths.

The scan scores every mentor against a mentee, exactly, without a pair matrix.

`scoring.score_block` scores a block of pairs with matrix products; at 100,000
mentees that means billions of pairs through temporary arrays. The solver only
needs, for each mentee, its few best pairs at the current mentor prices and the
best value among the rest, so this module scores pair after pair in compiled
loops (Numba, on every core the process may use) and keeps just that: memory stays a few arrays.

The arithmetic is the score's own, not an estimate: the same exact integers
(topic sums, shared interests as bit counts, free half-hours in common), the
same float64 formula for complementarity and the pool's point tables for the
rest, so a total here equals `scoring.score_block`'s to the hundredth
(tests/matching/test_scoring.py checks it on random pools). The factors scored by
category (level, department, format, languages, diversity, time zone) are worked
out once per mentee for each kind of mentor (`Packed.kinds`: mentors alike in all
of them, far fewer than mentors in a real cohort), not once per pair.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, cast

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray

from matching import scoring

Ints = NDArray[np.int64]
Index = NDArray[np.intp]
NONE = np.iinfo(np.int64).min  # "no value": no eligible pair left out, no price yet
NO_BOUND = np.iinfo(np.int64).max  # "no upper bound" on a price
# The points of a kind of mentor a mentee may not be paired with: every real total is >= 0
# (point tables and scales are never negative), so a total below zero means "not eligible".
INELIGIBLE = -1e18

# Mentors scored at once for one mentee: small enough for the core's own cache.
BLOCK = 2048
# Mentees per task handed to a thread (the compiled loops release the GIL).
TASK = 64


def cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPUs a cgroup quota allows this process (a container's CPU limit), or None.

    cgroup v2 `cpu.max` ("max 100000" or "150000 100000"), else cgroup v1
    `cpu/cpu.cfs_quota_us` over `cpu/cpu.cfs_period_us` (-1: no limit).
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cores(root: Path = Path("/sys/fs/cgroup")) -> int:
    """Threads for the scan: the CPUs this process may run on, capped by its CPU quota
    (a pod with a limit of 1 CPU on a 16-core node gets 1 thread, not 16 throttled)."""
    allowed = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))
    quota = cpu_quota(root)
    return max(1, allowed if quota is None else min(allowed, math.ceil(quota)))


THREADS = cores()
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="matching-scan")


def _parallel(work: Callable[[int, int], None], size: int) -> None:
    """Run work(start, stop) over 0..size in tasks on every core."""
    tasks = [(s, min(size, s + TASK)) for s in range(0, size, TASK)]
    if len(tasks) <= 1:
        for start, stop in tasks:
            work(start, stop)
        return
    for future in [_POOL.submit(work, start, stop) for start, stop in tasks]:
        future.result()


@intrinsic
def _ctpop(typingctx: Any, x: Any) -> Any:
    """The CPU's population count (llvm.ctpop) on a 64-bit word."""
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


# The same intrinsic as compiled code calls it, on one word. Numba's stubs type an intrinsic's
# call with its typing function's parameters (typingctx too) and as never returning (outside
# compiled code it raises), which would make mypy skip whatever follows each call.
_popcount = cast("Callable[[int], int]", _ctpop)


def _words(matrix: NDArray[Any]) -> NDArray[np.uint64]:
    """0/1 rows as 64-bit words, (rows, words)."""
    packed = np.packbits(np.asarray(matrix) > 0, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8 or (8 if packed.shape[1] == 0 else 0)
    packed = np.concatenate([packed, np.zeros((packed.shape[0], pad), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def _topics(dense: NDArray[np.float32]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Each row's non-zero topics as (topic, integer value) lists padded with -1."""
    counts = (dense > 0).sum(axis=1)
    width = max(int(counts.max()) if counts.size else 0, 1)
    topic = np.full((dense.shape[0], width), -1, dtype=np.int32)
    value = np.zeros((dense.shape[0], width), dtype=np.int32)
    r, c = np.nonzero(dense > 0)
    slot = np.arange(r.size) - np.searchsorted(r, r)
    topic[r, slot] = c
    value[r, slot] = np.rint(dense[r, c]).astype(np.int32)
    return topic, value


class Mentees(NamedTuple):
    learn_topic: NDArray[np.int32]
    learn_weight: NDArray[np.int32]
    teach_topic: NDArray[np.int32]
    teach_level: NDArray[np.int32]
    learn_scale: NDArray[np.float64]
    interests: NDArray[np.uint64]
    languages: NDArray[np.uint64]
    has_languages: NDArray[np.bool_]
    availability: NDArray[np.uint64]
    formats: NDArray[np.uint8]
    location: NDArray[np.int32]
    department: NDArray[np.int32]
    level: NDArray[np.int32]
    manager: NDArray[np.int32]
    employee: NDArray[np.int32]
    offset: NDArray[np.float64]
    wants_dei: NDArray[np.bool_]


class Mentors(NamedTuple):
    """Mentor columns, each array with the mentor as its last (contiguous) axis."""

    teach: NDArray[np.int32]  # (topics, mentors)
    learn: NDArray[np.int32]  # (topics, mentors)
    learn_scale: NDArray[np.float64]
    interests: NDArray[np.uint64]  # (words, mentors)
    languages: NDArray[np.uint64]
    has_languages: NDArray[np.bool_]
    availability: NDArray[np.uint64]
    formats: NDArray[np.uint8]
    location: NDArray[np.int32]
    department: NDArray[np.int32]
    level: NDArray[np.int32]
    manager: NDArray[np.int32]
    employee: NDArray[np.int32]
    offset: NDArray[np.float64]
    dei_opt_in: NDArray[np.bool_]
    static_points: Ints  # points that depend on the mentor alone (the diversity objective)
    kind: NDArray[np.int64]  # the mentor's row in `Packed.kinds`


class Tables(NamedTuple):
    interests: Ints
    availability: Ints
    language: Ints
    format: Ints
    department: Ints
    level_gap: Ints
    mutual: bool
    min_level_gap: int
    allow_shared_manager: bool
    max_time_zone_hours: float  # NaN: no limit
    min_half_hours: float  # -1: no limit


class Packed(NamedTuple):
    """A pool laid out for the scan, limited to some mentees and mentors (local indices)."""

    mentees: Mentees
    mentors: Mentors
    tables: Tables
    # One mentor of each kind: mentors alike in every factor scored by category (level,
    # department, format and place, languages, diversity, time zone where limited), whose
    # points and eligibility a scan works out once per mentee instead of once per pair.
    kinds: Mentors
    # Pairs barred one by one (reporting line, earlier pair, avoid list), per local mentee:
    # the local mentors forbidden_at[i]:forbidden_at[i + 1] of forbidden_col.
    forbidden_at: NDArray[np.int64]
    forbidden_col: NDArray[np.int64]


def pack(pool: scoring.Pool, rows: Index, cols: Index) -> Packed:
    """Lay out `rows` (mentees) and `cols` (mentors) of the pool for `best_pairs`."""
    a, b, t, rules = pool.mentees, pool.mentors, pool.tables, pool.rules
    learn_topic, learn_weight = _topics(a.learn[rows])
    teach_topic, teach_level = _topics(a.teach[rows])

    def columns(values: NDArray[Any], dtype: Any) -> NDArray[Any]:
        return np.ascontiguousarray(np.asarray(values)[cols].T.astype(dtype))

    mentees = Mentees(
        learn_topic=learn_topic, learn_weight=learn_weight, teach_topic=teach_topic,
        teach_level=teach_level, learn_scale=a.learn_scale[rows].copy(),
        interests=_words(a.interests[rows]), languages=_words(a.languages[rows]),
        has_languages=a.has_languages[rows].copy(), availability=_words(a.availability[rows]),
        formats=a.formats[rows].copy(), location=a.location[rows].copy(),
        department=a.department[rows].copy(), level=a.level[rows].copy(),
        manager=a.manager[rows].copy(), employee=a.employee[rows].copy(),
        offset=a.offset[rows].copy(), wants_dei=a.wants_dei[rows].copy(),
    )
    mentors = Mentors(
        teach=columns(np.rint(b.teach), np.int32), learn=columns(np.rint(b.learn), np.int32),
        learn_scale=b.learn_scale[cols].copy(),
        interests=np.ascontiguousarray(_words(b.interests[cols]).T),
        languages=np.ascontiguousarray(_words(b.languages[cols]).T),
        has_languages=b.has_languages[cols].copy(),
        availability=np.ascontiguousarray(_words(b.availability[cols]).T),
        formats=b.formats[cols].copy(), location=b.location[cols].copy(),
        department=b.department[cols].copy(), level=b.level[cols].copy(),
        manager=b.manager[cols].copy(), employee=b.employee[cols].copy(),
        offset=b.offset[cols].copy(), dei_opt_in=b.dei_opt_in[cols].copy(),
        static_points=t.diversity[b.diverse[cols].astype(np.intp)],
        kind=np.zeros(cols.size, dtype=np.int64),
    )
    tables = Tables(
        interests=t.interests, availability=t.availability, language=t.language,
        format=t.format, department=t.department, level_gap=t.level_gap,
        mutual=bool(rules.mutual),
        min_level_gap=int(rules.min_level_gap),
        allow_shared_manager=bool(rules.allow_shared_manager),
        max_time_zone_hours=(math.nan if rules.max_time_zone_hours is None
                             else float(rules.max_time_zone_hours)),
        min_half_hours=(-1.0 if rules.min_overlap_hours is None
                        else 2.0 * float(rules.min_overlap_hours)),
    )
    # Kinds: the categorical columns side by side, one row per distinct combination.
    offset = (np.zeros(cols.size) if math.isnan(tables.max_time_zone_hours)
              else mentors.offset)
    key = np.column_stack([
        np.asarray(x).view(np.int64) if x.dtype.itemsize == 8 else np.asarray(x, np.int64)
        for x in (mentors.level, mentors.department, mentors.formats, mentors.location,
                  mentors.has_languages, mentors.dei_opt_in, mentors.static_points, offset,
                  *mentors.languages)
    ])
    _, first, kind = np.unique(key, axis=0, return_index=True, return_inverse=True)
    mentors = mentors._replace(kind=kind.reshape(-1).astype(np.int64))
    kinds = Mentors._make(np.ascontiguousarray(x[..., first]) for x in mentors)
    # Forbidden pairs among these people, as local (mentee, mentor) lists.
    m = len(b)
    local_row = np.full(len(a), -1, dtype=np.int64)
    local_row[rows] = np.arange(rows.size)
    local_col = np.full(m, -1, dtype=np.int64)
    local_col[cols] = np.arange(cols.size)
    fi, fj = local_row[pool.forbidden // m], local_col[pool.forbidden % m]
    keep = (fi >= 0) & (fj >= 0)
    fi, fj = fi[keep], fj[keep]
    order = np.lexsort((fj, fi))
    at = np.searchsorted(fi[order], np.arange(rows.size + 1)).astype(np.int64)
    return Packed(mentees, mentors, tables, kinds, at, fj[order].astype(np.int64))


def reorder(packed: Packed, order: Index) -> Packed:
    """The same packed pool with its mentors in `order` (local mentor order[p] at position p)."""
    mentors = Mentors._make(np.ascontiguousarray(x[..., order]) for x in packed.mentors)
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    return packed._replace(mentors=mentors, forbidden_col=position[packed.forbidden_col])


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _block(a: Any, b: Any, t: Any, i: int, j0: int, j1: int, total: Any, ok: Any,
           back: Any, half: Any, shared: Any, units: Any, kind_total: Any) -> None:
    """Exact totals and eligibility of mentee i with mentors j0..j1-1 (into total, ok),
    given its points and eligibility by kind of mentor (`_kinds`).

    Written as simple passes over the block, so the compiler vectorises them;
    a factor switched off has a table (or scale) of zeros, so nothing branches on it.
    """
    width = j1 - j0
    # Complementarity: exact integer topic sums, then the score's float64 formula.
    for j in range(width):
        units[j] = 0
    for k in range(a.learn_topic.shape[1]):
        topic = a.learn_topic[i, k]
        if topic < 0:
            break
        weight = a.learn_weight[i, k]
        row = b.teach[topic, j0:j1]
        for j in range(width):
            units[j] += weight * row[j]
    scale = a.learn_scale[i]
    if t.mutual:
        for j in range(width):
            back[j] = 0.0
        for k in range(a.teach_topic.shape[1]):
            topic = a.teach_topic[i, k]
            if topic < 0:
                break
            level = np.float64(a.teach_level[i, k])
            row = b.learn[topic, j0:j1]
            for j in range(width):
                back[j] += level * row[j]
        scales = b.learn_scale[j0:j1]
        for j in range(width):
            total[j] = np.rint(np.float64(units[j]) * scale + back[j] * scales[j])
    else:
        for j in range(width):
            total[j] = np.rint(np.float64(units[j]) * scale)
    # Bit counts: free half-hours in common and shared interests.
    for j in range(width):
        half[j] = 0
        shared[j] = 0
    for w in range(a.availability.shape[1]):
        word = a.availability[i, w]
        if word == 0:  # most of a mentee's week is not free: skip those words
            continue
        row = b.availability[w, j0:j1]
        for j in range(width):
            half[j] += _popcount(word & row[j])
    for w in range(a.interests.shape[1]):
        word = a.interests[i, w]
        if word == 0:
            continue
        row = b.interests[w, j0:j1]
        for j in range(width):
            shared[j] += _popcount(word & row[j])
    # The categorical factors, worked out per kind of mentor (`_kinds`), and identities.
    employee_i = a.employee[i]
    manager_i = a.manager[i]
    kind = b.kind[j0:j1]
    employee_j = b.employee[j0:j1]
    # Separate simple passes: the gathers vectorise, and the 4-entry table is selects.
    for j in range(width):
        total[j] += kind_total[kind[j]]
    for j in range(width):
        total[j] += t.availability[half[j]]
    none, one, two, more = t.interests[0], t.interests[1], t.interests[2], t.interests[3]
    for j in range(width):
        x = shared[j]
        total[j] += more if x >= 3 else (two if x == 2 else (one if x == 1 else none))
    for j in range(width):  # a kind out of bounds carries INELIGIBLE, far below zero
        ok[j] = (total[j] >= 0.0) & (employee_i != employee_j[j])
    if (not t.allow_shared_manager) and manager_i >= 0:
        manager_j = b.manager[j0:j1]
        for j in range(width):
            ok[j] &= manager_i != manager_j[j]
    if t.min_half_hours >= 0:
        for j in range(width):
            ok[j] &= half[j] >= t.min_half_hours


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _kinds(a: Any, b: Any, t: Any, i: int, total: Any, ok: Any, common: Any) -> None:
    """Mentee i's points and eligibility from the factors scored by category, for each
    kind of mentor b (`Packed.kinds`): the same for every mentor of a kind.

    Branch-free passes (selects, not jumps), so the loops vectorise.
    """
    width = total.shape[0]
    level_i = a.level[i]
    department_i = a.department[i]
    formats_i = a.formats[i]
    location_i = a.location[i]
    offset_i = a.offset[i]
    wants_dei = a.wants_dei[i]
    has_lang_i = a.has_languages[i]
    top_gap = t.level_gap.shape[0] - 1
    min_gap = t.min_level_gap
    lang_none, lang_common, lang_half = t.language[0], t.language[1], t.language[2]
    dept_same, dept_other, dept_unknown = t.department[0], t.department[1], t.department[2]
    fmt_no, fmt_yes = t.format[0], t.format[1]
    tz_limit = not math.isnan(t.max_time_zone_hours)
    tz_max = t.max_time_zone_hours + 1e-9
    static = b.static_points
    for j in range(width):
        total[j] = static[j]
    if has_lang_i:
        for j in range(width):  # languages both speak, as bits
            common[j] = 0
        for w in range(a.languages.shape[1]):
            word = a.languages[i, w]
            row = b.languages[w]
            for j in range(width):
                common[j] |= np.int64(word & row[j])
        has_lang_j = b.has_languages
        for j in range(width):
            total[j] += ((lang_common if common[j] != 0 else lang_none) if has_lang_j[j]
                         else lang_half)
    else:
        for j in range(width):
            total[j] += lang_half
    formats_j = b.formats
    location_j = b.location
    remote_i = formats_i & 3
    in_person_i = (formats_i & 4) != 0 and location_i >= 0
    for j in range(width):
        workable = ((remote_i & formats_j[j]) != 0) | (in_person_i & ((formats_j[j] & 4) != 0)
                                                     & (location_i == location_j[j]))
        total[j] += fmt_yes if workable else fmt_no
    dept_j = b.department
    if department_i < 0:
        for j in range(width):
            total[j] += dept_unknown
    else:
        for j in range(width):
            d = dept_j[j]
            total[j] += dept_unknown if d < 0 else (dept_other if d != department_i
                                                    else dept_same)
    level_j = b.level
    if level_i >= 0:
        for j in range(width):
            gap = level_i - level_j[j]
            known = level_j[j] >= 0
            total[j] += t.level_gap[min(max(gap, 0), top_gap)] if known else 0
            ok[j] = (gap >= min_gap) if known else (min_gap <= 0)
    else:
        for j in range(width):
            ok[j] = min_gap <= 0
    if wants_dei:
        opt_in = b.dei_opt_in
        for j in range(width):
            ok[j] &= opt_in[j]
    if tz_limit:
        offset_j = b.offset
        for j in range(width):
            diff = abs(offset_i - offset_j[j]) % 24.0
            ok[j] &= min(diff, 24.0 - diff) <= tz_max
    for j in range(width):
        total[j] = total[j] if ok[j] else INELIGIBLE


@nb.njit(cache=True, nogil=True)
def _buffers(kinds: int) -> Any:
    """Per-thread scratch for `_scored`: totals, a float spare, two counts, eligibility,
    and per kind of mentor: points, eligibility, languages in common."""
    return (np.empty(BLOCK, dtype=np.float64), np.empty(BLOCK, dtype=np.float64),
            np.empty(BLOCK, dtype=np.int64), np.empty(BLOCK, dtype=np.int64),
            np.empty(BLOCK, dtype=np.bool_), np.empty(BLOCK, dtype=np.int32),
            np.empty(kinds, dtype=np.float64), np.empty(kinds, dtype=np.bool_),
            np.empty(kinds, dtype=np.int64))


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _mentee(packed: Any, i: int, buffers: Any) -> None:
    """Prepare `buffers` for scoring mentee i (its points by kind of mentor)."""
    _kinds(packed.mentees, packed.kinds, packed.tables, i, buffers[6], buffers[7], buffers[8])


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _scored(packed: Any, i: int, j0: int, j1: int, buffers: Any) -> None:
    """`_block` for mentee i (prepared by `_mentee`) and mentors j0..j1-1, with its pairs
    barred one by one applied."""
    total, back, half, shared, ok, units, kind_total = buffers[:7]
    _block(packed.mentees, packed.mentors, packed.tables, i, j0, j1, total, ok, back, half,
           shared, units, kind_total)
    for f in range(packed.forbidden_at[i], packed.forbidden_at[i + 1]):
        c = packed.forbidden_col[f]
        if j0 <= c < j1:
            ok[c - j0] = False


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _insert(best_value: Any, best_col: Any, value: int, col: int) -> int:
    """Put (value, col) into a row kept in descending order; return the value pushed out."""
    k = best_value.shape[0]
    out: int = best_value[k - 1]
    pos = k - 1
    while pos > 0 and best_value[pos - 1] < value:
        best_value[pos] = best_value[pos - 1]
        best_col[pos] = best_col[pos - 1]
        pos -= 1
    best_value[pos] = value
    best_col[pos] = col
    return out


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _best_pairs(packed: Any, which: Any, limit: Any, price: Any, base: Any, multiplier: int,
                offset: int, k: int, start: int, stop: int, out_col: Any, out_score: Any,
                out_rest: Any, out_base: Any, out_eligible: Any) -> None:
    buffers = _buffers(packed.kinds.level.shape[0])
    total, ok = buffers[0], buffers[4]
    values = np.empty(BLOCK, dtype=np.int64)
    best_value = np.empty(k, dtype=np.int64)
    best_col = np.empty(k, dtype=np.int64)
    two = base.shape[0] > 0
    for r in range(start, stop):
        i = which[r]
        m = limit[r]
        best_value[:] = NONE
        best_col[:] = -1
        rest = NONE
        rest_base = NONE
        eligible = 0
        _mentee(packed, i, buffers)
        for j0 in range(0, m, BLOCK):
            j1 = min(m, j0 + BLOCK)
            _scored(packed, i, j0, j1, buffers)
            for j in range(j1 - j0):
                values[j] = (np.int64(total[j]) * multiplier + offset - price[j0 + j]
                             if ok[j] else NONE)
                eligible += ok[j]
            # Most values stay below the k-th best: they only count towards the rest, in
            # passes that vectorise; the few above it are inserted one by one.
            top = best_value[k - 1]
            low = NONE
            for j in range(j1 - j0):
                low = max(low, values[j] if values[j] <= top else NONE)
            rest = max(rest, low)
            if two:
                for j in range(j1 - j0):
                    value = values[j]
                    rest_base = max(rest_base, value + price[j0 + j] - base[j0 + j]
                                    if (value <= top) & (value != NONE) else NONE)
            floor = top
            for j in range(j1 - j0):
                value = values[j]
                if value <= top:
                    continue
                if value > floor:
                    out = best_col[k - 1]
                    pushed = _insert(best_value, best_col, value, j0 + j)
                    rest = max(rest, pushed)
                    if two and out >= 0:
                        rest_base = max(rest_base, pushed + price[out] - base[out])
                    floor = best_value[k - 1]
                else:
                    rest = max(rest, value)
                    if two:
                        rest_base = max(rest_base, value + price[j0 + j] - base[j0 + j])
        for q in range(k):
            c = best_col[q]
            out_col[r, q] = c
            out_score[r, q] = ((best_value[q] + price[c] - offset) // multiplier
                               if c >= 0 else -1)
        out_rest[r] = rest
        out_base[r] = rest_base if two else rest
        out_eligible[r] = eligible


class Best(NamedTuple):
    cols: Index  # (mentees, k) best mentors at the prices, -1 past the eligible ones
    scores: Ints  # their scores
    rest: Ints  # the best value among the eligible pairs scanned but not returned (or NONE)
    rest_at_base: Ints  # the same pairs' best value at the base prices
    eligible: Ints  # how many scanned mentors are eligible


def best_pairs(packed: Packed, which: Index, price: Ints, multiplier: int, offset: int,
               k: int, limit: Ints | None = None, base: Ints | None = None) -> Best:
    """For each local mentee in `which`: its k best eligible mentors at `price`, and the rest.

    A pair's value is `score * multiplier + offset - price[mentor]` (the solver's
    weight less the mentor's dual). `limit[r]` scans only the first mentors of the
    packed order for which[r] (default: all). With `base`, the best value left out
    is also given at those prices.
    """
    which = np.ascontiguousarray(which, dtype=np.int64)
    m = packed.mentors.level.size
    limit = (np.full(which.size, m, dtype=np.int64) if limit is None
             else np.ascontiguousarray(np.minimum(limit, m), dtype=np.int64))
    out_col = np.empty((which.size, k), dtype=np.int64)
    out_score = np.empty((which.size, k), dtype=np.int64)
    out_rest = np.empty(which.size, dtype=np.int64)
    out_base = np.empty(which.size, dtype=np.int64)
    out_eligible = np.empty(which.size, dtype=np.int64)
    price = np.ascontiguousarray(price, dtype=np.int64)
    base = (np.empty(0, dtype=np.int64) if base is None
            else np.ascontiguousarray(base, dtype=np.int64))
    _parallel(lambda start, stop: _best_pairs(
        packed, which, limit, price, base, int(multiplier), int(offset), int(k), start, stop,
        out_col, out_score, out_rest, out_base, out_eligible), which.size)
    return Best(out_col.astype(np.intp), out_score, out_rest, out_base, out_eligible)


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _score_all(packed: Any, start: int, stop: int, out_total: Any, out_ok: Any) -> None:
    m = packed.mentors.level.shape[0]
    buffers = _buffers(packed.kinds.level.shape[0])
    total, ok = buffers[0], buffers[4]
    for i in range(start, stop):
        _mentee(packed, i, buffers)
        for j0 in range(0, m, BLOCK):
            j1 = min(m, j0 + BLOCK)
            _scored(packed, i, j0, j1, buffers)
            for j in range(j1 - j0):
                out_total[i, j0 + j] = np.int64(total[j])
                out_ok[i, j0 + j] = ok[j]


def score_all(packed: Packed) -> tuple[Ints, NDArray[np.bool_]]:
    """Every (mentee, mentor) eligibility of a packed pool, and the totals of the eligible
    pairs (others may be far below zero), for checks and tests."""
    n, m = packed.mentees.level.size, packed.mentors.level.size
    total = np.empty((n, m), dtype=np.int64)
    ok = np.empty((n, m), dtype=np.bool_)
    _parallel(lambda start, stop: _score_all(packed, start, stop, total, ok), n)
    return total, ok


@nb.njit(cache=True, nogil=True)
def _mentor_graph(saturated: Any, matched: Any, ei: Any, ej: Any, weight: Any,
                  matched_weight: Any, backwards: bool) -> Any:
    """Edges a -> j, delta w_ij - w_i,a, for each candidate pair (i, j) of a mentee matched
    to a other than j, j without a free place; grouped by a (by j, reversed, `backwards`).

    Returns (start, other, delta): the edges of node x are start[x]:start[x + 1].
    """
    m = saturated.shape[0]
    start = np.zeros(m + 1, dtype=np.int64)
    for e in range(ei.shape[0]):
        i, j = ei[e], ej[e]
        owner = matched[i]
        if owner == j or not saturated[j] or owner < 0:
            continue
        start[(j if backwards else owner) + 1] += 1
    for x in range(m):
        start[x + 1] += start[x]
    fill = start[:m].copy()
    other = np.empty(start[m], dtype=np.int64)
    delta = np.empty(start[m], dtype=np.int64)
    for e in range(ei.shape[0]):
        i, j = ei[e], ej[e]
        owner = matched[i]
        if owner == j or not saturated[j] or owner < 0:
            continue
        key = j if backwards else owner
        other[fill[key]] = owner if backwards else j
        delta[fill[key]] = weight[e] - matched_weight[i]
        fill[key] += 1
    return start, other, delta


@nb.njit(cache=True, nogil=True)
def _raise(start: Any, other: Any, delta: Any, x: Any) -> Any:
    """The least x' >= x with x'[b] >= x'[a] + delta on every edge a -> b (in place).

    Label correcting: a queue relaxes a node again only when its value rose. Values
    at or below NONE + 1 stand for "none" and pass nothing on. Terminates when the
    graph has no positive cycle (an optimal restricted matching has none).
    """
    m = x.shape[0]
    queue = np.arange(m, dtype=np.int64)
    queued = np.ones(m, dtype=np.bool_)
    head, size = 0, m
    while size > 0:
        a = queue[head]
        head = (head + 1) % m
        size -= 1
        queued[a] = False
        if x[a] <= NONE + 1:
            continue
        for p in range(start[a], start[a + 1]):
            b = other[p]
            bid = x[a] + delta[p]
            if bid > x[b]:
                x[b] = bid
                if not queued[b]:
                    queue[(head + size) % m] = b
                    size += 1
                    queued[b] = True
    return x


@nb.njit(cache=True, nogil=True)
def least_prices(saturated: Any, matched: Any, ei: Any, ej: Any, weight: Any,
                 matched_weight: Any, floor: Any) -> Any:
    """The least mentor duals v >= floor of an optimal restricted matching.

    v_j >= 0, v_j = 0 where mentor j has a free place, and u_i + v_j >= w_ij on
    every candidate edge with u_i = w_i,match(i) - v_match(i) (0 when unmatched):
    a longest-path problem over mentors (an edge a -> j for each candidate pair
    of a mentee matched to a), which has no positive cycle because the matching
    is optimal.
    """
    v = np.where(saturated, floor, 0)
    for e in range(ei.shape[0]):
        j = ej[e]
        if matched[ei[e]] < 0 and saturated[j]:
            v[j] = max(v[j], weight[e])
    start, other, delta = _mentor_graph(saturated, matched, ei, ej, weight, matched_weight,
                                        False)
    return _raise(start, other, delta, v)


@nb.njit(cache=True, nogil=True)
def greatest_prices(saturated: Any, matched: Any, ei: Any, ej: Any, weight: Any,
                    matched_weight: Any, upper: Any) -> Any:
    """The greatest mentor duals v <= upper meeting the same edges as `least_prices`.

    v_a <= v_j - (w_ij - w_i,a): with x = -v, the same longest-path problem on the
    reversed edges (mentors with no bound on any path stay at NO_BOUND).
    """
    start, other, delta = _mentor_graph(saturated, matched, ei, ej, weight, matched_weight,
                                        True)
    return -_raise(start, other, delta, -upper)


@nb.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
def _bids(packed: Any, which: Any, utility: Any, multiplier: int, offset: int, start: int,
          stop: int, out: Any) -> None:
    m = packed.mentors.level.shape[0]
    buffers = _buffers(packed.kinds.level.shape[0])
    total, ok = buffers[0], buffers[4]
    for r in range(start, stop):
        i = which[r]
        _mentee(packed, i, buffers)
        for j0 in range(0, m, BLOCK):
            j1 = min(m, j0 + BLOCK)
            _scored(packed, i, j0, j1, buffers)
            for j in range(j1 - j0):  # selects, not jumps: the loop vectorises
                bid = np.int64(total[j]) * multiplier + offset - utility[r]
                out[j0 + j] = max(out[j0 + j], bid if ok[j] else NONE)


def best_bids(packed: Packed, which: Index, utility: Ints, multiplier: int,
              offset: int) -> Ints:
    """Each mentor's best bid: max over mentees `which` of w_ij - utility (NONE if none)."""
    which = np.ascontiguousarray(which, dtype=np.int64)
    utility = np.ascontiguousarray(utility, dtype=np.int64)
    parts = np.array_split(np.arange(which.size), THREADS)
    out = np.full((len(parts), packed.mentors.level.size), NONE, dtype=np.int64)
    futures = [_POOL.submit(_bids, packed, which, utility, int(multiplier), int(offset),
                            int(part[0]), int(part[-1]) + 1, out[q])
               for q, part in enumerate(parts) if part.size]
    for future in futures:
        future.result()
    return cast("Ints", out.max(axis=0))  # numpy types a reduction over an axis as Any


@nb.njit(cache=True, nogil=True)
def _heap_push(heap_d: Any, heap_x: Any, size: int, d: int, x: int) -> int:
    pos = size
    while pos > 0:
        up = (pos - 1) // 2
        if heap_d[up] <= d:
            break
        heap_d[pos], heap_x[pos] = heap_d[up], heap_x[up]
        pos = up
    heap_d[pos], heap_x[pos] = d, x
    return size + 1


@nb.njit(cache=True, nogil=True)
def _heap_pop(heap_d: Any, heap_x: Any, size: int) -> int:
    size -= 1
    d, x = heap_d[size], heap_x[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] < heap_d[child]:
            child += 1
        if heap_d[child] >= d:
            break
        heap_d[pos], heap_x[pos] = heap_d[child], heap_x[child]
        pos = child
    heap_d[pos], heap_x[pos] = d, x
    return size


@nb.njit(cache=True, nogil=True)
def _release(slot: Any, slot_at: Any, load: Any, j: int, i: int) -> None:
    """Take mentee i out of mentor j's places (the last one taken fills its slot)."""
    last = slot_at[j] + load[j] - 1
    for q in range(slot_at[j], last + 1):
        if slot[q] == i:
            slot[q] = slot[last]
            slot[last] = -1
            break
    load[j] -= 1


@nb.njit(cache=True, nogil=True)
def repair(capacity: Any, start: Any, ej: Any, weight: Any, matched: Any, u: Any, v: Any,
           budget: int) -> Any:
    """An optimal matching of the candidate edges, from one that was optimal (with duals
    u, v) before some edges joined. Returns (matched, True), or (matched, False) when
    the work passed `budget` arc relaxations (then solve from scratch instead).

    A min-cost flow view: mentees send one unit each, to a mentor (cost -w) or to the
    sink t (unmatched); mentors pass theirs to t up to their capacity. Potentials
    p = (-u, v, 0) leave every residual arc with a reduced cost >= 0. A mentee with a
    new edge the duals do not cover has its u raised to cover them all and its unit
    taken back, which leaves it an excess and where the unit went (its mentor, or t)
    a deficit; successive shortest paths (Dijkstra on reduced costs, potentials
    updated after each) then route every excess to a deficit, so the flow is again
    of least cost. Edges are grouped by mentee: start[i]:start[i + 1].
    """
    n, m = matched.shape[0], capacity.shape[0]
    t = n + m
    size_all = n + m + 1
    inf = np.iinfo(np.int64).max
    p = np.zeros(size_all, dtype=np.int64)
    p[:n] = -u
    p[n:t] = v
    assign = matched.copy()  # a mentor, -1 (at t: unmatched) or -2 (an excess)
    own = np.zeros(n, dtype=np.int64)  # weight of the edge a mentee's unit goes on
    slot_at = np.zeros(m + 1, dtype=np.int64)
    for j in range(m):
        slot_at[j + 1] = slot_at[j] + capacity[j]
    slot = np.full(slot_at[m], -1, dtype=np.int64)
    load = np.zeros(m, dtype=np.int64)
    for i in range(n):
        j = assign[i]
        if j < 0:
            continue
        for e in range(start[i], start[i + 1]):
            if ej[e] == j:
                own[i] = weight[e]
        slot[slot_at[j] + load[j]] = i
        load[j] += 1
    out = load.copy()  # flow from each mentor to t
    short = 0  # units t lacks: one per unmatched mentee taken back from it
    excess = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        need = -p[i]
        for e in range(start[i], start[i + 1]):
            need = max(need, weight[e] - p[n + ej[e]])
        if need <= -p[i]:
            continue
        p[i] = -need
        j = assign[i]
        if j >= 0:
            _release(slot, slot_at, load, j, i)
        else:
            short += 1
        assign[i] = -2
        excess[count] = i
        count += 1
    dist = np.full(size_all, inf, dtype=np.int64)
    parent = np.full(size_all, -1, dtype=np.int64)
    via = np.full(size_all, -1, dtype=np.int64)  # the edge a mentor was reached by
    done = np.zeros(size_all, dtype=np.bool_)
    touched = np.empty(size_all, dtype=np.int64)
    order = np.empty(size_all, dtype=np.int64)  # nodes in the order Dijkstra settles them
    head = np.empty(size_all, dtype=np.int64)  # a node's arcs: at most one per other node
    cost = np.empty(size_all, dtype=np.int64)
    edge = np.empty(size_all, dtype=np.int64)
    heap_d = np.empty(16, dtype=np.int64)
    heap_x = np.empty(16, dtype=np.int64)
    work = 0
    for r in range(count):
        source = excess[r]
        touched_count = 0
        dist[source] = 0
        touched[touched_count] = source
        touched_count += 1
        size = _heap_push(heap_d, heap_x, 0, 0, source)
        target = -1
        settled = 0
        while size > 0:
            d, x = heap_d[0], heap_x[0]
            size = _heap_pop(heap_d, heap_x, size)
            if done[x] or d > dist[x]:
                continue
            done[x] = True
            order[settled] = x
            settled += 1
            if (x == t and short > 0) or (n <= x < t and out[x - n] > load[x - n]):
                target = x
                break
            # x's residual arcs (head, reduced cost, edge or -1), then one relaxation loop.
            arcs = 0
            if x < n:
                for e in range(start[x], start[x + 1]):
                    if assign[x] != ej[e]:
                        head[arcs], cost[arcs], edge[arcs] = (n + ej[e],
                                                              -weight[e] - p[x] + p[n + ej[e]], e)
                        arcs += 1
                if assign[x] != -1:
                    head[arcs], cost[arcs], edge[arcs] = t, -p[x] + p[t], -1
                    arcs += 1
            elif x < t:
                j = x - n
                for q in range(slot_at[j], slot_at[j] + load[j]):
                    y = slot[q]
                    head[arcs], cost[arcs], edge[arcs] = y, own[y] - p[x] + p[y], -1
                    arcs += 1
                if out[j] < capacity[j]:
                    head[arcs], cost[arcs], edge[arcs] = t, -p[x] + p[t], -1
                    arcs += 1
            else:
                for y in range(t):
                    if (assign[y] == -1) if y < n else (out[y - n] > 0):
                        head[arcs], cost[arcs], edge[arcs] = y, -p[t] + p[y], -1
                        arcs += 1
            work += arcs
            if size + arcs > heap_d.shape[0]:
                grown = max(2 * heap_d.shape[0], size + arcs)
                heap_d = np.concatenate((heap_d, np.empty(grown - size, np.int64)))
                heap_x = np.concatenate((heap_x, np.empty(grown - size, np.int64)))
            for q in range(arcs):
                y = head[q]
                nd = d + cost[q]
                if nd < dist[y]:
                    if dist[y] == inf:
                        touched[touched_count] = y
                        touched_count += 1
                    dist[y], parent[y], via[y] = nd, x, edge[q]
                    size = _heap_push(heap_d, heap_x, size, nd, y)
        if target < 0 or work > budget:
            return matched, False
        # Potentials: every settled node moves by what it is short of the target's distance.
        reach = dist[target]
        for q in range(settled):
            p[order[q]] += reach - dist[order[q]]
        # Augment one unit along the path, from the target back to the source.
        x = target
        while x != source:
            prev = parent[x]
            if prev < n and x < t:  # mentee prev -> mentor x on edge via[x]
                j = x - n
                slot[slot_at[j] + load[j]] = prev
                load[j] += 1
                assign[prev] = j
                own[prev] = weight[via[x]]
            elif prev < n:  # mentee prev -> t: unmatched
                assign[prev] = -1
                short -= 1
            elif prev < t and x < n:  # mentor prev gives mentee x up (x moves on)
                _release(slot, slot_at, load, prev - n, x)
            elif prev < t:  # mentor prev -> t: one more place used
                out[prev - n] += 1
                short -= 1
            elif x < n:  # t gives unmatched mentee x up (x moves on)
                short += 1
            else:  # t -> mentor x: one place fewer used
                out[x - n] -= 1
                short += 1
            x = prev
        for q in range(touched_count):
            y = touched[q]
            dist[y] = inf
            parent[y] = -1
            done[y] = False
    result = np.where(assign >= 0, assign, -1)
    return result, True


def warm_up() -> None:
    """Compile (or load from the cache) every compiled function on a two-person pool.

    Called once after install and in the background when the service starts, so
    the first whole-cohort run does not pay for compilation.
    """
    mentee = scoring.Person("warm-e", "warm-e", job_level=9, topics_learn=(("AI tools", 1),),
                            interests=("chess",), languages=("English",),
                            availability=((0, "09:00", "12:00"),), time_zone="Europe/London")
    mentor = scoring.Person("warm-r", "warm-r", job_level=2, topics_teach=(("AI tools", 5),),
                            interests=("chess",), languages=("English",),
                            availability=((0, "09:00", "12:00"),), time_zone="Europe/London")
    pool = scoring.build_pool([mentee], [mentor], scoring.Rules())
    packed = pack(pool, np.arange(1, dtype=np.intp), np.arange(1, dtype=np.intp))
    price = np.zeros(1, dtype=np.int64)
    best_pairs(packed, np.arange(1, dtype=np.intp), price, 2, 1, 1)
    best_bids(packed, np.arange(1, dtype=np.intp), np.zeros(1, dtype=np.int64), 2, 1)
    score_all(packed)
    one = np.zeros(1, dtype=np.int64)
    least_prices(np.ones(1, dtype=np.bool_), one, one, one, one, one, one)
    greatest_prices(np.ones(1, dtype=np.bool_), one, one, one, one, one, one)
    zero = np.zeros(1, dtype=np.int64)
    repair(one, np.array([0, 1], dtype=np.int64), zero, np.full(1, 3, dtype=np.int64),
           np.full(1, -1, dtype=np.int64), zero, zero, 100)
