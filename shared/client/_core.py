"""What the sync and async clients share: request building, response reading, retry policy."""

from __future__ import annotations

import dataclasses
import gzip as gzip_module
import hashlib
import os
import random
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson

from truenorth.client.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    TruenorthError,
    Unavailable,
)
from truenorth.contract.envelope import new_event_id
from truenorth.timeparse import bare_date, end_of_day, start_of_day

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
RETRYABLE_ERRORS = (httpx.TransportError,)
"""Connection refused/reset, timeouts, protocol errors: the request may or may not have been
applied, so it is retried with the same ids (the services deduplicate)."""


TOKEN_ENV = "TRUENORTH_TOKEN"


def auth_header(token: str | None) -> str | None:
    """`Bearer <token>` for an API token (`truenorth tokens create`): the `token=` argument,
    else the TRUENORTH_TOKEN environment variable, else none (services with auth off)."""
    token = token or os.environ.get(TOKEN_ENV) or None
    return f"Bearer {token.strip()}" if token else None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 10.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        base = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + random.random() / 2)


@dataclass
class IngestSummary:
    """Totals over every batch sent in one call; row indices count over the whole call."""

    accepted: int = 0
    duplicates: int = 0
    restated: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0
    rows: int = 0
    unknown_campaigns: list[str] = field(default_factory=list)
    """Campaigns truenorth has not heard of that these rows name (kept; they count once the
    campaign is launched)."""

    def add(self, body: Mapping[str, Any], offset: int, size: int) -> IngestSummary:
        """Fold one batch's answer in; returns that batch's own summary."""
        batch = IngestSummary(
            accepted=int(body.get("accepted", 0)),
            duplicates=int(body.get("duplicates", 0)),
            restated=int(body.get("restated", 0)),
            rejected=int(body.get("rejected", 0)),
            errors=[{**e, "index": int(e["index"]) + offset} for e in body.get("errors", [])],
            batches=1,
            rows=size,
            unknown_campaigns=list(body.get("unknown_campaigns", [])),
        )
        self.accepted += batch.accepted
        self.duplicates += batch.duplicates
        self.restated += batch.restated
        self.rejected += batch.rejected
        self.errors.extend(batch.errors)
        self.batches += 1
        self.rows += size
        self.unknown_campaigns.extend(
            c for c in batch.unknown_campaigns if c not in self.unknown_campaigns
        )
        return batch

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _normal_time(value: Any, day_to_moment: Callable[[date], datetime]) -> str:
    """One spelling per instant; a bare date is the instant the service reads it as."""
    day = bare_date(value)
    if day is not None:
        value = day_to_moment(day)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(moment.timestamp())
    if isinstance(value, str):
        try:
            return _normal_time(datetime.fromisoformat(value), day_to_moment)
        except ValueError:
            return value
    return str(value)


def derive_observation_id(row: Mapping[str, Any]) -> str:
    """A stable id for a row without one: campaign, metric, period and source. The same
    period reported again with another value is then a restatement, as it should be."""
    key = "\x1f".join(
        [
            str(row.get("campaign_id", "")),
            str(row.get("metric", "")),
            _normal_time(row.get("period_start"), start_of_day),
            _normal_time(row.get("period_end"), end_of_day),
            str(row.get("source", "unknown")),
        ]
    )
    return "auto:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def to_row(row: Any) -> dict[str, Any]:
    if hasattr(row, "model_dump"):
        data = dict(row.model_dump(mode="json"))
    elif dataclasses.is_dataclass(row) and not isinstance(row, type):
        data = dataclasses.asdict(row)
    elif isinstance(row, Mapping):
        data = dict(row)
    else:
        raise TypeError(f"a row must be a mapping, a pydantic model or a dataclass, not {row!r}")
    if not data.get("observation_id"):
        data["observation_id"] = derive_observation_id(data)
    return data


def _default(value: Any) -> Any:
    if isinstance(value, date | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def batches(rows: Iterable[Any], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(to_row(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def abatches(
    rows: Iterable[Any] | AsyncIterable[Any], size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    if not isinstance(rows, AsyncIterable):
        for chunk in batches(rows, size):
            yield chunk
        return
    batch: list[dict[str, Any]] = []
    async for row in rows:
        batch.append(to_row(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode_rows(rows: list[dict[str, Any]], compress: bool) -> tuple[bytes, dict[str, str]]:
    """The body is encoded once per batch: every retry sends the same bytes (same ids)."""
    body = orjson.dumps(rows, default=_default, option=orjson.OPT_NAIVE_UTC)
    headers = {"content-type": "application/json"}
    if compress:
        body = gzip_module.compress(body, compresslevel=5)
        headers["content-encoding"] = "gzip"
    return body, headers


def metrics_path(workspace: str | None) -> str:
    return f"/v1/workspaces/{workspace}/metrics" if workspace else "/v1/metrics"


def command_body(fields: Mapping[str, Any]) -> bytes:
    """A command with an `event_id`, so retries of it are answered as duplicates."""
    body = {k: v for k, v in fields.items() if v is not None}
    body.setdefault("event_id", str(new_event_id()))
    return orjson.dumps(body, default=_default, option=orjson.OPT_NAIVE_UTC)


def error_for(response: httpx.Response) -> TruenorthError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    detail = body.get("detail") if isinstance(body, dict) else str(body)[:500]
    message = (
        f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}"
    )
    status = response.status_code
    if status == 404:
        return NotFound(message, status=status, body=body)
    if status == 409:
        return Conflict(message, status=status, body=body)
    if status == 413:
        return PayloadTooLarge(message, status=status, body=body)
    if status in RETRYABLE_STATUS:
        return Unavailable(message, status=status, body=body)
    if 400 <= status < 500:
        return InvalidRequest(message, status=status, body=body)
    return TruenorthError(message, status=status, body=body)


def is_ingest_answer(response: httpx.Response) -> bool:
    """200, or 422 carrying per-row results (every row of the batch was rejected)."""
    if response.status_code == 200:
        return True
    if response.status_code != 422:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "accepted" in body
