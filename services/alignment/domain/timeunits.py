"""Instants as integer microseconds since the Unix epoch: exact, compact and cheap to compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
MICROS_PER_SECOND = 1_000_000
MICROS_PER_HOUR = 3_600 * MICROS_PER_SECOND
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND


def to_micros(moment: datetime) -> int:
    """An aware datetime as exact integer microseconds since the epoch."""
    return (moment - EPOCH) // ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def days_between(earlier: int, later: int) -> float:
    return (later - earlier) / MICROS_PER_DAY


def hours_between(earlier: int, later: int) -> float:
    return (later - earlier) / MICROS_PER_HOUR
