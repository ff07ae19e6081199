"""The explained score (0-100) and the hard constraints, vectorised over pairs.

Every participant becomes a row of small arrays (topic vectors, 0/1 rows of
interests, languages and UTC half-hours of availability, codes for department,
manager and location). A block of mentees x mentors is then scored with a few
matrix products and broadcasts, in blocks of about a million pairs, so memory
stays flat whatever the cohort size.

Points are integers in hundredths of a point. Every factor is first reduced to
an exact integer (shared interests, free half-hours in common, a topic sum, a
category) and turned into points by one float64 formula or a table made once
per pool, so every route to a score (these matrix products, one pair at a
time, or the solver's compiled scan in `compiled`) gives the same integers; the
score is their sum, and the solver maximises exactly the number people see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntFlag
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray

FACTORS: tuple[str, ...] = (
    "complementarity", "interests", "availability", "language", "format",
    "department", "level_gap", "diversity",
)
DEFAULT_WEIGHTS: dict[str, float] = {
    "complementarity": 35.0, "interests": 10.0, "availability": 15.0, "language": 10.0,
    "format": 10.0, "department": 10.0, "level_gap": 10.0, "diversity": 10.0,
}
DEFAULT_DEI_TOPICS: tuple[str, ...] = (
    "dei", "diversity", "equity", "inclusion", "diversity and inclusion",
    "diversity, equity and inclusion",
)
SLOTS_PER_WEEK = 7 * 48  # half-hours
SCALE = 10_000  # a score of 100 points is 10,000 hundredths
BLOCK_PAIRS = 1 << 20  # pairs scored at once: bounds the temporary arrays to tens of MB

FORMAT_BITS = {"virtual": 1, "hybrid": 2, "in_person": 4}
REMOTE = 1 | 2
IN_PERSON = 4


class Rule(IntFlag):
    """Hard constraints between two people; a pair is eligible when none is set."""

    SAME_PERSON = 1
    LEVEL_GAP = 2
    REPORTING_LINE = 4
    SAME_MANAGER = 8
    PREVIOUSLY_PAIRED = 16
    AVOID_LIST = 32
    DEI_OPT_IN = 64
    TIME_ZONE_DISTANCE = 128
    AVAILABILITY_OVERLAP = 256


# Limits a programme chooses for itself; an admin may bend them with a recorded reason.
OVERRIDABLE = Rule.SAME_MANAGER | Rule.TIME_ZONE_DISTANCE | Rule.AVAILABILITY_OVERLAP

RULE_NAMES: dict[Rule, str] = {
    Rule.SAME_PERSON: "same_person",
    Rule.LEVEL_GAP: "level_gap",
    Rule.REPORTING_LINE: "reporting_line",
    Rule.SAME_MANAGER: "same_manager",
    Rule.PREVIOUSLY_PAIRED: "previously_paired",
    Rule.AVOID_LIST: "avoid_list",
    Rule.DEI_OPT_IN: "dei_opt_in",
    Rule.TIME_ZONE_DISTANCE: "time_zone_distance",
    Rule.AVAILABILITY_OVERLAP: "availability_overlap",
}

RULE_DETAILS: dict[Rule, str] = {
    Rule.SAME_PERSON: "The mentor and the mentee are the same employee",
    Rule.LEVEL_GAP: "The mentor must be at least the programme's level gap below the mentee",
    Rule.REPORTING_LINE: "One reports to the other (directly or further up the line)",
    Rule.SAME_MANAGER: "They share a direct manager, which this programme does not allow",
    Rule.PREVIOUSLY_PAIRED: "They have already been paired in this programme",
    Rule.AVOID_LIST: "One of them asked not to be paired with the other",
    Rule.DEI_OPT_IN: "The mentee wants to learn a DEI topic and the mentor has not opted in",
    Rule.TIME_ZONE_DISTANCE: "Their time zones are further apart than the programme allows",
    Rule.AVAILABILITY_OVERLAP: "Their weekly availability overlaps less than the programme asks",
}


def rule_list(mask: int) -> list[Rule]:
    """The rules set in `mask`, most fundamental first."""
    return [rule for rule in Rule if mask & rule]


# --- inputs --------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A participant as scoring sees them (built from the pool tables)."""

    participant_id: str
    employee_id: str
    given_name: str | None = None
    job_level: int | None = None
    department: str | None = None
    manager_id: str | None = None
    manager_chain: tuple[str, ...] = ()
    location: str | None = None
    time_zone: str | None = None
    topics_teach: tuple[tuple[str, int], ...] = ()
    topics_learn: tuple[tuple[str, int], ...] = ()
    interests: tuple[str, ...] = ()
    availability: tuple[tuple[int, str, str], ...] = ()
    meeting_formats: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    capacity: int = 1
    dei_opt_in: bool = False
    avoid_employee_ids: tuple[str, ...] = ()
    diversity: Mapping[str, str] | None = None


