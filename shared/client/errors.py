"""Typed errors of the truenorth client."""

from __future__ import annotations

from typing import Any


class TruenorthError(Exception):
    """Base of every client error. `status` is the HTTP status (None: no response)."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class InvalidRequest(TruenorthError):
    """4xx: the request as a whole is invalid (422), too large (413), unsupported (415)…
    `errors` holds the field-level errors: [{field, message, type}]."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict):
            return list(self.body.get("errors") or [])
        return []


class PayloadTooLarge(InvalidRequest):
    """413: too many bytes or rows in one request; use a smaller batch_size."""


class NotFound(TruenorthError):
    """404."""


class Conflict(TruenorthError):
    """409: the state machine refused the command, or a concurrent change happened
    (re-read and retry)."""


class Unavailable(TruenorthError):
    """503 or no connection, after every retry. Retrying later with the same ids is safe."""


class RejectedRows(TruenorthError):
    """Some rows were rejected (the others were stored). `summary` has the counts and
    `errors` the rejected rows: [{index, errors: [{field, message}]}], `index` counted over
    everything sent in the call."""

    def __init__(self, summary: Any) -> None:
        rejected = summary.rejected
        first = summary.errors[0] if summary.errors else {}
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in first.get("errors", [])[:3])
        super().__init__(
            f"{rejected} row(s) rejected (first: row {first.get('index')}: {detail})",
            status=None,
            body=summary,
        )
        self.summary = summary

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.summary.errors)
