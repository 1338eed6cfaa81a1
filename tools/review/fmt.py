"""How the review's numbers read, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from truenorth.review.build import Period, Sample

STATUS_LABEL = {
    "not_started": "not started",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "achieved": "achieved",
    "missed": "missed",
}


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0 and abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.{max(digits, 1)}f}"


def money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def cents(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def pct(ratio: float | None, digits: int = 1) -> str:
    return "–" if ratio is None else f"{ratio * 100:.{digits}f} %"


def pts(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} pts"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def per_thousand(value: float | None) -> str:
    """Outcome per dollar, read per $1,000 of spend."""
    return "–" if value is None else f"{value * 1000:,.2f}"


def day(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    return moment.astimezone(UTC).date().isoformat()


def moment(value: datetime | None) -> str:
    if value is None:
        return "–"
    utc = value.astimezone(UTC)
    if utc.hour == utc.minute == utc.second == 0:
        return utc.date().isoformat()
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def as_of(value: datetime) -> str:
    """A midnight as-of reads as the end of the day before (`--as-of 2026-11-20`)."""
    utc = value.astimezone(UTC)
    if utc.hour == utc.minute == utc.second == utc.microsecond == 0:
        return f"end of {last_day(utc)}"
    return moment(utc)


def last_day(end: datetime) -> str:
    """An exclusive end as the last day it includes."""
    utc = end.astimezone(UTC)
    if utc.hour == utc.minute == utc.second == utc.microsecond == 0:
        return (utc - timedelta(days=1)).date().isoformat()
    return moment(utc)


def span(period: Period) -> str:
    return f"{day(period.start)} – {last_day(period.end)}"


def status(value: str | None) -> str:
    return "–" if value is None else STATUS_LABEL.get(value, value)


def weekly(samples: tuple[Sample, ...]) -> list[Sample]:
    """Every 7th daily sample (and the last), for tables."""
    if not samples:
        return []
    if len(samples) < 2:
        return list(samples)
    step = samples[1].at - samples[0].at
    every = max(1, round(timedelta(days=7) / step)) if step > timedelta(0) else 1
    picked = [s for i, s in enumerate(samples) if i % every == 0 and i > 0]
    if not picked or picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return picked
