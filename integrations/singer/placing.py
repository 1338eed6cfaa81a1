"""A tap record → truenorth observations (pure: no I/O).

A record the mapping cannot place yields a reason instead (`missing campaign id (campaign_id)`),
which the target counts and reports; a record is never dropped silently.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from truenorth.singer.mapping import MetricRule, StreamMapping, ValueRule
from truenorth.timeparse import bare_date, end_of_day, parse_time, start_of_day

OBSERVATION_ID_MAX = 128
_READABLE_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MISSING = object()


class Unplaceable(Exception):
    """The whole record cannot become observations; the message is the reason (counted)."""


@dataclass
class Placement:
    observations: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Reasons for metrics of this record that could not be read (the others were placed)."""


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path: an exact key first (`campaign.id` as one key, as some taps
    flatten), else nested objects, else the SDK's flattened form (`campaign__id`)."""
    if path in record:
        return record[path]
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            flattened = path.replace(".", "__")
            return record.get(flattened, _MISSING) if flattened != path else _MISSING
        current = current[part]
    return current


def launch_command(
    stream: str, mapping: StreamMapping, record: Mapping[str, Any]
) -> dict[str, Any]:
    """The `launch` command of a campaigns-stream record; its event_id is derived from the
    stream and the campaign, so launching it again is answered as a duplicate."""
    rule = mapping.launch
    assert rule is not None
    campaign_id = _campaign_id(mapping, record)
    start, _ = _moment(record, rule.start, "campaign start")
    end = _optional_moment(record, rule.end) or start + timedelta(days=rule.days_without_end)
    name = lookup(record, rule.name) if rule.name else None
    try:
        command = {
            "campaign_id": campaign_id,
            "name": "" if name is None or name is _MISSING else str(name)[:200],
            "channel": str(_launch_value(rule.channel, record, "channel", number=False)),
            "segment": str(_launch_value(rule.segment, record, "segment", number=False)),
            "budget": _launch_value(rule.budget, record, "budget"),
        }
    except ValueError as exc:
        raise Unplaceable(str(exc)) from None
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"target-truenorth:{stream}:{campaign_id}")
    return {
        **command,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "objective_ids": list(rule.objective_ids),
        "status": rule.status,
        "source": mapping.source,
        "event_id": str(event_id),
    }


def _launch_value(
    rule: ValueRule, record: Mapping[str, Any], what: str, number: bool = True
) -> Any:
    raw = rule.value if rule.path is None else lookup(record, rule.path)
    if raw is _MISSING or raw is None or raw == "":
        raise ValueError(f"missing {what} ({rule.path})")
    return _number(raw) * rule.scale if number else raw


def _optional_moment(record: Mapping[str, Any], path: str | None) -> datetime | None:
    if path is None:
        return None
    raw = lookup(record, path)
    if raw is _MISSING or raw is None or raw == "":
        return None
    return _moment(record, path, "campaign end")[0]


def place(
    stream: str,
    mapping: StreamMapping,
    record: Mapping[str, Any],
    key_properties: Sequence[str] = (),
) -> Placement:
    """Observations of one record. Raises Unplaceable when the campaign or the period is
    missing or unreadable, or when no metric has a value."""
    campaign_id = _campaign_id(mapping, record)
    start, end = _period(mapping, record)
    keys = _key_values(record, key_properties) or [campaign_id]
    placement = Placement()
    for metric, rule in mapping.metrics.items():
        try:
            value = metric_value(rule, record)
        except ValueError as exc:
            placement.problems.append(f"metric {metric}: {exc}")
            continue
        if value is None:
            continue
        placement.observations.append(
            {
                "observation_id": observation_id(stream, [campaign_id, *keys], start, end, metric),
                "campaign_id": campaign_id,
                "metric": metric,
                "value": value,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "source": mapping.source,
            }
        )
    if not placement.observations and not placement.problems:
        raise Unplaceable("no metric has a value")
    return placement


