"""Pulse surveys: who answered (a keyed hash), what was answered (no identity), and
which cuts of the results may be published (groups of 5 or more, complementary
suppression).

A respondent is recorded twice, in tables with no link between them: a keyed hash
of survey id and employee id (HMAC-SHA256, so nobody without the secret can test
"did employee X answer?") that makes a second answer a 409, and an answer row with a
random id that carries only the cut attributes (role, department, level band) and
the answers. Nothing orders answers by when they were given: no timestamp, no
sequence, no rowid (SQLite `WITHOUT ROWID`), reads sorted by value.

## Which cells are published

A cell is a filter combination: each of role, department and level band either a
value or "all". A cell of 1 to 4 respondents is suppressed (primary suppression).
Then, treating the reader as someone who knows every published cell, which cells are
empty, and can add and subtract (a parent is the sum of its children along any one
dimension), the rule is: **for every cell the reader knows (published, or derived
from published cells), and every dimension it is "all" in, the respondents of its
suppressed children together number 0 or at least 5.** Where they number 1 to 4,
the smallest published sibling (if none, the parent) is suppressed too, and the
check starts again until no cut reveals a group under 5 by differencing. An empty
cell is never published either; a reader learns from it only that nobody there
answered, which reveals no answer. A cell the published ones add up to (always 5 or
more, by the rule) is shown too, as the reader could work it out anyway; its figures
(counts, sums, texts) follow from theirs the same way. A request for a suppressed
cell is told only that it is suppressed (not its count). Beyond parents and
children, a test checks that no sum or difference of published cells at all adds up
to a cell under 5.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

MIN_GROUP = 5
MAX_QUESTIONS = 20
MAX_CHOICES = 20
MAX_SURVEYS_PER_PROGRAMME = 100

QuestionKind = Literal["scale", "nps", "choice", "text"]
SCALE_VALUES = range(1, 6)
NPS_VALUES = range(0, 11)

# The dimensions results can be cut by, in the order a cell names them.
DIMENSIONS = ("role", "department", "level_band")
UNKNOWN = "unknown"

# A cell: one value per dimension, None meaning "all".
Cell = tuple[str | None, str | None, str | None]
Profile = tuple[str, str, str]


def level_band(job_level: int | None) -> str:
    """Job levels in bands wide enough to cut by: 1-3, 4-6, 7+ (or unknown)."""
    if job_level is None:
        return UNKNOWN
    if job_level <= 3:
        return "1-3"
    if job_level <= 6:
        return "4-6"
    return "7+"


def respondent_key(secret: bytes, *, survey_id: str, employee_id: str) -> str:
    """The keyed hash that says "this person answered this survey", and nothing else."""
    message = f"{survey_id}\x00{employee_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _in_cell(profile: Profile, cell: Cell) -> bool:
    return all(want is None or want == have for want, have in zip(cell, profile, strict=True))


def cell_counts(profiles: Iterable[Profile]) -> dict[Cell, int]:
    """Respondents in every cell over the values seen (empty cells included)."""
    profiles = list(profiles)
    domains = [sorted({profile[i] for profile in profiles}) for i in range(len(DIMENSIONS))]
    counts: dict[Cell, int] = {}
    everything: list[str | None] = [None]
    roles, departments, bands = (everything + list(domain) for domain in domains)
    for cell in product(roles, departments, bands):
        counts[cell] = len([profile for profile in profiles if _in_cell(profile, cell)])
    return counts


def _with(cell: Cell, dimension: int, value: str | None) -> Cell:
    values = list(cell)
    values[dimension] = value
    return (values[0], values[1], values[2])


def _children(cell: Cell, dimension: int, counts: Mapping[Cell, int]) -> list[Cell]:
    values = {other[dimension] for other in counts if other[dimension] is not None}
    return [_with(cell, dimension, value) for value in sorted(values, key=str)]


@dataclass
class _Leak:
    """A cut that gives a group of 1 to 4 away: a known `cell` under 5 (dimension -1),
    or what `cell`'s children along `dimension` leave over once the known ones are
    taken away."""

    cell: Cell
    dimension: int


def known_cells(published: set[Cell], counts: Mapping[Cell, int]) -> dict[Cell, list[Cell]]:
    """Every non-empty cell a reader can work out from the published ones by sums, with
    the cells it was worked out from (none for a published one)."""
    known: dict[Cell, list[Cell]] = {cell: [] for cell in published}
    changed = True
    while changed:
        changed = False
        for cell in counts:
            if counts[cell] == 0:
                continue
            for dimension, value in enumerate(cell):
                if value is not None:
                    continue
                children = [c for c in _children(cell, dimension, counts) if counts[c]]
                unknown = [c for c in children if c not in known]
                if cell in known and len(unknown) == 1:
                    known[unknown[0]] = [cell, *(c for c in children if c in known)]
                    changed = True
                elif cell not in known and not unknown:
                    known[cell] = children
                    changed = True
    return known


def _order(cell: Cell) -> tuple[str, ...]:
    return tuple(str(value) for value in cell)


def _leak(known: Mapping[Cell, list[Cell]], counts: Mapping[Cell, int]) -> _Leak | None:
    """A known cut that gives away a group of 1 to 4 respondents, if any."""
    for cell in sorted(known, key=_order):
        if counts[cell] < MIN_GROUP:
            return _Leak(cell, -1)
    for cell in sorted(known, key=_order):
        for dimension, value in enumerate(cell):
            if value is not None:
                continue
            hidden = sum(counts[c] for c in _children(cell, dimension, counts)
                         if c not in known)
            if 0 < hidden < MIN_GROUP:
                return _Leak(cell, dimension)
    return None


def _sources(cells: Iterable[Cell], known: Mapping[Cell, list[Cell]]) -> set[Cell]:
    """The published cells these known cells are worked out from (themselves, if published)."""
    found: set[Cell] = set()
    seen: set[Cell] = set()
    todo = list(cells)
    while todo:
        cell = todo.pop()
        if cell in seen:
            continue
        seen.add(cell)
        if known[cell]:
            todo.extend(known[cell])
        else:
            found.add(cell)
    return found


def _first_to_hide(cells: Iterable[Cell], counts: Mapping[Cell, int]) -> Cell | None:
    # The finest and smallest cut goes first: the broad ones are what readers need.
    return min(cells, key=lambda c: (sum(v is None for v in c), counts[c], _order(c)),
               default=None)


def suppressed_cells(counts: Mapping[Cell, int]) -> set[Cell]:
    """The cells not to publish: primary (1 to 4) and complementary (module docstring)."""
    suppressed = {cell for cell, n in counts.items() if 0 < n < MIN_GROUP}
    while True:
        published = {cell for cell, n in counts.items() if n and cell not in suppressed}
        known = known_cells(published, counts)
        leak = _leak(known, counts)
        if leak is None:
            # What a reader works out anyway (all of it 5 or more) is shown as well.
            return suppressed - set(known)
        if leak.dimension < 0:
            # Worked out from published cells: hide one of them.
            candidates = _sources([leak.cell], known)
        else:
            children = [c for c in _children(leak.cell, leak.dimension, counts) if counts[c]]
            # A published sibling of the hidden ones; else one a known sibling is worked
            # out from; else the parent (or what it is worked out from).
            candidates = ({c for c in children if c in published}
                          or _sources([c for c in children if c in known], known) - {leak.cell}
                          or _sources([leak.cell], known))
        # Every round hides one more published cell, so this ends (at worst with nothing).
        choice = _first_to_hide(candidates & published, counts)
        assert choice is not None  # a leak is known from something published
        suppressed.add(choice)


# --- questions and answers -------------------------------------------------------


def answer_problem(question: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Why an answer does not fit its question, or None when it does."""
    kind = question["kind"]
    value, choice, text = answer.get("value"), answer.get("choice"), answer.get("text")
    if kind == "scale":
        if value not in SCALE_VALUES or choice is not None or text is not None:
            return "a scale question takes a value from 1 to 5, and nothing else"
    elif kind == "nps":
        if value not in NPS_VALUES or choice is not None or text is not None:
            return "an NPS question takes a value from 0 to 10, and nothing else"
    elif kind == "choice":
        if choice not in question["choices"] or value is not None or text is not None:
            return "a choice question takes one of its choices, and nothing else"
    elif text is None or value is not None or choice is not None:
        return "a free-text question takes a text, and nothing else"
    return None


