"""Metric ingestion, the pure part: body decoding, cheap row counting, per-row validation,
restatement classification, deterministic event ids and the event encoding.

No I/O here; `truenorth.metrics.ingest` adds the ledger and JetStream.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from truenorth.bus.streams import aggregate_subject
from truenorth.contract.envelope import utcnow
from truenorth.contract.metrics import Observation
from truenorth.contract.thresholds import future_limit
from truenorth.http import dotted, nesting_depth

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
    return inflate_members(body, max_bytes)


def inflate_members(body: bytes, max_bytes: int) -> bytes:
    """Every member of a gzip body (RFC 1952 §2.2: a file may hold several, as `cat a.gz b.gz`
    makes and `gzip -dc` reads): the standard library's reader reads them all, and reading one
    byte past the limit bounds what a gzip bomb can inflate."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as reader:
            out = reader.read(max_bytes + 1)
    except EOFError:
        raise BodyError(422, "gzip body is truncated") from None
    except (OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise BodyError(422, f"body is not valid gzip: {exc}") from None
    if len(out) > max_bytes:
        raise BodyError(413, f"decompressed body larger than {max_bytes} bytes")
    return out


def body_format(content_type: str | None) -> Literal["json", "ndjson"]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in NDJSON_TYPES:
        return "ndjson"
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    raise BodyError(
        415,
        f"unsupported Content-Type {content_type!r}: use application/json or application/x-ndjson",
    )


@dataclass
class Rows:
    """Parsed rows of one body, index-aligned: `items[i]` is row i (None where it did not
    parse: see `parse_errors`); `raws[i]`/`lines[i]` exist for NDJSON (original line bytes and
    1-based line number). Plain lists, not an object per row: this is the hot path."""

    items: list[Any]
    raws: list[bytes] | None = None
    lines: list[int] | None = None
    parse_errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def original_bytes(self, index: int) -> bytes:
        if self.raws is not None:
            return self.raws[index]
        try:
            return orjson.dumps(self.items[index])
        except TypeError:  # orjson writes at most 254 levels: a deeper row is not kept whole
            return b'"(row nested too deep to keep)"'

    def line(self, index: int) -> int | None:
        return self.lines[index] if self.lines is not None else None


def split_rows(body: bytes, fmt: Literal["json", "ndjson"], max_rows: int) -> Rows:
    """Rows of a body. The row limit is enforced (413) before any row is validated: NDJSON
    lines are counted before any is parsed; a JSON array's length after the C parser."""
    if fmt == "ndjson":
        numbered = [(n, line) for n, line in enumerate(body.split(b"\n"), 1) if line.strip()]
        if len(numbered) > max_rows:
            raise BodyError(413, f"{len(numbered)} rows in one request; the limit is {max_rows}")
        rows = Rows(items=[], raws=[], lines=[])
        for index, (number, line) in enumerate(numbered):
            rows.raws.append(line.rstrip(b"\r"))  # type: ignore[union-attr]
            rows.lines.append(number)  # type: ignore[union-attr]
            try:
                rows.items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                rows.items.append(None)
                rows.parse_errors[index] = f"line {number} {json_problem(exc)}"
        return rows
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(422, f"body {json_problem(exc)}") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise BodyError(422, "body must be a JSON array of observations (or one object)")
    if len(parsed) > max_rows:
        raise BodyError(413, f"{len(parsed)} rows in one request; the limit is {max_rows}")
    return Rows(items=parsed)


MAX_NESTING = 32
"""An observation is flat; deeper input is hostile. Checked only when validation fails (pydantic
reprs the input of an error, and a repr 1 000 levels deep exceeds Python's recursion limit)."""


def json_problem(exc: orjson.JSONDecodeError) -> str:
    """What is wrong with unparseable JSON, in words a sender can act on."""
    text = str(exc)
    if "UTF-8" in text:
        return (
            "is not UTF-8 text: JSON must be UTF-8 (re-encode it, e.g. a spreadsheet's Latin-1 "
            f"or Windows-1252 export): {text}"
        )
    if "depth limit" in text or "recursion" in text.lower():
        return f"is nested too deep (JSON nesting over 1024 levels): {text}"
    return f"is not valid JSON: {text}"


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
        {
            "field": dotted(list(e.get("loc", ()))[skip:]) or "(row)",
            "message": str(e.get("msg", "")),
        }
        for e in errors
    ]


