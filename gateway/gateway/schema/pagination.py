"""How the schema pages a list that can grow.

Today one list is paged: a match run's pairs, unmatched mentees and formed pair ids, by
`offset` and `limit`, bounded by matching itself. Every domain pages the same way, so
the rule is written once here; cursor connections replace it here too.
"""

from __future__ import annotations

# The bounds are matching's (`GET /runs/{id}`); the gateway passes offset and limit on.
OFFSET_PAGE = "limit entries from offset, 1,000 unless asked, 10,000 at most."
