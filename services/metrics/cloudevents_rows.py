"""CloudEvents → observation rows for both metrics doors (`truenorth.cloud_events`)."""

from __future__ import annotations

from collections.abc import Mapping

from truenorth.cloud_events import CloudEventInvalid, observation_row, read_events
from truenorth.metrics.domain import BodyError, Rows, Validated


def cloudevent_rows(
    headers: Mapping[str, str], body: bytes, max_rows: int
) -> tuple[Rows, dict[int, list[dict[str, str]]]]:
    """The rows of the events, and the per-field errors of the events that are not valid
    CloudEvents of type `com.truenorth.metric.observation` (by row index)."""
    events = read_events(headers, body)
    if len(events) > max_rows:
        raise BodyError(413, f"{len(events)} events in one request; the limit is {max_rows}")
    rows = Rows(items=[], raws=[])
    errors: dict[int, list[dict[str, str]]] = {}
    for index, (raw, event) in enumerate(events):
        rows.raws.append(raw)  # type: ignore[union-attr]
        try:
            if isinstance(event, CloudEventInvalid):
                raise event
            rows.items.append(observation_row(event))
        except CloudEventInvalid as exc:
            rows.items.append(None)
            errors[index] = exc.errors
            rows.parse_errors[index] = str(exc)
    return rows, errors


def with_event_errors(
    validated: Validated, errors: Mapping[int, list[dict[str, str]]]
) -> Validated:
    """Name the CloudEvents attribute at fault instead of `(row)`."""
    for rejected in validated.rejected:
        if rejected.index in errors:
            rejected.errors = [
                {"field": e["field"], "message": e["message"]} for e in errors[rejected.index]
            ]
    return validated
