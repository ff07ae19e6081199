"""The import's core-only first pass takes nothing the real employee model refuses, and
keeps every value as the real model would."""

from __future__ import annotations

import itertools
import random

import pytest
from pydantic import ValidationError

from enrolment.imports import _describe, _validated
from enrolment.models import CORE_EMPLOYEE_RECORDS, EMPLOYEE_RECORDS, IMPORT_COLUMNS

TRICKY = ["", " ", "a", " padded ", "x" * 64, "x" * 65, "x" * 200, "x" * 201, "tab\there",
          "new\nline", "nul\x00", "del\x7f", "\x1c", "\u00a0", "\u2028", "caf\u00e9",
          "a.b", ".dot", "-dash", "_ok:1@x+y", "E0001", "a b", "ann@corp.example",
          " ann@corp.example ", "ann@corp", "a@b.c.", "a@@b.cd", "ann@corp.\u00e9x",
          "Europe/Paris", " Europe/Paris", "Europe", "Etc/GMT+1", "Etc/GMT-14", "UTC",
          "europe/paris", "Mars/Olympus", "7", "0", "13", "21", "-1", "2.0", "2020-01-02",
          "2020-13-01", None]
FIELDS = ("external_id", "email", "given_name", "family_name", "job_title", "job_level",
          "department", "manager_external_id", "location", "time_zone", "hire_date",
          "leave_date", "active")
BASE = {"external_id": "E1", "email": "ann@corp.example", "given_name": "Ann",
        "family_name": "Lee"}


def records() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for field, value in itertools.product(FIELDS, TRICKY):
        out.append({**BASE, field: value})
    rng = random.Random(4)
    for _ in range(500):
        out.append({**BASE, **{f: rng.choice(TRICKY) for f in rng.sample(FIELDS, 4)}})
    out.append({**BASE, "unknown": "x"})
    out.append({"email": "a@b.cd"})
    return out


@pytest.mark.parametrize("record", records())
def test_the_core_pass_takes_only_what_the_model_takes_with_the_same_values(
    record: dict[str, object],
) -> None:
    try:
        core = CORE_EMPLOYEE_RECORDS.validate_python([record])
    except ValidationError:
        return  # the real model decides, and names the problems
    assert EMPLOYEE_RECORDS.validate_python([record]) == core


def test_rows_refused_by_the_core_pass_get_the_real_models_errors_and_values() -> None:
    raw = records()
    failed: dict[int, list[tuple[str, str]]] = {}
    try:
        EMPLOYEE_RECORDS.validate_python(raw)
    except ValidationError as exc:  # the whole file through the real model, as before
        for error in exc.errors():
            failed.setdefault(int(error["loc"][0]), []).append(
                _describe(error, IMPORT_COLUMNS, skip=1))
    valid = EMPLOYEE_RECORDS.validate_python([r for i, r in enumerate(raw) if i not in failed])
    assert failed and valid
    assert _validated(raw) == (valid, failed)
    assert list(_validated(raw)[1]) == sorted(failed)
