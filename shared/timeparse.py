"""One reading of a time given by a person, used by every door that takes one (the read API's
`as_of`/`known_at`, the review's `--as-of`): ISO 8601; a bare date means the end of that day
(UTC), so everything that happened on it counts; a time without a zone is UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def parse_instant(text: str) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1)
            return datetime.combine(day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-11-15) or an ISO 8601 time (2026-11-15T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