def default_ideal_level_gap(job_level_max: int = 20) -> int:
    """The level gap that earns full level-gap points unless a programme sets its own:
    4 on the 1-20 scale, the same share of another scale (at least 1)."""
    return max(1, round((job_level_max - 1) * 4 / 19))


@dataclass(frozen=True)
class Rules:
    """A programme's rules and scoring configuration."""

    min_level_gap: int = 0
    mutual: bool = False
    meeting_format: str = "virtual"
    diversity_objective: bool = False
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    allow_shared_manager: bool = False
    max_time_zone_hours: float | None = None
    min_overlap_hours: float | None = None
    ideal_level_gap: int = 4
    ideal_overlap_hours: float = 3.0
    dei_topics: tuple[str, ...] = DEFAULT_DEI_TOPICS
    diversity_attribute: str = "under_represented"
    diversity_values: tuple[str, ...] = ("yes", "true")
    # Time-zone offsets (and so availability in UTC) are taken in this week.
    reference_date: date | None = None

    def factor_scales(self) -> NDArray[np.float64]:
        """Hundredths of a point a factor is worth at full marks (0 when switched off)."""
        raw = np.array([max(float(self.weights.get(f, 0.0)), 0.0) for f in FACTORS])
        if not self.diversity_objective:
            raw[FACTORS.index("diversity")] = 0.0  # never scored unless the programme opts in
        total = raw.sum()
        return raw * (SCALE / total) if total > 0 else raw


# Vectorising a pool meets the same topics, zones and windows over and over: the
# conversions below are cached, so each distinct value is converted once, not per person.
@lru_cache(maxsize=16_384)
def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


@lru_cache(maxsize=1_024)
def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def week_start(reference: date | None) -> date:
    day = reference or datetime.now(UTC).date()
    return day - timedelta(days=day.weekday())


@lru_cache(maxsize=4_096)
def utc_offset_hours(zone_name: str | None, monday: date) -> float:
    zone = _zone(zone_name)
    if zone is None:
        return float("nan")
    moment = datetime.combine(monday + timedelta(days=2), time(12), tzinfo=zone)
    offset = moment.utcoffset()
    return offset.total_seconds() / 3600 if offset is not None else float("nan")


def availability_slots(windows: Iterable[tuple[int, str, str]], zone_name: str | None,
                       monday: date) -> int:
    """A bitset of the week's UTC half-hours covered by local-time windows.

    Each window is placed on its weekday of the reference week in the person's
    zone, so both sides' daylight-saving rules apply; partial half-hours are
    dropped (a 09:15-10:00 slot counts from 09:30).
    """
    bits = 0
    for weekday, start, end in windows:
        bits |= _window_slots(weekday, start, end, zone_name, monday)
    return bits


