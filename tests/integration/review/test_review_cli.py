"""`truenorth review` against a real nats-server: the fixed log appended to JetStream gives the
same numbers as the committed expected summary, and `--as-of` reproduces an earlier view."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path

import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from tests.conftest import require_installed
from tests.unit.review.fixture_log import build_log
from truenorth.bus.eventstore import EventStore, connect, provision
from truenorth.review.cli import review_command
from truenorth.review.source import load_events
from truenorth.settings import SharedSettings

EXPECTED = Path(__file__).parents[2] / "unit" / "review" / "expected_review_2026q4.json"
CHROMIUM = Path("/usr/bin/chromium")

app = typer.Typer()
app.command("review")(review_command)


@app.callback()
def _root() -> None:
    """Keeps `review` a subcommand, as under `truenorth`."""


async def _append(url: str, workspace: str) -> int:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        await provision(js)
        store = EventStore(js)
        for event in build_log(workspace):
            appended = await store.append(event)
            assert not appended.duplicate
        return len(build_log(workspace))
    finally:
        await nc.drain()


@pytest.fixture
def logged(nats_url: str, workspace: str) -> str:
    asyncio.run(_append(nats_url, workspace))
    return workspace


AT_PERIOD_END = ("--as-of", "2027-01-01T00:00:00Z")  # the default is min(period end, now)


def _run(nats_url: str, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["review", *args], env={"TRUENORTH_NATS_URL": nats_url}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_log_read_back_from_jetstream_is_the_fixture(
    nats_url: str, logged: str, tmp_path: Path
) -> None:
    events = asyncio.run(load_events(SharedSettings(nats_url=nats_url, data_dir=tmp_path), logged))
    assert [e.event_id for e in events] == [e.event_id for e in build_log(logged)]


def test_review_from_nats_matches_the_expected_summary(nats_url: str, logged: str) -> None:
    output = _run(
        nats_url, "--period", "2026-Q4", "--workspace", logged, *AT_PERIOD_END, "--format", "json"
    )
    summary = json.loads(output)
    assert summary["workspace"] == logged
    summary["workspace"] = "acme"
    assert summary == json.loads(EXPECTED.read_text())


def test_as_of_before_the_revision_shows_the_old_target(nats_url: str, logged: str) -> None:
    output = _run(
        nats_url,
        "--period",
        "2026-Q4",
        "--workspace",
        logged,
        "--as-of",
        "2026-11-05T00:00:00Z",
        "--format",
        "json",
    )
    leads = json.loads(output)["objectives"][0]
    assert (leads["objective_id"], leads["target"], leads["actual"]) == ("leads-q4", 1200, 278)
    assert leads["status"] == "off_track"


def test_html_and_markdown_files(nats_url: str, logged: str, tmp_path: Path) -> None:
    page, text = tmp_path / "review.html", tmp_path / "review.md"
    _run(
        nats_url,
        "--period",
        "2026-Q4",
        "--workspace",
        logged,
        *AT_PERIOD_END,
        "--format",
        "html",
        "--out",
        str(page),
    )
    _run(nats_url, "--period", "2026-Q4", "--workspace", logged, *AT_PERIOD_END, "--out", str(text))
    html = page.read_text()
    assert html.count("data:image/svg+xml;base64,") == 3  # two objectives + the channel mix
    assert "pace-leads-q4" in html and "summit pushed to January" in html
    markdown = text.read_text()
    assert (
        "| Qualified leads Q4 (`leads-q4`) | leads | 734 / 900 (cut from 1,200) | 81.6 % |"
        in markdown
    )


def test_bad_input_is_a_clear_error(nats_url: str) -> None:
    result = CliRunner().invoke(
        app, ["review", "--period", "2026-Q9"], env={"TRUENORTH_NATS_URL": nats_url}
    )
    assert result.exit_code == 2
    assert "bad period" in result.output


def test_an_unknown_planning_period_names_the_strategy_s_periods(
    nats_url: str, logged: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["review", "--period", "winter-26", "--workspace", logged],
        env={"TRUENORTH_NATS_URL": nats_url},
    )
    assert result.exit_code == 2
    assert "bad period 'winter-26'" in result.output
    assert "(known: 2026-q4)" in result.output


def test_the_pdf_review_has_pages_and_readable_text(
    nats_url: str, logged: str, tmp_path: Path
) -> None:
    require_installed(CHROMIUM.exists(), str(CHROMIUM), "scripts/install-chromium.sh")
    out = tmp_path / "review.pdf"
    output = _run(
        nats_url,
        "--period",
        "2026-Q4",
        "--workspace",
        logged,
        *AT_PERIOD_END,
        "--format",
        "pdf",
        "--out",
        str(out),
    )
    assert f"wrote {out}" in output
    reader = PdfReader(out)
    assert len(reader.pages) > 0
    # NFKC: the PDF's fonts set "fi" as one ligature glyph; lines wrap in table cells
    text = unicodedata.normalize("NFKC", " ".join(p.extract_text() for p in reader.pages))
    text = " ".join(text.split())
    assert "Quarterly review — 2026-Q4" in text
    assert "Qualified leads Q4" in text
    assert "Spent $92k of the $100k budget of 2026-q4" in text


def test_a_pdf_needs_a_file_to_write(nats_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["review", "--period", "2026-Q4", "--format", "pdf"],
        env={"TRUENORTH_NATS_URL": nats_url},
    )
    assert result.exit_code == 2
    assert "--format pdf writes a file: name it with --out review.pdf" in result.output