def question_result(question: Mapping[str, Any],
                    answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One question's figures over the answers of a published cell."""
    kind = question["kind"]
    mine = [a for a in answers if a["question_id"] == question["id"]]
    result: dict[str, Any] = {"question_id": question["id"], "kind": kind,
                              "prompt": question["prompt"], "answered": len(mine),
                              "mean": None, "nps": None, "distribution": [], "texts": []}
    if kind in ("scale", "nps"):
        values = [int(a["value"]) for a in mine]
        scale = SCALE_VALUES if kind == "scale" else NPS_VALUES
        result["distribution"] = [{"value": str(v), "count": values.count(v)} for v in scale]
        if values:
            result["mean"] = round(sum(values) / len(values), 4)
        if kind == "nps" and values:
            promoters = sum(1 for v in values if v >= 9)
            detractors = sum(1 for v in values if v <= 6)
            result["nps"] = round(100 * (promoters - detractors) / len(values))
    elif kind == "choice":
        chosen = [a["choice"] for a in mine]
        result["distribution"] = [{"value": c, "count": chosen.count(c)}
                                  for c in question["choices"]]
    else:
        # Sorted by value: the order says nothing about who wrote what, or when.
        result["texts"] = sorted(str(a["text"]) for a in mine if str(a["text"]).strip())
    return result
