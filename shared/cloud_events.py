"""CloudEvents on truenorth's doors (HTTP and NATS), read with the `cloudevents` SDK.

Modes: structured (`Content-Type: application/cloudevents+json`), batched
(`application/cloudevents-batch+json`, HTTP only: a JSON array of structured events) and binary
(`ce-*` headers, the data as the body). The SDK has no batch format, so each array item is read
as one structured event.

Mapping: `id` is the idempotency key (an observation's `observation_id` unless the data names
one; a campaign command's `event_id`, derived as a UUIDv5 of source and id when `id` is not a
UUID), `time` is a command's `occurred_at`, `source` is the `source`. Types:

- `com.truenorth.metric.observation`: `data` is one observation (the same fields as JSON rows);
- `com.truenorth.campaign.<command>` (`launch`, `pause`, `change_budget`, …): `data` is that
  command's body; `subject` may carry the campaign id.

An event the SDK refuses, or that lacks `id`/`source`/`type`, is answered with per-field errors
(`{"field": "ce.id", …}`); its data then goes through the same validation as today's JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
OBSERVATION_TYPE = "com.truenorth.metric.observation"
CAMPAIGN_TYPE_PREFIX = "com.truenorth.campaign."
REQUIRED = ("id", "source", "type")
_FORMAT = JSONFormat()


class CloudEventInvalid(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Envelope:
    """What truenorth reads of one CloudEvent."""

    id: str
    source: str
    type: str
    time: datetime | None
    subject: str | None
    data: Any


def media_type(headers: Mapping[str, str]) -> str:
    return _header(headers, "content-type").split(";", 1)[0].strip().lower()


def is_cloudevent(headers: Mapping[str, str] | None) -> bool:
    if not headers:
        return False
    return media_type(headers) in (STRUCTURED, BATCH) or any(
        key.lower().startswith("ce-") for key in headers
    )


def read_events(
    headers: Mapping[str, str], body: bytes
) -> list[tuple[bytes, Envelope | CloudEventInvalid]]:
    """Every event of an HTTP request (or NATS message), each read on its own, with the bytes
    it came from (kept in the DLQ when it is rejected)."""
    media = media_type(headers)
    if media == BATCH:
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return [(body, CloudEventInvalid([_error("(body)", f"not valid JSON: {exc}")]))]
        if not isinstance(items, list):
            return [(body, CloudEventInvalid([_error("(body)", "a batch must be a JSON array")]))]
        encoded = [orjson.dumps(item) for item in items]
        return [(raw, _attempt(_structured, raw)) for raw in encoded]
    if media == STRUCTURED:
        return [(body, _attempt(_structured, body))]
    return [(body, _attempt(_binary, headers, body))]


def observation_row(event: Envelope) -> Any:
    """The observation row of an event (validated later, like any JSON row)."""
    if event.type != OBSERVATION_TYPE:
        raise CloudEventInvalid([_error("ce.type", f"must be {OBSERVATION_TYPE}")])
    if not isinstance(event.data, dict):
        raise CloudEventInvalid([_error("ce.data", "must be one observation (a JSON object)")])
    row = dict(event.data)
    row.setdefault("observation_id", event.id)
    row.setdefault("source", event.source)
    return row


def campaign_command(event: Envelope) -> dict[str, Any]:
    """The intake command of an event: `{"command", "campaign_id", …body, event_id, …}`."""
    if not event.type.startswith(CAMPAIGN_TYPE_PREFIX):
        raise CloudEventInvalid(
            [_error("ce.type", f"must be {CAMPAIGN_TYPE_PREFIX}<command> (e.g. …launch)")]
        )
    data = event.data if event.data is not None else {}
    if not isinstance(data, dict):
        raise CloudEventInvalid([_error("ce.data", "must be the command's body (a JSON object)")])
    command: dict[str, Any] = {"command": event.type.removeprefix(CAMPAIGN_TYPE_PREFIX), **data}
    if event.subject and "campaign_id" not in command:
        command["campaign_id"] = event.subject
    command["event_id"] = str(event_uuid(event))
    command.setdefault("source", event.source[:200])
    if event.time is not None:
        command["occurred_at"] = event.time.isoformat()
    return command


def event_uuid(event: Envelope) -> uuid.UUID:
    """`id` when it is a UUID, else a UUIDv5 of (source, id): CloudEvents ids are unique per
    source, and the same event sent again maps to the same event_id."""
    try:
        return uuid.UUID(event.id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{event.source}#{event.id}")


# ------------------------------------------------------------------------------------------


def _attempt(reader: Any, *args: Any) -> Envelope | CloudEventInvalid:
    try:
        return reader(*args)
    except CloudEventInvalid as exc:
        return exc


def _structured(body: bytes) -> Envelope:
    try:
        attributes = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CloudEventInvalid([_error("(body)", f"not valid JSON: {exc}")]) from None
    if not isinstance(attributes, dict):
        raise CloudEventInvalid([_error("(body)", "a structured event is a JSON object")])
    _require(attributes.keys(), prefix="ce.")
    try:
        event = _FORMAT.read(None, body)
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise CloudEventInvalid(_sdk_errors(exc)) from None
    return _envelope(event)


def _binary(headers: Mapping[str, str], body: bytes) -> Envelope:
    present = {key.lower()[3:] for key in headers if key.lower().startswith("ce-")}
    _require(present, prefix="ce-")
    lowered = {key.lower(): value for key, value in headers.items()}
    if "content-type" not in lowered:
        lowered["content-type"] = "application/json"
    try:
        event = from_binary(HTTPMessage(headers=lowered, body=body), _FORMAT, None)
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise CloudEventInvalid(_sdk_errors(exc)) from None
    return _envelope(event)


def _require(present: Any, prefix: str) -> None:
    # the SDK would invent an id (uuid4) for an event without one: no idempotency then
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise CloudEventInvalid([_error(f"{prefix}{name}", "required") for name in missing])


def _envelope(event: BaseCloudEvent) -> Envelope:
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise CloudEventInvalid([_error("ce.data", "must be JSON")]) from None
    return Envelope(
        id=str(event.get_id()),
        source=str(event.get_source()),
        type=str(event.get_type()),
        time=event.get_time(),
        subject=event.get_subject(),
        data=data,
    )


def _sdk_errors(exc: Exception) -> list[dict[str, str]]:
    if isinstance(exc, CloudEventValidationError):
        return [
            _error(f"ce.{attribute}", "; ".join(str(e) for e in problems))
            for attribute, problems in exc.errors.items()
        ]
    return [_error("ce", str(exc))]


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "cloudevent"}


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""
