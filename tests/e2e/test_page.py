"""The alignment service's built-in page in a real browser: headless Chromium (Debian's
`chromium`, installed by scripts/install-chromium.sh) renders `/` of a running system with an
applied example strategy, a linked and an untethered campaign and their observations; the
DOM holds the objective names and the drift explanation, and the screenshot is a real image."""

from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_installed
from tests.e2e.harness import RunningSystem, start_system
from truenorth.demo.scenario import load_example
from truenorth.strategy.domain import load_document

CHROMIUM = Path("/usr/bin/chromium")
WS = "page"
NOW = "2026-11-16T00:00:00Z"
"""The system's clock (runs at wall speed from here): half-way through the example's Q4."""


@pytest.fixture
def chromium() -> Path:
    require_installed(CHROMIUM.exists(), str(CHROMIUM), "scripts/install-chromium.sh")
    return CHROMIUM


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RunningSystem]:
    env = {
        "TRUENORTH_CLOCK_ORIGIN": NOW,
        "TRUENORTH_CLOCK_SPEED": "1",
        "TRUENORTH_CLOCK_STARTED_AT": datetime.now(UTC).isoformat(),
        "TRUENORTH_ALIGNMENT_TICK_SECONDS": "0.5",
    }
    running = start_system(tmp_path / "data", env=env)
    try:
        yield running
    finally:
        running.stop()


def seed_system(urls: dict[str, str], headers: dict[str, str] | None = None) -> None:
    """The example strategy, a linked and an untethered campaign and their first two weeks
    of figures; `headers` (a bearer token) replace the default actor."""
    apply_example(urls, headers)
    seed_campaigns(urls, headers)


def apply_example(urls: dict[str, str], headers: dict[str, str] | None = None) -> None:
    _, text = load_example("b2b-tech-c-level")
    sent = headers if headers is not None else {"X-Actor": "test"}
    response = httpx.post(
        f"{urls['strategy']}/v1/workspaces/{WS}/strategies/northwind-cloud/apply",
        content=text.encode(),
        headers={"Content-Type": "application/yaml", **sent},
    )
    assert response.status_code == 200, response.text


def seed_campaigns(urls: dict[str, str], headers: dict[str, str] | None = None) -> None:
    base = f"/v1/workspaces/{WS}"
    campaigns = [
        ("abm-q4", ["pipeline-q4"], "account_based", "cio"),
        ("tiktok-teaser", [], "tiktok", "cio"),
    ]
    for campaign_id, objectives, channel, segment in campaigns:
        response = httpx.post(
            f"{urls['campaigns']}{base}/campaigns",
            json={
                "campaign_id": campaign_id,
                "objective_ids": objectives,
                "channel": channel,
                "segment": segment,
                "budget": 50_000,
                "start": "2026-10-01T00:00:00Z",
                "end": "2026-12-31T00:00:00Z",
                "occurred_at": "2026-10-01T00:00:00Z",
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
    rows = [
        ("abm-q4", "spend", 20_000),
        ("abm-q4", "pipeline_value", 250_000),
        ("tiktok-teaser", "spend", 15_000),
    ]
    response = httpx.post(
        f"{urls['metrics']}{base}/metrics",
        json=[
            {
                "observation_id": f"{campaign}-{metric}",
                "campaign_id": campaign,
                "metric": metric,
                "value": value,
                "period_start": "2026-11-01T00:00:00Z",
                "period_end": "2026-11-15T00:00:00Z",
                "source": "test",
            }
            for campaign, metric, value in rows
        ],
        headers=headers,
    )
    assert response.status_code == 200, response.text


def wait_for_drift(
    alignment: str, kind: str, timeout: float = 60, headers: dict[str, str] | None = None
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{alignment}/v1/workspaces/{WS}/drifts", headers=headers)
        if response.status_code == 200:
            found = [d for d in response.json()["drifts"] if d["kind"] == kind]
            if found:
                return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no {kind} drift within {timeout:g}s")


def chromium_run(browser: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(browser),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_page_renders_objectives_and_drifts_in_chromium(
    chromium: Path, system: RunningSystem, tmp_path: Path
) -> None:
    seed_system(system.urls)
    alignment = system.urls["alignment"]
    off_pace = wait_for_drift(alignment, "objective_off_pace")
    wait_for_drift(alignment, "untethered_spend")
    url = f"{alignment}/?workspace={WS}"

    dom = chromium_run(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    _, text = load_example("b2b-tech-c-level")
    for objective in load_document(text).objectives:
        assert escape(objective.name, quote=False) in html, objective.name
    assert f'data-drift="{off_pace["drift_id"]}"' in html
    explanation = str(off_pace["explanation"])
    assert escape(explanation.split(";")[0], quote=False) in html
    assert "untethered_spend" in html
    assert "not allowed" in html  # tiktok is outside the strategy's channels

    png = tmp_path / "page.png"
    shot = chromium_run(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={png}",
        "--window-size=1280,1600",
        url,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 20_000
    assert png_size(png) == (1280, 1600)
