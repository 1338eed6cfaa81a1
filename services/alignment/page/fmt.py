"""Numbers and times as people read them (the templates' filters)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

STATUS_WORDS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "achieved": "achieved",
    "missed": "missed",
    "not_started": "not started",
}


def pct(ratio: float | None) -> str:
    """A ratio as a whole percent, never "-0%"."""
    if ratio is None:
        return "—"
    return f"{round(ratio * 100) + 0:d}%"


def points(ratio: float | None) -> str:
    """A difference of shares in percentage points, signed: +12 pp, −3 pp."""
    if ratio is None:
        return "—"
    value = round(ratio * 100) + 0
    return f"+{value} pp" if value > 0 else f"−{-value} pp" if value < 0 else "0 pp"


def num(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def money(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"${abs(value):,.2f}" if 0 < abs(value) < 100 else f"${abs(value):,.0f}"
    return "−" + text if value < 0 and text not in ("$0", "$0.00") else text


def fixed(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def when(value: datetime | str | None) -> str:
    """A moment to the minute, UTC."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d %H:%M}"


def day(value: datetime | str | None) -> str:
    """An end-of-day deadline (midnight after the day) as that day: 2027-01-01 → 2026-12-31."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        moment -= timedelta(microseconds=1)
    return f"{moment:%Y-%m-%d}"


def date(value: datetime | str | None) -> str:
    """A start: the day it begins."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d}"


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " "))


def bar_width(ratio: float | None, scale: float = 1.0) -> str:
    """A CSS width for a share drawn against `scale` (clamped to the bar)."""
    if ratio is None or scale <= 0:
        return "0%"
    return f"{min(max(ratio / scale, 0.0), 1.0) * 100:.1f}%"


FILTERS: dict[str, Any] = {
    "pct": pct,
    "points": points,
    "num": num,
    "money": money,
    "fixed": fixed,
    "when": when,
    "day": day,
    "date": date,
    "status_word": status_word,
    "bar_width": bar_width,
}
