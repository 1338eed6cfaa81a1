"""How the review's numbers read, shared by the Markdown and HTML renderers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from truenorth.review.build import ChannelMix, DriftReview, ObjectiveReview, Period, Sample

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


_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def compact(value: float | None) -> str:
    """A figure as people say it: 6M, 3.5M, 472k, 12.5k; below 10 000 as `number`."""
    if value is None:
        return "–"
    size = abs(value)
    if size < 10_000:
        return number(value, 0 if abs(value - round(value)) < 1e-9 else 1)
    for scale, suffix in _SCALES:
        if round(size / scale, 2) >= 1:  # 999 999 reads 1M, not 1000k
            scaled = value / scale
            digits = 0 if abs(scaled) >= 100 else 1 if abs(scaled) >= 10 else 2
            text = f"{scaled:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{scaled:.0f}"
            return text + suffix
    return number(value)


def compact_money(value: float | None) -> str:
    return "–" if value is None else ("-" if value < 0 else "") + "$" + compact(abs(value))


def change_value(text: str) -> str:
    """A changed field's old or new value as the strategy service shows it (`6e+06`), read
    again: figures in `compact` form, anything else as it is."""
    try:
        return compact(float(text))
    except ValueError:
        return text


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


_TITLE = {
    "quarter": "Quarterly review",
    "month": "Monthly review",
    "plan": "Review of the planning period",
    "days": "Review",
}


def title(period: Period) -> str:
    """`Quarterly review — 2026-Q4`, `Monthly review — 2026-11`, `Review of the planning
    period — winter-26`, `Review — 2026-10-01..2026-10-15`."""
    return f"{_TITLE[period.kind]} — {period.label}"


def drift_name(drift: DriftReview, objective_names: dict[str, str]) -> str:
    """A drift as people name it: its kind and what it is about, never its hashed id."""
    kind = drift.kind.replace("_", " ")
    if drift.objective_id and drift.kind in ("objective_off_pace", "idle_objective"):
        about = objective_names.get(drift.objective_id, drift.objective_id)
    elif drift.campaign_ids:
        about = ", ".join(drift.campaign_ids)
    elif drift.channel:
        about = f"channel {drift.channel}"
    else:
        about = "the workspace"
    return f"{kind} · {about}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~])")
"""`|` is left to the table writer, which escapes it in cells (elsewhere it is plain text)."""


def md(text: object) -> str:
    """User-given text (names, notes, reasons) inert in Markdown: a strategy named
    `*Q4* [push](http://x)` shows those characters instead of formatting or a link."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


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


def original_target(o: ObjectiveReview) -> float | None:
    """The target when the review's window opened (the first sample the objective existed)."""
    return next((s.target for s in o.samples if s.target is not None), None)


def target(o: ObjectiveReview) -> str:
    """`3.5M (revised from 6M)` when the strategy changed the target during the period."""
    first = original_target(o)
    if first is None or first == o.target:
        return compact(o.target)
    way = "cut" if abs(o.target - o.baseline) < abs(first - o.baseline) else "raised"
    return f"{compact(o.target)} ({way} from {compact(first)})"


def budget_headline(mix: ChannelMix) -> str | None:
    """`Spent $472k of the $400k budget of q4-2026 (118 %): $72k over.`"""
    if mix.budget is None or mix.budget <= 0 or mix.period_id is None:
        return None
    share = mix.total_spend / mix.budget
    line = (
        f"Spent {compact_money(mix.total_spend)} of the {compact_money(mix.budget)} budget of "
        f"{mix.period_id} ({pct(share, 0)})"
    )
    if mix.total_spend > mix.budget:
        return f"{line}: {compact_money(mix.total_spend - mix.budget)} over."
    return f"{line}: {compact_money(mix.budget - mix.total_spend)} left."


def of_plan(spend: float, planned: float | None) -> str:
    """A channel's spend against its planned spend (budget × planned share)."""
    return "–" if not planned else pct(spend / planned, 0)
