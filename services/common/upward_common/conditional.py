"""Conditional GETs (RFC 9110 section 13): one reading of `If-None-Match` for every route
that answers an ETag."""

from __future__ import annotations


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` or is `*`: the GET answers 304 then.

    Tags compare weakly (section 13.1.2), so `W/"3"` and `"3"` are the same tag, and the
    header may list several.
    """
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags
