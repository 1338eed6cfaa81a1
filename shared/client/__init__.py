"""truenorth's producer client: send metric observations and campaign commands over HTTP.

    from truenorth.client import MetricsClient

    with MetricsClient("http://127.0.0.1:8103", workspace="acme") as client:
        summary = client.send(rows)          # batches, retries with the same ids
        print(summary.accepted, summary.duplicates, summary.restated)

With auth on (TRUENORTH_AUTH=required), pass `token="tn_…"` (from `truenorth tokens create`) or
set TRUENORTH_TOKEN: every request carries `Authorization: Bearer <token>`.

Sync (`MetricsClient`, `CampaignsClient`) and asyncio (`AsyncMetricsClient`,
`AsyncCampaignsClient`) flavours share one behaviour: batches are encoded once and retried
byte-for-byte on 429/502/503/504 and connection errors (with backoff, honouring Retry-After),
so the services' deterministic ids deduplicate them; errors are typed (`RejectedRows`,
`Conflict`, `NotFound`, `InvalidRequest`, `PayloadTooLarge`, `Unavailable`).
"""

from truenorth.client._core import IngestSummary, RetryPolicy, derive_observation_id
from truenorth.client.aio import AsyncCampaignsClient, AsyncMetricsClient
from truenorth.client.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RejectedRows,
    TruenorthError,
    Unavailable,
)
from truenorth.client.sync import CampaignsClient, MetricsClient

__all__ = [
    "AsyncCampaignsClient",
    "AsyncMetricsClient",
    "CampaignsClient",
    "Conflict",
    "IngestSummary",
    "InvalidRequest",
    "MetricsClient",
    "NotFound",
    "PayloadTooLarge",
    "RejectedRows",
    "RetryPolicy",
    "TruenorthError",
    "Unavailable",
    "derive_observation_id",
]