def observation_id(
    stream: str, keys: Sequence[str], start: datetime, end: datetime, metric: str
) -> str:
    """Derived from the stream, the truenorth campaign and the record's key properties, the
    period and the metric, so a re-run of the tap sends the same ids (duplicates, or
    restatements when a value changed). The campaign is part of it so that a corrected
    `campaign_ids` mapping sends the rows to the right campaign instead of being duplicates.
    Readable when every part is made of id-safe characters and it fits, else a digest."""
    period = f"{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"
    parts = [stream, *keys, period, metric]
    readable = "tap:" + ":".join(parts)
    if len(readable) <= OBSERVATION_ID_MAX and all(_READABLE_PART.match(p) for p in parts):
        return readable
    digest = hashlib.sha256("\x1f".join(parts[:-1]).encode()).hexdigest()[:40]
    name = stream[:40] if _READABLE_PART.match(stream) else "stream"
    return f"tap:{name}:{digest}:{metric}"[:OBSERVATION_ID_MAX]


def metric_value(rule: MetricRule, record: Mapping[str, Any]) -> float | None:
    """The metric's value, scaled; None when the record does not report it. ValueError when
    it is there but not a number."""
    if rule.actions is not None:
        return _actions_total(rule, record)
    raw = lookup(record, rule.path or "")
    if raw is _MISSING or raw is None or raw == "":
        return None
    return _number(raw) * rule.scale


def _actions_total(rule: MetricRule, record: Mapping[str, Any]) -> float | None:
    actions = lookup(record, rule.actions_field)
    if actions is _MISSING or actions is None:
        return 0.0  # the platforms omit action types with nothing to report
    if not isinstance(actions, list):
        raise ValueError(f"{rule.actions_field} is not a list")
    wanted = set(rule.actions or ())
    total = 0.0
    for entry in actions:
        if isinstance(entry, Mapping) and entry.get("action_type") in wanted:
            total += _number(entry.get("value"))
    return total * rule.scale


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int | float | Decimal):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(Decimal(raw.strip()))
        except InvalidOperation:
            pass
    raise ValueError(f"{raw!r} is not a number")


def _campaign_id(mapping: StreamMapping, record: Mapping[str, Any]) -> str:
    raw = lookup(record, mapping.campaign_id)
    if raw is _MISSING or raw is None or raw == "":
        raise Unplaceable(f"missing campaign id ({mapping.campaign_id})")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    platform_id = str(raw).strip()
    campaign = mapping.campaign_ids.get(platform_id)
    if campaign is None:
        campaign = f"{mapping.campaign_prefix}{platform_id}"
    if not _SLUG.match(campaign):
        raise Unplaceable(f"campaign id {campaign!r} cannot be a truenorth campaign id")
    return campaign


def _period(mapping: StreamMapping, record: Mapping[str, Any]) -> tuple[datetime, datetime]:
    rule = mapping.period
    assert rule is not None  # observations streams have one (validated)
    start, start_is_day = _moment(record, rule.start, "period start")
    if rule.end is None:
        return start, start + timedelta(days=1)
    end, end_is_day = _moment(record, rule.end, "period end")
    if rule.end_is_inclusive_day:
        end = end_of_day(end.date())
    elif end_is_day and end == start and start_is_day:
        end = start + timedelta(days=1)
    if end < start:
        raise Unplaceable(f"period end ({rule.end}) is before its start ({rule.start})")
    return start, end


def _moment(record: Mapping[str, Any], path: str, what: str) -> tuple[datetime, bool]:
    """(moment in UTC, whether it was a bare date: 00:00 UTC of that day). A datetime without
    offset is UTC. Read by `truenorth.timeparse`, as at every door."""
    raw = lookup(record, path)
    if raw is _MISSING or raw is None or raw == "":
        raise Unplaceable(f"missing {what} ({path})")
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=UTC)).astimezone(UTC), False
    day = bare_date(raw)
    if day is not None:
        return start_of_day(day), True
    try:
        return parse_time(str(raw)).astimezone(UTC), False
    except ValueError:
        raise Unplaceable(f"unreadable {what} ({path})") from None


def _key_values(record: Mapping[str, Any], key_properties: Sequence[str]) -> list[str]:
    return [_key_text(lookup(record, key)) for key in key_properties]


def _key_text(value: Any) -> str:
    """One spelling per value, whether the SDK parsed a date-time string or not (ids must not
    change with the SDK's parsing, or a re-run would count twice)."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str) and len(value) > 10 and value[:4].isdigit():
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    return str(value)
