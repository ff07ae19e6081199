"""Capped input types every API model is built from, so no string or list is unbounded.

Each cap is documented in `docs/limits.md`; a value over its cap, a NUL byte, a
control character in a one-line string or an unknown time zone is a 422 that names
the field, before anything is written.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

import pydantic
from pydantic import AfterValidator, StringConstraints

# Caps in characters (strings) and items (lists). Changing one is an API change.
ID_MAX = 64
NAME_MAX = 200
TAG_MAX = 100
TEXT_MAX = 4_000
LONG_TEXT_MAX = 20_000
EMAIL_MAX = 254
TIME_ZONE_MAX = 64
SHORT_LIST_MAX = 20
LIST_MAX = 50
LONG_LIST_MAX = 100
PAGE_MAX = 10_000
# Instants people enter (a session held, a date to plan from): years in UTC.
YEAR_MIN = 1900
YEAR_MAX = 2200

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]*")


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, tab, newline, ...)")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL_EXCEPT_NEWLINES.search(value):
        raise ValueError("must not contain control characters other than newlines and tabs")
    return value


def _identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            "must be letters, digits and _ . : @ + - only, not starting with a dot or dash"
        )
    return value


def _utc_instant(value: datetime) -> datetime:
    # Converting the far ends of the calendar to UTC overflows (9999-12-31 at -14:00
    # is in year 10000): refuse them, and anything outside the years we plan for.
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not YEAR_MIN <= utc.year <= YEAR_MAX:
        raise ValueError(f"must be between the years {YEAR_MIN} and {YEAR_MAX} (in UTC)")
    return utc


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_time_zone(value: str) -> str:
    """An IANA zone name (`Europe/Paris`); a tzdata folder (`Europe`) is no zone."""
    if value not in _known_zones():
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris")
    return value


# An id in a path, a query or a body: safe to place in a URL without quoting tricks.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_MAX), AfterValidator(_identifier)
]
# A person's or a thing's name, a title, a department: one line.
Name = Annotated[str, StringConstraints(max_length=NAME_MAX), AfterValidator(_one_line)]
# An item of a list (a topic, a language, an interest): one short line.
Tag = Annotated[str, StringConstraints(max_length=TAG_MAX), AfterValidator(_one_line)]


def filled(value: str) -> str:
    """A given text that is not blank (only spaces is no name, no topic)."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


# A Tag that must be given: a topic, a diversity attribute or its value.
RequiredTag = Annotated[Tag, AfterValidator(filled)]
Email = Annotated[str, StringConstraints(max_length=EMAIL_MAX), AfterValidator(_one_line)]
# Free text people write (messages, reasons, bios): newlines allowed.
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX), AfterValidator(_multi_line)]
LongText = Annotated[
    str, StringConstraints(max_length=LONG_TEXT_MAX), AfterValidator(_multi_line)
]
TimeZoneName = Annotated[
    str, StringConstraints(max_length=TIME_ZONE_MAX), AfterValidator(valid_time_zone)
]
# The same checks as patterns the validator's core applies with no call into Python,
# for bulk validation (an import's fast path: see enrolment's `CORE_EMPLOYEE_RECORDS`).
# Each accepts exactly what its type above accepts, and keeps the value as it is.
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
FILLED_LINE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
IDENTIFIER_PATTERN = f"^{_ID.pattern}$"
_ZONE_NAME = re.compile(r"[A-Za-z0-9/_+-]+")


@cache
def time_zone_pattern() -> str:
    """Every IANA zone of `valid_time_zone`, as one anchored alternation."""
    # Zone names are letters, digits and / _ - +; only + needs quoting (a class is
    # read the same by every regex engine). A name of other characters is left out:
    # the fast path then refuses it, and the full check takes it.
    names = sorted(name.replace("+", "[+]") for name in _known_zones()
                   if _ZONE_NAME.fullmatch(name))
    return f"^(?:{'|'.join(names)})$"


# A moment with its UTC offset (a naive time is ambiguous), years 1900 to 2200 in UTC,
# converted to UTC.
AwareDatetime = Annotated[pydantic.AwareDatetime, AfterValidator(_utc_instant)]

# A programme's blackout dates (holidays): at most a year's worth of days.
BLACKOUT_DATES_MAX = 366


def _bounded_date(value: date) -> date:
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"a date lies in the years {YEAR_MIN} to {YEAR_MAX}")
    return value


# A calendar date, years 1900 to 2200.
BoundedDate = Annotated[date, AfterValidator(_bounded_date)]