@lru_cache(maxsize=65_536)
def _window_slots(weekday: int, start: str, end: str, zone_name: str | None,
                  monday: date) -> int:
    """The UTC half-hours of one local window of the reference week, as a bitset."""
    zone = _zone(zone_name) or UTC
    origin = datetime.combine(monday, time(0), tzinfo=UTC)
    bits = 0
    day = monday + timedelta(days=weekday)
    sh, sm = (int(x) for x in start.split(":"))
    eh, em = (int(x) for x in end.split(":"))
    begin = datetime.combine(day, time(sh, sm), tzinfo=zone)
    finish = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
              if eh == 24 else datetime.combine(day, time(eh, em), tzinfo=zone))
    first = -(-int((begin - origin).total_seconds()) // 1800)
    last = int((finish - origin).total_seconds()) // 1800
    for slot in range(first, last):
        bits |= 1 << (slot % SLOTS_PER_WEEK)
    return bits


def _onehot(codes: Sequence[Iterable[int]], width: int) -> NDArray[np.float32]:
    out = np.zeros((len(codes), max(width, 1)), dtype=np.float32)
    for row, members in enumerate(codes):
        for col in members:
            out[row, col] = 1.0
    return out


def _slots_matrix(values: Sequence[int]) -> NDArray[np.float32]:
    """Rows of 0/1 floats, one column per UTC half-hour of the week (for GEMM overlaps)."""
    raw = np.frombuffer(b"".join(v.to_bytes(SLOTS_PER_WEEK // 8, "little") for v in values),
                        dtype=np.uint8).reshape(len(values), SLOTS_PER_WEEK // 8)
    return np.unpackbits(raw, axis=1, bitorder="little").astype(np.float32)


class _Codes:
    """Stable small integers for strings (topics, departments, employee ids)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str | None) -> int:
        if name is None or name == "":
            return -1
        found = self.index.get(name)
        if found is None:
            found = self.index[name] = len(self.names)
            self.names.append(name)
        return found

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Side:
    """One side of the pool (mentees or mentors) as arrays, one row per person.

    Sets (interests, languages, UTC half-hours free) are 0/1 float rows, so the
    overlap of two blocks of people is one matrix product.
    """

    people: list[Person]
    employee: NDArray[np.int32]
    manager: NDArray[np.int32]
    level: NDArray[np.int32]
    department: NDArray[np.int32]
    location: NDArray[np.int32]
    formats: NDArray[np.uint8]
    offset: NDArray[np.float64]
    teach: NDArray[np.float32]  # level 0-5 per topic (integers)
    learn: NDArray[np.float32]  # weight 0-5 per topic, priority 1 weighing 5 (integers)
    # complementarity points per unit of (learn . partner's teach): scale / (5 * total weight)
    learn_scale: NDArray[np.float64]
    wants_dei: NDArray[np.bool_]
    dei_opt_in: NDArray[np.bool_]
    interests: NDArray[np.float32]
    languages: NDArray[np.float32]
    has_languages: NDArray[np.bool_]
    availability: NDArray[np.float32]
    diverse: NDArray[np.bool_]
    capacity: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.people)


@dataclass(frozen=True)
class PointTables:
    """Each factor's points (hundredths) for every exact value it can take.

    Made once per pool from the rules, so a factor's points are looked up, not
    recomputed, and every scoring route agrees to the hundredth.
    """

    interests: NDArray[np.int64]  # by shared interests, 0-3 (3 or more is full marks)
    availability: NDArray[np.int64]  # by UTC half-hours free together, 0-336
    language: NDArray[np.int64]  # [no common language, a common one, not given by both]
    format: NDArray[np.int64]  # [no workable format, a workable one]
    department: NDArray[np.int64]  # [same, different, unknown]
    level_gap: NDArray[np.int64]  # by reverse gap 0..ideal
    diversity: NDArray[np.int64]  # [does not count, counts]

    @staticmethod
    def of(rules: Rules, scales: NDArray[np.float64]) -> PointTables:
        def points(k: int, fractions: Any) -> NDArray[np.int64]:
            scale: np.float64 = scales[k]  # numpy types a scalar index as Any
            return np.rint(scale * np.asarray(fractions, dtype=np.float64)).astype(np.int64)

        ideal_gap = max(rules.ideal_level_gap, 1)
        ideal_overlap = rules.ideal_overlap_hours if rules.ideal_overlap_hours > 0 else 1.0
        half_hours = np.arange(SLOTS_PER_WEEK + 1) / 2.0
        return PointTables(
            interests=points(1, np.arange(4) / 3.0),
            availability=points(2, np.minimum(half_hours, ideal_overlap) / ideal_overlap),
            language=points(3, [0.0, 1.0, 0.5]),
            format=points(4, [0.0, 1.0]),
            department=points(5, [0.0, 1.0, 0.5]),
            level_gap=points(6, np.arange(ideal_gap + 1) / ideal_gap),
            diversity=points(7, [0.0, 1.0]),
        )


@dataclass
class Pool:
    """Both sides, the programme's rules, and the pairs ruled out one by one.

    `forbidden` holds sorted keys mentee * m + mentor of pairs barred by a
    reporting line, an earlier pairing or an avoid list; `forbidden_bits` the
    rules each breaks.
    """

    mentees: Side
    mentors: Side
    rules: Rules
    scales: NDArray[np.float64]
    forbidden: NDArray[np.int64]
    forbidden_bits: NDArray[np.int32]
    topics: list[str]
    tables: PointTables

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.mentees), len(self.mentors)


def build_pool(
    mentees: Sequence[Person],
    mentors: Sequence[Person],
    rules: Rules,
    *,
    previous_pairs: Iterable[tuple[str, str]] = (),
) -> Pool:
    """Vectorise a programme's pool; `previous_pairs` are (mentee, mentor) participant ids."""
    monday = week_start(rules.reference_date)
    dei = {_norm(t) for t in rules.dei_topics}
    topics, interests, languages = _Codes(), _Codes(), _Codes()
    departments, locations, employees = _Codes(), _Codes(), _Codes()
    for person in [*mentees, *mentors]:
        employees.code(person.employee_id)
        for topic, _ in (*person.topics_teach, *person.topics_learn):
            topics.code(_norm(topic))
        for name in person.interests:
            interests.code(_norm(name))
        for name in person.languages:
            languages.code(_norm(name))
    ntopics = max(len(topics), 1)
    scales = rules.factor_scales()
    comp_scale = float(scales[0])
    slot_cache: dict[tuple[Any, ...], int] = {}
    diversity_values = {_norm(v) for v in rules.diversity_values}

    def side(people: Sequence[Person]) -> Side:
        n = len(people)
        teach = np.zeros((n, ntopics), dtype=np.float32)
        learn = np.zeros((n, ntopics), dtype=np.float32)
        wants_dei = np.zeros(n, dtype=np.bool_)
        slots: list[int] = []
        learn_scale = np.zeros(n, dtype=np.float64)
        for row, p in enumerate(people):
            for topic, level in p.topics_teach:
                name = _norm(topic)
                if name in dei and not p.dei_opt_in:
                    continue  # nobody is scored on teaching DEI without opting in
                col = topics.index[name]
                teach[row, col] = max(teach[row, col], float(min(max(level, 0), 5)))
            total = 0
            for topic, priority in p.topics_learn:
                name = _norm(topic)
                wants_dei[row] |= name in dei
                weight = 6 - min(max(priority, 1), 5)  # priority 1 (first) weighs 5, 5 weighs 1
                learn[row, topics.index[name]] += weight
                total += weight
            if total > 0:
                # Mutual programmes average both directions: half of each.
                learn_scale[row] = comp_scale / (5.0 * total) * (0.5 if rules.mutual else 1.0)
            key = (p.time_zone, p.availability)
            if key not in slot_cache:
                slot_cache[key] = availability_slots(p.availability, p.time_zone, monday)
            slots.append(slot_cache[key])
        formats = np.array(
            [sum(FORMAT_BITS.get(f, 0) for f in set(p.meeting_formats))
             or FORMAT_BITS.get(rules.meeting_format, 1) for p in people], dtype=np.uint8)
        attribute = rules.diversity_attribute
        return Side(
            people=list(people),
            employee=np.array([employees.code(p.employee_id) for p in people], dtype=np.int32),
            manager=np.array([employees.code(p.manager_id) for p in people], dtype=np.int32),
            level=np.array([p.job_level if p.job_level is not None else -1 for p in people],
                           dtype=np.int32),
            department=np.array([departments.code(p.department) for p in people],
                                dtype=np.int32),
            location=np.array([locations.code(_norm(p.location) if p.location else None)
                               for p in people], dtype=np.int32),
            formats=formats,
            offset=np.array([utc_offset_hours(p.time_zone, monday) for p in people]),
            teach=teach,
            learn=learn,
            learn_scale=learn_scale,
            wants_dei=wants_dei,
            dei_opt_in=np.array([p.dei_opt_in for p in people], dtype=np.bool_),
            interests=_onehot([{interests.index[_norm(x)] for x in p.interests}
                               for p in people], len(interests)),
            languages=_onehot([{languages.index[_norm(x)] for x in p.languages}
                               for p in people], len(languages)),
            has_languages=np.array([bool(p.languages) for p in people], dtype=np.bool_),
            availability=_slots_matrix(slots),
            diverse=np.array(
                [bool(p.diversity and _norm(str(p.diversity.get(attribute, ""))) in
                      diversity_values) for p in people], dtype=np.bool_),
            capacity=np.array([max(p.capacity, 0) for p in people], dtype=np.int64),
        )

    mentee_side, mentor_side = side(mentees), side(mentors)
    m = len(mentors)
    mentee_row = {p.participant_id: i for i, p in enumerate(mentees)}
    mentor_row = {p.participant_id: j for j, p in enumerate(mentors)}
    mentors_of: dict[str, list[int]] = {}
    for j, p in enumerate(mentors):
        mentors_of.setdefault(p.employee_id, []).append(j)
    mentees_of: dict[str, list[int]] = {}
    for i, p in enumerate(mentees):
        mentees_of.setdefault(p.employee_id, []).append(i)
    keys: list[int] = []
    bits: list[int] = []

    def bar(pairs: Iterable[int], rule: Rule) -> None:
        for key in pairs:
            keys.append(key)
            bits.append(int(rule))

    bar((mentee_row[a] * m + mentor_row[b] for a, b in previous_pairs
         if a in mentee_row and b in mentor_row), Rule.PREVIOUSLY_PAIRED)
    for i, p in enumerate(mentees):
        bar((i * m + j for other in p.avoid_employee_ids for j in mentors_of.get(other, ())),
            Rule.AVOID_LIST)
        # Anyone up the mentee's line (any depth) who also mentors here.
        bar((i * m + j for boss in p.manager_chain for j in mentors_of.get(boss, ())),
            Rule.REPORTING_LINE)
    for j, p in enumerate(mentors):
        bar((i * m + j for other in p.avoid_employee_ids for i in mentees_of.get(other, ())),
            Rule.AVOID_LIST)
        bar((i * m + j for boss in p.manager_chain for i in mentees_of.get(boss, ())),
            Rule.REPORTING_LINE)
    key_array = np.array(keys, dtype=np.int64)
    bit_array = np.array(bits, dtype=np.int32)
    unique, inverse = np.unique(key_array, return_inverse=True)
    merged = np.zeros(unique.size, dtype=np.int32)
    np.bitwise_or.at(merged, inverse, bit_array)
    return Pool(
        mentees=mentee_side, mentors=mentor_side, rules=rules, scales=scales,
        forbidden=unique, forbidden_bits=merged, topics=topics.names,
        tables=PointTables.of(rules, scales),
    )


# --- scoring -------------------------------------------------------------------


@dataclass
class Scored:
    """Scores of a block of pairs (mentee rows x mentor columns), in hundredths."""

    total: NDArray[np.int64]  # (rows, cols)
    violations: NDArray[np.int32]  # Rule bits; 0 means eligible
    points: NDArray[np.int32] | None = None  # (factors, rows, cols) when asked for

    @property
    def eligible(self) -> NDArray[np.bool_]:
        return cast("NDArray[np.bool_]", self.violations == 0)  # numpy types `==` as Any


def points(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp]
           ) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Each factor's points, (factors, rows, cols), and the UTC half-hours free together.

    Sets are 0/1 rows and topic levels and weights small integers, so every
    matrix product below is an exact integer; factors switched off stay 0.
    """
    a, b, t = pool.mentees, pool.mentors, pool.tables
    on = pool.scales > 0
    out = np.zeros((len(FACTORS), rows.size, cols.size), dtype=np.int32)
    if on[0]:
        comp = (a.learn[rows] @ b.teach[cols].T).astype(np.float64)
        comp *= a.learn_scale[rows][:, None]
        if pool.rules.mutual:
            back = (a.teach[rows] @ b.learn[cols].T).astype(np.float64)
            back *= b.learn_scale[cols][None, :]
            comp += back
        out[0] = np.rint(comp)
    if on[1]:
        shared = (a.interests[rows] @ b.interests[cols].T).astype(np.intp)
        out[1] = t.interests[np.minimum(shared, 3)]
    half_hours = (a.availability[rows] @ b.availability[cols].T).astype(np.intp)
    if on[2]:
        out[2] = t.availability[half_hours]
    if on[3]:
        both = a.has_languages[rows][:, None] & b.has_languages[cols][None, :]
        common = (a.languages[rows] @ b.languages[cols].T) > 0
        out[3] = t.language[np.where(both, common.astype(np.intp), 2)]
    if on[4]:
        fa, fb = a.formats[rows][:, None], b.formats[cols][None, :]
        la_loc = a.location[rows][:, None]
        same_place = (la_loc == b.location[cols][None, :]) & (la_loc >= 0)
        workable = ((fa & fb & REMOTE) != 0) | (((fa & fb & IN_PERSON) != 0) & same_place)
        out[4] = t.format[workable.astype(np.intp)]
    if on[5]:
        da, db = a.department[rows][:, None], b.department[cols][None, :]
        out[5] = t.department[np.where((da < 0) | (db < 0), 2, (da != db).astype(np.intp))]
    if on[6]:
        la, lb = a.level[rows][:, None], b.level[cols][None, :]
        gap = np.clip(la - lb, 0, t.level_gap.size - 1)
        out[6] = np.where((la >= 0) & (lb >= 0), t.level_gap[gap], 0)
    if on[7]:
        out[7] = t.diversity[b.diverse[cols].astype(np.intp)][None, :]
    return out, half_hours


def violations(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp],
               half_hours: NDArray[np.intp]) -> NDArray[np.int32]:
    """The hard-constraint bits broken by each pair of the block (0 = eligible)."""
    a, b, rules = pool.mentees, pool.mentors, pool.rules
    ea, eb = a.employee[rows][:, None], b.employee[cols][None, :]
    bits = np.where(ea == eb, np.int32(Rule.SAME_PERSON), np.int32(0))
    la, lb = a.level[rows][:, None], b.level[cols][None, :]
    known = (la >= 0) & (lb >= 0)
    level_bad = np.where(known, la - lb < rules.min_level_gap, rules.min_level_gap > 0)
    bits |= np.where(level_bad, np.int32(Rule.LEVEL_GAP), np.int32(0))
    if not rules.allow_shared_manager:
        ma = a.manager[rows][:, None]
        same = (ma >= 0) & (ma == b.manager[cols][None, :])
        bits |= np.where(same, np.int32(Rule.SAME_MANAGER), np.int32(0))
    dei = a.wants_dei[rows][:, None] & ~b.dei_opt_in[cols][None, :]
    bits |= np.where(dei, np.int32(Rule.DEI_OPT_IN), np.int32(0))
    if rules.max_time_zone_hours is not None:
        diff = np.abs(a.offset[rows][:, None] - b.offset[cols][None, :]) % 24
        diff = np.minimum(diff, 24 - diff)
        too_far = ~(diff <= rules.max_time_zone_hours + 1e-9)  # unknown zones cannot be close
        bits |= np.where(too_far, np.int32(Rule.TIME_ZONE_DISTANCE), np.int32(0))
    if rules.min_overlap_hours is not None:
        short = half_hours < 2.0 * rules.min_overlap_hours
        bits |= np.where(short, np.int32(Rule.AVAILABILITY_OVERLAP), np.int32(0))
    _apply_forbidden(pool, rows, cols, bits)
    return bits


def _apply_forbidden(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp],
                     bits: NDArray[np.int32]) -> None:
    if pool.forbidden.size == 0 or rows.size == 0 or cols.size == 0:
        return
    m = len(pool.mentors)
    lo = np.searchsorted(pool.forbidden, rows.astype(np.int64) * m)
    hi = np.searchsorted(pool.forbidden, (rows.astype(np.int64) + 1) * m)
    counts = hi - lo
    if not counts.any():
        return
    owner = np.repeat(np.arange(rows.size), counts)
    at = np.repeat(lo, counts) + (np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts,
                                                                   counts))
    mentor = pool.forbidden[at] % m
    order = np.argsort(cols, kind="stable")
    pos = np.searchsorted(cols[order], mentor).clip(0, cols.size - 1)
    hit = cols[order][pos] == mentor
    np.bitwise_or.at(bits, (owner[hit], order[pos[hit]]), pool.forbidden_bits[at[hit]])


def score_block(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp], *,
                with_points: bool = False) -> Scored:
    """Points, totals and broken rules of every (rows[r], cols[c]) pair.

    Callers keep blocks to about a million pairs; `score_rows` does the blocking.
    """
    rows = np.asarray(rows, dtype=np.intp)
    cols = np.asarray(cols, dtype=np.intp)
    parts, half_hours = points(pool, rows, cols)
    total = parts.sum(axis=0, dtype=np.int64)
    return Scored(total=total, violations=violations(pool, rows, cols, half_hours),
                  points=parts if with_points else None)


def score_rows(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp] | None = None,
               *, with_points: bool = False) -> Scored:
    """`score_block` over all of `cols` (default: every mentor), in bounded blocks of rows."""
    cols = np.arange(len(pool.mentors), dtype=np.intp) if cols is None else cols
    per = max(1, BLOCK_PAIRS // max(cols.size, 1))
    parts = [score_block(pool, rows[s : s + per], cols, with_points=with_points)
             for s in range(0, max(rows.size, 1), per)]
    return Scored(
        total=np.concatenate([p.total for p in parts]),
        violations=np.concatenate([p.violations for p in parts]),
        points=(np.concatenate([p.points for p in parts], axis=1)
                if with_points else None),
    )


def score_mentee(pool: Pool, mentee: int) -> Scored:
    """One mentee against every mentor of the pool, with each factor's points."""
    return score_rows(pool, np.array([mentee], dtype=np.intp), with_points=True)


def dense_scores(pool: Pool) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The full (mentees x mentors) score and eligibility matrices."""
    scored = score_rows(pool, np.arange(len(pool.mentees), dtype=np.intp))
    return scored.total, scored.eligible


def count_eligible(pool: Pool, *, mentee_rows: NDArray[np.intp] | None = None,
                   mentor_rows: NDArray[np.intp] | None = None) -> int:
    """How many (mentee, mentor) pairs pass every hard constraint, counted in blocks."""
    rows = np.arange(len(pool.mentees), dtype=np.intp) if mentee_rows is None else mentee_rows
    cols = np.arange(len(pool.mentors), dtype=np.intp) if mentor_rows is None else mentor_rows
    if rows.size == 0 or cols.size == 0:
        return 0
    count = 0
    per = max(1, BLOCK_PAIRS // cols.size)
    for start in range(0, rows.size, per):
        block = rows[start : start + per]
        half_hours = (pool.mentees.availability[block]
                      @ pool.mentors.availability[cols].T).astype(np.intp)
        count += int((violations(pool, block, cols, half_hours) == 0).sum())
    return count


# --- explanations --------------------------------------------------------------

_ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _hours(value: float) -> str:
    return f"{value:g} h"


def explain(pool: Pool, mentee: int, mentor: int, points: NDArray[np.int32], *,
            show_sensitive: bool = True) -> list[dict[str, Any]]:
    """The breakdown of one pair: each scored factor's points and a readable reason.

    `points` is the pair's points per factor (hundredths, in `FACTORS` order), as
    `score_block` or `pair_scores` give them. `show_sensitive=False` (anyone but
    an HR admin) names the diversity factor by the programme objective only,
    never by the person's attribute (`redact`).
    """
    a, b = pool.mentees.people[mentee], pool.mentors.people[mentor]
    rules = pool.rules
    name = a.given_name or "the mentee"
    mentor_name = b.given_name or "the mentor"
    reasons: dict[str, str] = {}

    teach = {_norm(t): level for t, level in b.topics_teach}
    topic_col = {t: k for k, t in enumerate(pool.topics)}
    matched = [(priority, topic, teach[_norm(topic)])
               for topic, priority in sorted(a.topics_learn, key=lambda x: x[1])
               if _norm(topic) in teach
               and pool.mentors.teach[mentor, topic_col[_norm(topic)]] > 0]
    if matched:
        parts = [f"teaches {topic} ({level}/5), which {name} ranks "
                 f"{_ORDINAL.get(priority, str(priority))}"
                 for priority, topic, level in matched[:2]]
        if len(matched) > 2:
            parts.append(f"and {len(matched) - 2} more of {name}'s topics")
        reasons["complementarity"] = "; ".join(parts)
    elif not a.topics_learn:
        reasons["complementarity"] = f"{name} has not listed topics to learn"
    else:
        reasons["complementarity"] = f"teaches none of the topics {name} wants to learn"
    if rules.mutual:
        back = {_norm(t) for t, _ in a.topics_teach} & {_norm(t) for t, _ in b.topics_learn}
        reasons["complementarity"] += (
            f"; learns {', '.join(sorted(back)[:2])} from {name} in return" if back
            else f"; {mentor_name} learns nothing listed from {name} in return")

    shared = sorted({_norm(x) for x in a.interests} & {_norm(x) for x in b.interests})
    reasons["interests"] = (f"shares interests: {', '.join(shared[:3])}" if shared
                            else "no shared interests listed")

    overlap = float(pool.mentees.availability[mentee] @ pool.mentors.availability[mentor]) / 2
    zones = sorted({z for z in (a.time_zone, b.time_zone) if z})
    where = f" (across {' and '.join(zones)})" if len(zones) == 2 else ""
    reasons["availability"] = (f"{_hours(float(overlap))} a week free at the same time{where}"
                               if a.availability and b.availability
                               else "weekly availability not given by both")

    common = sorted({_norm(x) for x in a.languages} & {_norm(x) for x in b.languages})
    if a.languages and b.languages:
        reasons["language"] = (f"both speak {', '.join(common)}" if common
                               else "no common language listed")
    else:
        reasons["language"] = "languages not given by both (half marks)"

    fa, fb = int(pool.mentees.formats[mentee]), int(pool.mentors.formats[mentor])
    if fa & fb & FORMAT_BITS["virtual"]:
        reasons["format"] = "both can meet virtually"
    elif fa & fb & FORMAT_BITS["hybrid"]:
        reasons["format"] = "both can meet in a hybrid format"
    elif fa & fb & IN_PERSON and a.location and _norm(a.location) == _norm(b.location or ""):
        reasons["format"] = f"both meet in person in {a.location}"
    elif fa & fb & IN_PERSON:
        reasons["format"] = "both prefer in person but work in different locations"
    else:
        reasons["format"] = "no meeting format in common"

    if a.department and b.department:
        reasons["department"] = (
            f"different departments ({b.department} and {a.department}): a cross-silo pair"
            if a.department != b.department else f"same department ({a.department})")
    else:
        reasons["department"] = "department unknown (half marks)"

    if a.job_level is not None and b.job_level is not None:
        gap = a.job_level - b.job_level
        reasons["level_gap"] = (f"level {b.job_level} teaching level {a.job_level}: a gap of {gap}"
                                f" (full marks from {rules.ideal_level_gap})")
    else:
        reasons["level_gap"] = "job levels unknown"

    reasons["diversity"] = ("counts toward the programme's diversity objective"
                            if pool.mentors.diverse[mentor]
                            else "does not count toward the programme's diversity objective")
    items = [{"factor": factor, "points": round(int(points[k]) / 100, 2),
              "reason": reasons[factor]}
             for k, factor in enumerate(FACTORS) if pool.scales[k] > 0]
    return items if show_sensitive else redact(items)


OBJECTIVE_FACTOR = "programme_objective"
OBJECTIVE_REASON = "weighted by an objective HR set for this programme"


def redact(breakdown: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A breakdown as anyone but an HR admin sees it: the diversity factor named generically.

    Stored breakdowns keep the full wording; every read by someone else goes
    through here, so a mentee never reads a mentor's diversity attribute.
    """
    return [{**item, "factor": OBJECTIVE_FACTOR, "reason": OBJECTIVE_REASON}
            if item.get("factor") == "diversity" else dict(item) for item in breakdown]


def pair_scores(pool: Pool, rows: NDArray[np.intp], cols: NDArray[np.intp]
                ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """Totals, broken rules and per-factor points of the pairs (rows[k], cols[k]).

    Scored in small square blocks whose diagonals are the pairs (a few hundred
    pairs at a time keeps the waste small and the arithmetic the same as everywhere).
    """
    rows = np.asarray(rows, dtype=np.intp)
    cols = np.asarray(cols, dtype=np.intp)
    totals = np.empty(rows.size, dtype=np.int64)
    rules = np.empty(rows.size, dtype=np.int32)
    points = np.empty((len(FACTORS), rows.size), dtype=np.int32)
    for start in range(0, rows.size, 128):
        r, c = rows[start : start + 128], cols[start : start + 128]
        scored = score_block(pool, r, c, with_points=True)
        assert scored.points is not None
        k = np.arange(r.size)
        totals[start : start + r.size] = scored.total[k, k]
        rules[start : start + r.size] = scored.violations[k, k]
        points[:, start : start + r.size] = scored.points[:, k, k]
    return totals, rules, points
