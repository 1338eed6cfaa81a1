"""When the brief is due: `mon 08:00` parsed, bad schedules named, and the scheduler's tick
with an injected clock (no sleeping)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time

import pytest

from truenorth.brief.schedule import BriefScheduler, Schedule, parse_schedule
from truenorth.brief.settings import BriefSettings
from truenorth.settings import SettingsError, load

MONDAY_8 = Schedule(0, time(8, 0))


@pytest.mark.parametrize(
    "text", ["mon 08:00", "Mon 8:00", "monday 08:00", "MON 08:00 UTC", "  mon   08:00  "]
)
def test_a_weekday_and_a_utc_time_parse(text: str) -> None:
    assert parse_schedule(text) == MONDAY_8


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("funday 08:00", "'funday' is not a weekday: use one of mon, tue"),
        ("mo 08:00", "'mo' is not a weekday"),
        ("mon 24:00", "24:00 is not a time of day"),
        ("mon 08:60", "08:60 is not a time of day"),
        ("08:00", "is not a weekday and a UTC time, like 'mon 08:00'"),
        ("mon 8am", "is not a weekday and a UTC time"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_schedule(text)


def test_due_moments_around_the_scheduled_time() -> None:
    thursday = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)
    assert MONDAY_8.last_due(thursday) == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert MONDAY_8.next_due(thursday) == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    exactly = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert MONDAY_8.last_due(exactly) == exactly
    assert MONDAY_8.next_due(exactly) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert str(MONDAY_8) == "mon 08:00 UTC"


class _Jobs:
    def __init__(self) -> None:
        self.due: list[datetime] = []
        self.done = threading.Event()

    def __call__(self, due: datetime) -> None:
        self.due.append(due)
        self.done.set()


def test_the_scheduler_runs_once_when_due_and_not_before() -> None:
    jobs = _Jobs()
    scheduler = BriefScheduler(MONDAY_8, jobs, started=datetime(2026, 11, 12, tzinfo=UTC))
    assert scheduler.tick(datetime(2026, 11, 16, 7, 59, tzinfo=UTC)) is None
    due = scheduler.tick(datetime(2026, 11, 16, 8, 0, 1, tzinfo=UTC))
    assert due == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    scheduler.join(5)
    assert scheduler.tick(datetime(2026, 11, 16, 9, 0, tzinfo=UTC)) is None
    scheduler.join(5)
    assert jobs.due == [datetime(2026, 11, 16, 8, 0, tzinfo=UTC)]


def test_a_start_after_the_moment_does_not_post_the_missed_brief() -> None:
    jobs = _Jobs()
    scheduler = BriefScheduler(MONDAY_8, jobs)
    assert scheduler.tick(datetime(2026, 11, 16, 8, 30, tzinfo=UTC)) is None
    assert scheduler.tick(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)) is not None
    scheduler.join(5)
    assert jobs.due == [datetime(2026, 11, 23, 8, 0, tzinfo=UTC)]


def test_a_failing_job_is_reported_and_the_next_week_still_runs() -> None:
    said: list[str] = []
    calls: list[datetime] = []

    def job(due: datetime) -> None:
        calls.append(due)
        raise RuntimeError("the webhook answered 500")

    scheduler = BriefScheduler(
        MONDAY_8, job, report=said.append, started=datetime(2026, 11, 10, tzinfo=UTC)
    )
    scheduler.tick(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    scheduler.join(5)
    scheduler.tick(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    scheduler.join(5)
    assert len(calls) == 2
    assert said[0] == "brief of 2026-11-16 08:00 failed: the webhook answered 500"


def test_settings_fail_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_BRIEF_WEBHOOK_URL", "https://hooks.example/T/B/x")
    monkeypatch.setenv("TRUENORTH_BRIEF_SCHEDULE", "someday 08:00")
    with pytest.raises(SettingsError, match=r"TRUENORTH_BRIEF_SCHEDULE: .*'someday'"):
        load(BriefSettings)
    monkeypatch.delenv("TRUENORTH_BRIEF_SCHEDULE")
    with pytest.raises(SettingsError, match="TRUENORTH_BRIEF_SCHEDULE is not"):
        load(BriefSettings)
    monkeypatch.setenv("TRUENORTH_BRIEF_WEBHOOK_URL", "hooks.example/x")
    monkeypatch.setenv("TRUENORTH_BRIEF_SCHEDULE", "mon 08:00")
    with pytest.raises(SettingsError, match="TRUENORTH_BRIEF_WEBHOOK_URL"):
        load(BriefSettings)


def test_settings_without_a_schedule_mean_no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUENORTH_BRIEF_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("TRUENORTH_BRIEF_SCHEDULE", "")
    assert load(BriefSettings).parsed_schedule is None
