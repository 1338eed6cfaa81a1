"""One reading of a time given by a person, used by every door that takes one.

ISO 8601; a bare date, in any form ISO 8601 writes one (2026-11-15, 20261115, 2026-W46-7), names
a whole day in UTC, read by what the field is (docs/design.md#time-travel):

- a **start** (`DayStart`: a window's, a period's, a campaign's start) is 00:00 UTC of that day;
- an **end** (`DayEnd`: a deadline, a window's or period's end, inclusive) is the next midnight
  UTC, since windows are half-open, so the whole day is in;
- an **instant** (`Instant`, `parse_instant`: `as_of`, `known_at`, `--as-of`, `--before`, a
  command's `occurred_at`) is the end of that day, so everything that happened on it counts.

A date with a zone but no time (2026-11-15Z) is refused: it names no time and no whole day
either. The pydantic types refuse a time without a zone (as the contract always has); the
parameters read by `parse_instant` take one as UTC. A bare date becomes a UTC date-time and a
time keeps its zone, so events always carry a full ISO 8601 date-time, never a bare date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")
"""Seconds since the epoch, which pydantic reads as a UTC time (accepted before dates were)."""


def bare_date(value: object) -> date | None:
    """The day `value` names when it is a bare date (a `date`, or text ISO 8601 reads as a
    date), else None."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) <= 12:  # the longest date form, with spaces
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def end_of_day(day: date) -> datetime:
    """The next midnight UTC: a half-open window ending here holds the whole day."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def _not_a_time(text: str) -> ValueError:
    return ValueError(
        f"{text!r} is not a date (2026-11-15) or an ISO 8601 time (2026-11-15T12:00:00Z)"
    )


def _names_no_time(text: str) -> bool:
    """Text with no time part: a date (perhaps with a zone, which names no time) or garbage."""
    return "T" not in text.upper() and " " not in text


def parse_instant(text: str) -> datetime:
    """A query parameter or CLI option: a bare date is the end of that day (UTC), a time
    without a zone is UTC; its zone is kept."""
    day = bare_date(text.strip())
    return end_of_day(day) if day is not None else parse_time(text)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (not a bare date); one without a zone is UTC; its zone is kept."""
    text = text.strip()
    try:
        if _names_no_time(text):
            raise ValueError  # a date with a zone, which datetime reads as its midnight
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _not_a_time(text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reader(day_to_moment: Callable[[date], datetime]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if type(value) is str and len(value) > 16:  # a time (the hot path of every event)
            return value
        day = bare_date(value)
        if day is not None:
            return day_to_moment(day)
        if isinstance(value, str):
            text = value.strip()
            if _names_no_time(text) and not _NUMBER.fullmatch(text):
                raise _not_a_time(text)
        return value  # a time: pydantic reads it (and refuses one without a zone)

    return read


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.utcoffset() else value


IN_UTC = AfterValidator(_in_utc)
"""Stack on a type to store the moment in UTC (`Annotated[DayStart, IN_UTC]`: the strategy
document). The contract's types keep the zone a time was written with, so an event re-encoded
is byte for byte the event stored."""


def _date_or_date_time(description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": description,
        }
    )


DayStart = Annotated[
    AwareDatetime,
    BeforeValidator(_reader(start_of_day)),
    _date_or_date_time("YYYY-MM-DD (00:00 UTC) or ISO 8601"),
]
"""A window's start: a bare date is 00:00 UTC of that day."""
DayEnd = Annotated[
    AwareDatetime,
    BeforeValidator(_reader(end_of_day)),
    _date_or_date_time("YYYY-MM-DD (inclusive: the end of that day, UTC) or ISO 8601"),
]
"""A window's end or a deadline: a bare date is the next midnight UTC (the day is in)."""
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_reader(end_of_day)),
    _date_or_date_time("YYYY-MM-DD (the end of that day, UTC) or ISO 8601"),
]
"""A moment (when something happened): a bare date is the end of that day, like `as_of`."""
