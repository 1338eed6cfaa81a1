"""The check-ins section of `truenorth review` read from a real nats-server, in Markdown and in
the PDF Chromium prints."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import require_installed
from tests.integration.review.test_review_cli import AT_PERIOD_END, CHROMIUM, _run
from tests.unit.review.fixture_log import build_log
from tests.unit.review.test_review_checkins import CHECKINS
from truenorth.bus.eventstore import EventStore, connect, provision


async def _append(url: str, workspace: str) -> None:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        await provision(js)
        store = EventStore(js)
        for event in build_log(workspace):
            await store.append(event)
        for checkin in CHECKINS:  # an id of its own per workspace, or JetStream deduplicates it
            event_id = uuid.uuid5(checkin.event_id, workspace)
            await store.append(
                checkin.model_copy(update={"workspace": workspace, "event_id": event_id})
            )
    finally:
        await nc.drain()


@pytest.fixture
def logged(nats_url: str, workspace: str) -> str:
    asyncio.run(_append(nats_url, workspace))
    return workspace


def test_the_markdown_review_shows_what_owners_believed(nats_url: str, logged: str) -> None:
    output = _run(nats_url, "--period", "2026-Q4", "--workspace", logged, *AT_PERIOD_END)
    section = output[output.index("## Check-ins: what the owner believed vs what happened") :]
    assert "Webinars will land in December" in section
    assert "over-confident" in section
    assert "180 (product analytics)" in section


def test_the_pdf_review_has_the_check_ins(nats_url: str, logged: str, tmp_path: Path) -> None:
    require_installed(CHROMIUM.exists(), str(CHROMIUM), "scripts/install-chromium.sh")
    out = tmp_path / "review.pdf"
    _run(nats_url, "--period", "2026-Q4", "--workspace", logged, *AT_PERIOD_END,
         "--format", "pdf", "--out", str(out))  # fmt: skip
    reader = PdfReader(out)
    text = unicodedata.normalize("NFKC", " ".join(p.extract_text() for p in reader.pages))
    text = " ".join(text.split())
    assert "Check-ins: what the owner believed vs what happened" in text
    assert "Webinars will land in December" in text
