"""One brief from a running truenorth: the event log from JetStream (the review's reader), the
recommendations from the alignment service's incidents view (best effort: the brief is whole
without them), then build, render, post. Used by `truenorth brief` and `truenorth up`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from truenorth.brief.build import Brief, build_brief
from truenorth.brief.post import post_brief, redact
from truenorth.brief.render import slack_payload
from truenorth.brief.schedule import BriefScheduler
from truenorth.brief.settings import BriefSettings
from truenorth.review import fmt
from truenorth.review.source import load_events
from truenorth.settings import SharedSettings

TIMEOUT = httpx.Timeout(10.0, connect=2.5)


def fetch_recommendations(
    alignment_url: str | None, workspace: str, as_of: datetime
) -> tuple[dict[str, Any], str | None]:
    """incident id → `recommendation` from `GET …/incidents?as_of=`, and a warning when the
    service could not be asked (no URL, unreachable, an error answer)."""
    if not alignment_url:
        return {}, None
    url = f"{alignment_url.rstrip('/')}/v1/workspaces/{workspace}/incidents"
    try:
        response = httpx.get(url, params={"as_of": as_of.isoformat()}, timeout=TIMEOUT)
        response.raise_for_status()
        incidents = response.json().get("incidents", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return {}, f"no recommendations: the alignment service at {alignment_url} ({exc})"
    found = {
        str(i["incident_id"]): i["recommendation"]
        for i in incidents
        if isinstance(i, dict) and i.get("incident_id") and i.get("recommendation")
    }
    return found, None


@dataclass(frozen=True)
class BriefRequest:
    workspace: str
    strategy: str | None
    as_of: datetime
    alignment_url: str | None = None


def make_brief(shared: SharedSettings, request: BriefRequest, warn: Callable[[str], None]) -> Brief:
    """Reads the log (ConnectionError naming the server when NATS is unreachable) and builds;
    LookupError for an unknown strategy."""
    events = asyncio.run(load_events(shared, request.workspace))
    recommendations, warning = fetch_recommendations(
        request.alignment_url, request.workspace, request.as_of
    )
    if warning:
        warn(warning)
    return build_brief(
        events,
        request.as_of,
        workspace=request.workspace,
        strategy_id=request.strategy,
        recommendations=recommendations,
    )


def scheduled_job(
    shared: SharedSettings,
    webhook_url: str,
    workspace: str,
    strategy: str | None,
    alignment_url: str | None,
    report: Callable[[str], None],
) -> Callable[[datetime], None]:
    """What `up`'s scheduler runs at each scheduled moment: the brief of the week ending
    then, posted to the webhook."""

    def job(due: datetime) -> None:
        brief = make_brief(shared, BriefRequest(workspace, strategy, due, alignment_url), report)
        post_brief(webhook_url, slack_payload(brief))
        report(f"brief of the week ending {fmt.last_day(due)} posted to {redact(webhook_url)}")

    return job


def up_scheduler(
    shared: SharedSettings,
    settings: BriefSettings,
    *,
    nats_url: str,
    data_dir: Path,
    alignment_url: str | None,
    report: Callable[[str], None],
    started: datetime | None = None,
) -> BriefScheduler | None:
    """The scheduler `truenorth up` ticks when TRUENORTH_BRIEF_SCHEDULE is set (None when it
    is not): it reads the log of the NATS `up` started, as its operator user."""
    schedule = settings.parsed_schedule
    if schedule is None or settings.webhook_url is None:
        return None
    local = shared.model_copy(update={"nats_url": nats_url, "data_dir": data_dir})
    job = scheduled_job(
        local,
        settings.webhook_url,
        settings.workspace or shared.workspace,
        settings.strategy,
        alignment_url,
        report,
    )
    return BriefScheduler(schedule, job, report=report, started=started)