def validate_rows(rows: Rows, now: datetime | None = None) -> Validated:
    """Validate every row; a bad row never stops the others. Fast path: one list validation.
    A row whose period ends after `now` (default: the process clock) + the time tolerance
    (`time_tolerance_days`, 1 day) is refused: a fact cannot be dated in the future."""
    result = _validate_shapes(rows)
    limit = future_limit(now or utcnow())
    future = [(index, obs) for index, obs in result.valid if obs.period_end > limit]
    if not future:
        return result
    late = {index for index, _ in future}
    result.valid = [(index, obs) for index, obs in result.valid if index not in late]
    result.rejected += [
        RowError(index, [_future_error(obs, limit)], rows.original_bytes(index), rows.line(index))
        for index, obs in future
    ]
    result.rejected.sort(key=lambda error: error.index)
    return result


def _future_error(obs: Observation, limit: datetime) -> dict[str, str]:
    return {
        "field": "period_end",
        "message": f"period_end {obs.period_end.isoformat()} is in the future (after "
        f"{limit.isoformat()}, now + the time tolerance): observations cover the past",
    }


def _validate_shapes(rows: Rows) -> Validated:
    """Shapes and types; rows nested deeper than MAX_NESTING are refused on their own."""
    try:
        return _validate_rows(rows, {})
    except RecursionError:
        too_deep = {
            i: [{"field": "(row)", "message": f"nested deeper than {MAX_NESTING} levels"}]
            for i, item in enumerate(rows.items)
            if i not in rows.parse_errors and nesting_depth(item, MAX_NESTING) > MAX_NESTING
        }
        return _validate_rows(rows, too_deep)


def _validate_rows(rows: Rows, refused: dict[int, list[dict[str, str]]]) -> Validated:
    result = Validated()
    bad: dict[int, list[dict[str, str]]] = {
        i: [{"field": "(row)", "message": message}] for i, message in rows.parse_errors.items()
    }
    bad.update(refused)
    positions = [i for i in range(len(rows.items)) if i not in bad] if bad else None
    items = rows.items if positions is None else [rows.items[i] for i in positions]
    try:
        models = OBSERVATIONS.validate_python(items) if items else []
    except ValidationError as exc:
        failed: dict[int, list[Mapping[str, Any]]] = {}
        for error in exc.errors(include_url=False):
            loc = error.get("loc", ())
            failed.setdefault(int(loc[0]) if loc else 0, []).append(error)
        if positions is None:
            positions = list(range(len(rows.items)))
        for pos, errors in failed.items():
            bad[positions[pos]] = _row_errors(errors, 1)
        positions = [index for pos, index in enumerate(positions) if pos not in failed]
        models = OBSERVATIONS.validate_python([rows.items[i] for i in positions])
    result.valid = list(
        zip(positions if positions is not None else range(len(models)), models, strict=True)
    )
    result.rejected = [
        RowError(index, bad[index], rows.original_bytes(index), rows.line(index))
        for index in sorted(bad)
    ]
    return result


# --------------------------------------------------------------------------------------------
# Restatements and ids

Kind = Literal["observed", "restated", "duplicate"]


@dataclass(slots=True)
class Planned:
    index: int
    kind: Kind
    observation: Observation
    event_id: str | None = None
    previous_value: float | None = None


_MASK48 = (1 << 48) - 1
_MASK62 = (1 << 62) - 1
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)


def deterministic_uuid7_str(moment: datetime, *parts: object) -> str:
    """`str(truenorth.contract.envelope.deterministic_uuid7(moment, *parts))`, computed without
    a UUID object (hot path; unit-tested to agree with the contract's function)."""
    millis = int(moment.timestamp() * 1000) & _MASK48
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    rand = int.from_bytes(digest[:10], "big")
    value = (millis << 80) | _VERSION_VARIANT | (((rand >> 62) & 0xFFF) << 64) | (rand & _MASK62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def observed_event_id(workspace: str, obs: Observation) -> str:
    """Same fact, same id (`deterministic_uuid7(period_end, workspace, observation_id, value)`):
    a client retry is deduplicated by `Nats-Msg-Id` and downstream by event id."""
    return deterministic_uuid7_str(obs.period_end, workspace, obs.observation_id, obs.value)


def restated_event_id(workspace: str, obs: Observation, previous_event_id: str) -> str:
    """Chained on the event it restates, so A→B→A→B yields four distinct ids while a retry of
    any one step (same ledger state) yields the same id again."""
    return deterministic_uuid7_str(
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
        current[obs.observation_id] = (obs.value, event_id)
    return planned


def subject_for(workspace: str, obs: Observation) -> str:
    return aggregate_subject(workspace, CONTEXT, obs.campaign_id)


def encode_event(workspace: str, planned: Planned, recorded_at: datetime, actor: str) -> bytes:
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
            "event_id": planned.event_id,
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
