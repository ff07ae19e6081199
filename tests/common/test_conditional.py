"""`If-None-Match` read one way for every route that answers an ETag."""

from __future__ import annotations

import pytest

from upward_common.conditional import not_modified


@pytest.mark.parametrize(("header", "etag", "expected"), [
    (None, '"abc"', False),
    ('"abc"', '"abc"', True),
    ('"other"', '"abc"', False),
    ('"other", W/"abc"', '"abc"', True),  # a list, and a weak tag of the same value
    ('"3"', 'W/"3"', True),  # weak comparison both ways
    ('W/"3"', 'W/"3"', True),
    ("*", '"abc"', True),
    ("", '"abc"', False),
])
def test_if_none_match_compares_weakly_and_takes_a_list(
    header: str | None, etag: str, expected: bool,
) -> None:
    assert not_modified(header, etag) is expected
