"""Which campaigns truenorth has heard of, and which observations name one it has not.

A campaign exists once it has a subject in the CAMPAIGNS stream (`tn.<ws>.campaigns.<id>`: its
first event is the launch); observations are stored per campaign subject in METRICS. So the
observations waiting for a campaign ("orphans": a mistyped id, or an ad sync that ran before
the planner launched the campaign) are METRICS subjects without a CAMPAIGNS subject — read
from JetStream's per-subject counts (`STREAM.INFO` with a subjects filter), whatever door the
observations came through, and correct after a restart. The alignment service keeps folding
them, so they count as soon as the campaign is launched; until then they are listed in every
ingest answer (`unknown_campaigns`), counted by the `truenorth_unknown_campaigns` gauge per
workspace and listed by `GET /v1/workspaces/{ws}/metrics/unknown-campaigns`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

import structlog
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry, Gauge

from truenorth.bus.streams import CAMPAIGNS, METRICS, SUBJECT_ROOT

log = structlog.get_logger()

UNKNOWN_CAMPAIGNS = "truenorth_unknown_campaigns"
REFRESH_AT_MOST_EVERY = 0.5
"""Seconds: an ingest naming an unknown campaign re-reads the CAMPAIGNS subjects at most this
often per workspace (a just-launched campaign is found; a flood of orphans costs nothing)."""


class CampaignRoster:
    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        registry: CollectorRegistry,
        interval: float = 5.0,
    ) -> None:
        self._js = js
        self.interval = interval
        self._known: dict[str, set[str]] = {}
        self._refreshed_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.gauge = Gauge(
            UNKNOWN_CAMPAIGNS,
            "Campaign ids that metric observations name but truenorth has no campaign for "
            "(their observations wait and count once the campaign is launched)",
            ["workspace"],
            registry=registry,
        )

    async def _subjects(self, stream: str, pattern: str) -> dict[str, int]:
        info = await self._js().stream_info(stream, subjects_filter=pattern)
        return dict(info.state.subjects or {})

    async def campaigns(self, workspace: str) -> set[str]:
        subjects = await self._subjects(CAMPAIGNS.name, f"{SUBJECT_ROOT}.{workspace}.campaigns.*")
        known = {subject.rsplit(".", 1)[1] for subject in subjects}
        self._known[workspace] = known
        self._refreshed_at[workspace] = time.monotonic()
        return known

    async def unknown(self, workspace: str, campaign_ids: Iterable[str]) -> list[str]:
        """The campaign ids among these that truenorth has no campaign for (sorted)."""
        wanted = set(campaign_ids)
        missing = wanted - self._known.get(workspace, set())
        if not missing:
            return []
        age = time.monotonic() - self._refreshed_at.get(workspace, 0.0)
        if age >= REFRESH_AT_MOST_EVERY:
            try:
                await self.campaigns(workspace)
            except Exception as exc:  # the rows are stored: an answer without the list is ok
                log.warning("cannot read the campaign subjects", error=str(exc))
                return []
            missing = wanted - self._known[workspace]
        return sorted(missing)

    async def orphans(self, workspace: str) -> dict[str, int]:
        """campaign id → number of metric events stored for it, for campaigns never launched."""
        known = await self.campaigns(workspace)
        observed = await self._subjects(METRICS.name, f"{SUBJECT_ROOT}.{workspace}.metrics.*")
        orphans = {}
        for subject, count in observed.items():
            campaign = subject.rsplit(".", 1)[1]
            if campaign not in known:
                orphans[campaign] = count
        return dict(sorted(orphans.items()))

    async def update_gauge(self) -> None:
        """Every workspace's count, from the two streams' subjects (all doors, all time)."""
        campaigns = await self._subjects(CAMPAIGNS.name, f"{SUBJECT_ROOT}.*.campaigns.*")
        observed = await self._subjects(METRICS.name, f"{SUBJECT_ROOT}.*.metrics.*")
        known = {_workspace_and_id(s) for s in campaigns}
        counts: dict[str, int] = {}
        for subject in observed:
            workspace, campaign = _workspace_and_id(subject)
            counts.setdefault(workspace, 0)
            if (workspace, campaign) not in known:
                counts[workspace] += 1
        for workspace, count in counts.items():
            self.gauge.labels(workspace).set(count)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="campaign-roster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                await self.update_gauge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: the gauge keeps its last value
                log.debug("unknown-campaigns gauge not refreshed", error=str(exc))
            await asyncio.sleep(self.interval)


def _workspace_and_id(subject: str) -> tuple[str, str]:
    parts = subject.split(".")
    return parts[1], parts[-1]
