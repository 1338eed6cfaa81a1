"""One reading of a time given by a person, used by every door that takes one (the read API's
`as_of`/`known_at`, the page, the review's and the brief's `--as-of`, `truenorth dlq purge
--before`): ISO 8601; a bare date, in any form ISO 8601 writes one (2026-11-15, 20261115,
2026-W46-7), means the end of that day (UTC), so everything that happened on it counts; a time
without a zone is UTC. A date with a zone but no time (2026-11-15Z) is refused: it names no
time and no whole day either."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def parse_instant(text: str) -> datetime:
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    try:
        if "T" not in text.upper() and " " not in text:
            raise ValueError  # a date with a zone, which datetime reads as its midnight
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-11-15) or an ISO 8601 time (2026-11-15T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
