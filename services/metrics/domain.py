"""Metric ingestion, the pure part: body decoding, cheap row counting, per-row validation,
restatement classification, deterministic event ids and the event encoding.

No I/O here; `truenorth.metrics.ingest` adds the ledger and JetStream.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from truenorth.bus.streams import aggregate_subject
from truenorth.contract.envelope import deterministic_uuid7
from truenorth.contract.metrics import Observation
from truenorth.http import dotted

CONTEXT = "metrics"
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
        "application/json-lines",
    }
)
JSON_TYPES = frozenset({"application/json", "text/json", ""})

OBSERVATIONS: TypeAdapter[list[Observation]] = TypeAdapter(list[Observation])


class BodyError(Exception):
    """The request as a whole is unacceptable (status 413, 415 or 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------------
# Body: encoding, format, row count


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo Content-Encoding, refusing (413) a body that inflates beyond `max_bytes`."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"unsupported Content-Encoding {content_encoding!r}: use gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BodyError(422, f"body is not valid gzip: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise BodyError(413, f"decompressed body larger than {max_bytes} bytes")
    if not inflater.eof:
        raise BodyError(422, "gzip body is truncated")
    return out


def body_format(content_type: str | None) -> Literal["json", "ndjson"]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in NDJSON_TYPES:
        return "ndjson"
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    raise BodyError(
        415, f"unsupported Content-Type {content_type!r}: use application/json or "
        "application/x-ndjson"
    )


@dataclass(slots=True)
class RawRow:
    index: int
    item: Any = None
    raw: bytes | None = None
    """Original bytes of the row where they exist separately (an NDJSON line)."""
    line: int | None = None
    parse_error: str | None = None

    def original_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        try:
            return orjson.dumps(self.item)
        except TypeError:  # pragma: no cover - orjson parsed it, so it can dump it
            return repr(self.item).encode()


def split_rows(body: bytes, fmt: Literal["json", "ndjson"], max_rows: int) -> list[RawRow]:
    """Rows of a body. The row limit is enforced (413) before any row is validated: NDJSON
    lines are counted before any is parsed; a JSON array's length after the C parser."""
    if fmt == "ndjson":
        lines = body.split(b"\n")
        count = sum(1 for line in lines if line.strip())
        if count > max_rows:
            raise BodyError(413, f"{count} rows in one request; the limit is {max_rows}")
        rows: list[RawRow] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = RawRow(index=len(rows), raw=line.rstrip(b"\r"), line=number)
            try:
                row.item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                row.parse_error = f"line {number} is not valid JSON: {exc}"
            rows.append(row)
        return rows
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(422, f"body is not valid JSON: {exc}") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise BodyError(422, "body must be a JSON array of observations (or one object)")
    if len(parsed) > max_rows:
        raise BodyError(413, f"{len(parsed)} rows in one request; the limit is {max_rows}")
    return [RawRow(index=i, item=item) for i, item in enumerate(parsed)]


# --------------------------------------------------------------------------------------------
# Validation


@dataclass(slots=True)
class RowError:
    index: int
    errors: list[dict[str, str]]
    raw: bytes
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "errors": self.errors}
        if self.line is not None:
            body["line"] = self.line
        return body


@dataclass
class Validated:
    valid: list[tuple[int, Observation]] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


def _row_errors(errors: Sequence[Mapping[str, Any]], skip: int) -> list[dict[str, str]]:
    return [
        {"field": dotted(list(e.get("loc", ()))[skip:]) or "(row)", "message": str(e.get("msg", ""))}
        for e in errors
    ]


def validate_rows(rows: Sequence[RawRow]) -> Validated:
    """Validate every row; a bad row never stops the others. Fast path: one list validation."""
    result = Validated()
    candidates: list[RawRow] = []
    for row in rows:
        if row.parse_error is not None:
            result.rejected.append(
                RowError(row.index, [{"field": "(row)", "message": row.parse_error}],
                         row.original_bytes(), row.line)
            )
        else:
            candidates.append(row)
    if not candidates:
        return result
    items = [row.item for row in candidates]
    try:
        models = OBSERVATIONS.validate_python(items)
    except ValidationError as exc:
        by_position: dict[int, list[Mapping[str, Any]]] = {}
        for error in exc.errors(include_url=False):
            loc = error.get("loc", ())
            by_position.setdefault(int(loc[0]) if loc else 0, []).append(error)
        good = [row for pos, row in enumerate(candidates) if pos not in by_position]
        for pos, errors in by_position.items():
            row = candidates[pos]
            result.rejected.append(
                RowError(row.index, _row_errors(errors, 1), row.original_bytes(), row.line)
            )
        result.rejected.sort(key=lambda r: r.index)
        models = OBSERVATIONS.validate_python([row.item for row in good]) if good else []
        candidates = good
    result.valid = [(row.index, model) for row, model in zip(candidates, models, strict=True)]
    return result


# --------------------------------------------------------------------------------------------
# Restatements and ids

Kind = Literal["observed", "restated", "duplicate"]


@dataclass(slots=True)
class Planned:
    index: int
    kind: Kind
    observation: Observation
    event_id: uuid.UUID | None = None
    previous_value: float | None = None


def observed_event_id(workspace: str, obs: Observation) -> uuid.UUID:
    """Same fact, same id: a client retry is deduplicated by `Nats-Msg-Id` and downstream."""
    return deterministic_uuid7(obs.period_end, workspace, obs.observation_id, obs.value)


def restated_event_id(workspace: str, obs: Observation, previous_event_id: str) -> uuid.UUID:
    """Chained on the event it restates, so A→B→A→B yields four distinct ids while a retry of
    any one step (same ledger state) yields the same id again."""
    return deterministic_uuid7(
        obs.period_end, workspace, obs.observation_id, obs.value, previous_event_id
    )


def classify(
    workspace: str,
    rows: Sequence[tuple[int, Observation]],
    known: Mapping[str, tuple[float, str]],
) -> list[Planned]:
    """Observed / restated / duplicate for each valid row, in order. `known` maps
    observation_id -> (value, event_id) as the ledger remembers it; rows earlier in the same
    batch count as known for later ones."""
    current: dict[str, tuple[float, str]] = dict(known)
    planned: list[Planned] = []
    for index, obs in rows:
        prior = current.get(obs.observation_id)
        if prior is None:
            event_id = observed_event_id(workspace, obs)
            planned.append(Planned(index, "observed", obs, event_id))
        elif prior[0] == obs.value:
            planned.append(Planned(index, "duplicate", obs))
            continue
        else:
            event_id = restated_event_id(workspace, obs, prior[1])
            planned.append(Planned(index, "restated", obs, event_id, prior[0]))
        current[obs.observation_id] = (obs.value, str(event_id))
    return planned


def subject_for(workspace: str, obs: Observation) -> str:
    return aggregate_subject(workspace, CONTEXT, obs.campaign_id)


def encode_event(
    workspace: str, planned: Planned, recorded_at: datetime, actor: str
) -> bytes:
    """The JSON of MetricObserved / MetricRestated, built directly (no model instance per row:
    this is the hot path). Unit-tested to decode to the same event as the pydantic models."""
    obs = planned.observation
    data: dict[str, Any] = {
        "observation_id": obs.observation_id,
        "campaign_id": obs.campaign_id,
        "metric": obs.metric,
        "value": obs.value,
        "period_start": obs.period_start,
        "period_end": obs.period_end,
        "source": obs.source,
    }
    if planned.kind == "restated":
        data["previous_value"] = planned.previous_value
    return orjson.dumps(
        {
            "event_id": str(planned.event_id),
            "workspace": workspace,
            "aggregate_id": obs.campaign_id,
            "occurred_at": obs.period_end,
            "recorded_at": recorded_at,
            "source": obs.source,
            "actor": actor,
            "correlation_id": None,
            "causation_id": None,
            "type": "MetricRestated" if planned.kind == "restated" else "MetricObserved",
            "schema_version": 1,
            "data": data,
        }
    )


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    restated: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "restated": self.restated,
            "rejected": len(self.rejected),
            "errors": [r.as_dict() for r in self.rejected],
        }

    @classmethod
    def of(cls, planned: Sequence[Planned], rejected: list[RowError]) -> IngestResult:
        result = cls(rejected=rejected)
        for p in planned:
            if p.kind == "observed":
                result.accepted += 1
            elif p.kind == "restated":
                result.restated += 1
            else:
                result.duplicates += 1
        return result
