"""Posting the brief to a Slack-compatible incoming webhook: a JSON POST, retried on network
errors and 5xx/429 answers (tenacity, exponential backoff), a clear error otherwise."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
ATTEMPTS = 4


class PostError(RuntimeError):
    """One line: which webhook, what it answered (or why it could not be reached)."""


class _Retryable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def redact(url: str) -> str:
    """A webhook URL is a secret (its path is the credential): name only its host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "the webhook"


def post_brief(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = 0.5,
    client: httpx.Client | None = None,
) -> int:
    """POST `payload` as JSON; the status code on a 2xx. PostError on a 4xx at once, or after
    `attempts` tries on 5xx, 429 or a network error."""
    where = redact(url)
    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=backoff, max=10),
        retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
        reraise=False,
    )
    owned = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        for attempt in retrying:
            with attempt:
                return _post_once(http, url, where, payload)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise PostError(f"{last} (gave up after {attempts} attempts)") from None
    finally:
        if owned:
            http.close()
    raise AssertionError("unreachable: tenacity either returns or raises")


def _post_once(http: httpx.Client, url: str, where: str, payload: dict[str, Any]) -> int:
    try:
        response = http.post(url, json=payload)
    except httpx.HTTPError as exc:
        raise _Retryable(
            f"cannot post the brief to {where}: {type(exc).__name__} {exc}".rstrip()
        ) from None
    if 200 <= response.status_code < 300:
        return response.status_code
    body = " ".join(response.text.split())[:200] or "(no body)"
    message = f"the webhook at {where} answered {response.status_code}: {body}"
    if response.status_code >= 500 or response.status_code == 429:
        raise _Retryable(message)
    raise PostError(message)
