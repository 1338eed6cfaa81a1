"""When the brief is posted: `mon 08:00` (a weekday and a UTC time), and the small scheduler
`truenorth up` runs it with (`BriefScheduler.tick`, called from its supervision loop with the
time, so tests inject a clock)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPEC = re.compile(r"^\s*([A-Za-z]+)\s+(\d{1,2}):(\d{2})\s*(?:UTC)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Schedule:
    weekday: int
    """0 = Monday."""
    at: time

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.at:%H:%M} UTC"

    def last_due(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before `now`."""
        utc = now.astimezone(UTC)
        today = datetime.combine(utc.date(), self.at, tzinfo=UTC)
        moment = today - timedelta(days=(utc.weekday() - self.weekday) % 7)
        return moment if moment <= utc else moment - timedelta(days=7)

    def next_due(self, now: datetime) -> datetime:
        """The first scheduled moment strictly after `now`."""
        return self.last_due(now) + timedelta(days=7)


def parse_schedule(text: str) -> Schedule:
    """`mon 08:00` (also `Monday 8:00`, `mon 08:00 UTC`); ValueError saying what is wrong."""
    match = _SPEC.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a weekday and a UTC time, like 'mon 08:00'")
    day, hour, minute = match[1].lower(), int(match[2]), int(match[3])
    weekday = next(
        (i for i, name in enumerate(WEEKDAYS) if len(day) >= 3 and name.startswith(day)), None
    )
    if weekday is None:
        raise ValueError(f"{match[1]!r} is not a weekday: use one of {', '.join(DAYS)}")
    if hour > 23 or minute > 59:
        raise ValueError(f"{match[2]}:{match[3]} is not a time of day (00:00 to 23:59)")
    return Schedule(weekday, time(hour, minute))


@dataclass
class BriefScheduler:
    """Runs `job(due)` once per scheduled moment, in a background thread so the supervision
    loop never waits on a slow webhook. A start after the moment does not post the missed one
    (a restarted `up` must not re-post last Monday's brief)."""

    schedule: Schedule
    job: Callable[[datetime], None]
    report: Callable[[str], None] = print
    started: datetime | None = None
    _next: datetime | None = None
    _running: threading.Thread | None = field(default=None, repr=False)

    def tick(self, now: datetime) -> datetime | None:
        """Start the job if a scheduled moment has come; the moment started, else None."""
        if self._next is None:
            self._next = self.schedule.next_due(self.started or now)
        if now < self._next:
            return None
        due, self._next = self._next, self.schedule.next_due(now)
        if self._running is not None and self._running.is_alive():
            self.report(f"brief of {due:%Y-%m-%d %H:%M} skipped: the previous one is still running")
            return None
        self._running = threading.Thread(target=self._run, args=(due,), daemon=True)
        self._running.start()
        return due

    def _run(self, due: datetime) -> None:
        try:
            self.job(due)
        except Exception as exc:  # the loop keeps going: next week is another try
            self.report(f"brief of {due:%Y-%m-%d %H:%M} failed: {exc}")

    def join(self, timeout: float | None = None) -> None:
        if self._running is not None:
            self._running.join(timeout)
