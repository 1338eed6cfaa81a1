"""Blocking clients (httpx.Client)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from truenorth.client._core import (
    RETRYABLE_ERRORS,
    RETRYABLE_STATUS,
    IngestSummary,
    RetryPolicy,
    auth_header,
    batches,
    command_body,
    encode_rows,
    error_for,
    is_ingest_answer,
    metrics_path,
)
from truenorth.client.errors import RejectedRows, Unavailable

ProgressCallback = Callable[[IngestSummary, IngestSummary], None]
"""Called after every batch with (that batch's summary, the running total)."""


class _Base:
    def __init__(
        self,
        base_url: str = "",
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self._owns = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
        self.retry = retry or RetryPolicy()
        bearer = auth_header(token)
        if bearer:
            self.http.headers["Authorization"] = bearer

    def close(self) -> None:
        if self._owns:
            self.http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self, method: str, path: str, content: bytes | None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Send, retrying 429/502/503/504 and transport errors with the same bytes."""
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                response = self.http.request(method, path, content=content, headers=headers)
            except RETRYABLE_ERRORS as exc:
                last = exc
                time.sleep(self.retry.delay(attempt))
                continue
            if response.status_code not in RETRYABLE_STATUS:
                return response
            last = error_for(response)
            if attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
        if isinstance(last, Unavailable):
            raise last
        raise Unavailable(f"{method} {path}: {last}", body=None) from last


class MetricsClient(_Base):
    """POST observations in batches. Rows are dicts (or pydantic models / dataclasses) with
    the fields of an observation; a row without `observation_id` gets a stable one derived
    from campaign, metric, period and source."""

    def __init__(
        self,
        base_url: str = "",
        *,
        workspace: str | None = None,
        batch_size: int = 1000,
        gzip: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.workspace = workspace
        self.batch_size = batch_size
        self.gzip = gzip

    def send(
        self,
        rows: Iterable[Any],
        *,
        workspace: str | None = None,
        raise_on_rejected: bool = True,
        on_batch: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Send every row; raises RejectedRows at the end if any row was rejected (the valid
        ones are stored), Unavailable if a batch could not be delivered after retries."""
        total = IngestSummary()
        path = metrics_path(workspace or self.workspace)
        for batch in batches(rows, self.batch_size):
            body, headers = encode_rows(batch, self.gzip)
            response = self._send("POST", path, body, headers)
            if not is_ingest_answer(response):
                raise error_for(response)
            done = total.add(response.json(), total.rows, len(batch))
            if on_batch is not None:
                on_batch(done, total)
        if raise_on_rejected and total.rejected:
            raise RejectedRows(total)
        return total


class CampaignsClient(_Base):
    """Campaign commands. Each call carries a fresh `event_id` reused by its retries, so a
    command whose answer was lost is not applied twice (the service answers `duplicate`)."""

    def __init__(self, base_url: str = "", *, workspace: str = "default", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.workspace = workspace

    def _path(self, suffix: str = "") -> str:
        return f"/v1/workspaces/{self.workspace}/campaigns{suffix}"

    def _command(self, method: str, suffix: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = command_body(fields)
        response = self._send(
            method, self._path(suffix), body, {"content-type": "application/json"}
        )
        if response.status_code >= 400:
            raise error_for(response)
        return response.json()

    def get(self, campaign_id: str) -> dict[str, Any]:
        response = self._send("GET", self._path(f"/{campaign_id}"), None)
        if response.status_code >= 400:
            raise error_for(response)
        return response.json()

    def launch(
        self,
        campaign_id: str,
        *,
        channel: str,
        segment: str,
        budget: float,
        start: Any,
        end: Any,
        objective_ids: Iterable[str] = (),
        **fields: Any,
    ) -> dict[str, Any]:
        return self._command(
            "POST",
            "",
            {
                "campaign_id": campaign_id,
                "channel": channel,
                "segment": segment,
                "budget": budget,
                "start": start,
                "end": end,
                "objective_ids": list(objective_ids),
                **fields,
            },
        )

    def link_objective(self, campaign_id: str, objective_id: str, **fields: Any) -> dict[str, Any]:
        return self._command(
            "POST", f"/{campaign_id}/objectives", {"objective_id": objective_id, **fields}
        )

    def unlink_objective(
        self, campaign_id: str, objective_id: str, **fields: Any
    ) -> dict[str, Any]:
        return self._command("DELETE", f"/{campaign_id}/objectives/{objective_id}", fields)

    def change_budget(self, campaign_id: str, budget: float, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/budget", {"budget": budget, **fields})

    def activate(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/activate", fields)

    def pause(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/pause", fields)

    def resume(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/resume", fields)

    def end(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/end", fields)

    def launch_creative(self, campaign_id: str, creative_id: str, **fields: Any) -> dict[str, Any]:
        return self._command(
            "POST", f"/{campaign_id}/creatives", {"creative_id": creative_id, **fields}
        )

    def retire_creative(self, campaign_id: str, creative_id: str, **fields: Any) -> dict[str, Any]:
        return self._command("POST", f"/{campaign_id}/creatives/{creative_id}/retire", fields)

    def conclude_experiment(
        self, campaign_id: str, experiment_id: str, winner_creative_id: str, **fields: Any
    ) -> dict[str, Any]:
        return self._command(
            "POST",
            f"/{campaign_id}/experiments",
            {
                "experiment_id": experiment_id,
                "winner_creative_id": winner_creative_id,
                **fields,
            },
        )
