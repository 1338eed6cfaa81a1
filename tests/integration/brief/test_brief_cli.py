"""`truenorth brief --week` against a real nats-server holding the review's fixed log, posting
to a real HTTP receiver; and `up`'s scheduler posting when its (injected) clock says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.integration.brief.receiver import webhook
from tests.integration.review.test_review_cli import _append
from truenorth.brief.cli import brief_command
from truenorth.brief.post import PostError, post_brief, redact
from truenorth.brief.run import fetch_recommendations, up_scheduler
from truenorth.brief.settings import BriefSettings
from truenorth.settings import SharedSettings

app = typer.Typer()
app.command("brief")(brief_command)


@app.callback()
def _root() -> None:
    """Keeps `brief` a subcommand, as under `truenorth`."""


@pytest.fixture
def logged(nats_url: str, workspace: str) -> str:
    asyncio.run(_append(nats_url, workspace))
    return workspace


def _invoke(nats_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["brief", *args],
        env={"TRUENORTH_NATS_URL": nats_url, "TRUENORTH_ALIGNMENT_URL": ""},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_markdown_brief_from_nats_is_the_fixture_s_week(nats_url: str, logged: str) -> None:
    code, out, err = _invoke(nats_url, "--week", "--as-of", "2026-11-12", "--workspace", logged)
    assert code == 0, err
    assert out.startswith(f"# Weekly brief — {logged}, week ending 2026-11-12\n")
    assert "- Qualified leads Q4: 286 → 342 of 900 (cut from 1,200)" in out
    assert "maria answered with ObjectiveRevised objective off pace · Qualified leads Q4" in out
    assert "- [warning] untethered spend · c-tiktok-teaser, open since 2026-10-08" in out


def test_the_html_brief_is_written_to_a_file(nats_url: str, logged: str, tmp_path: Path) -> None:
    page = tmp_path / "brief.html"
    code, _, err = _invoke(
        nats_url,
        "--week",
        "--as-of",
        "2026-11-05",
        "--workspace",
        logged,
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert code == 0, err
    assert f"wrote {page}" in err
    html = page.read_text()
    assert "<h2>What drifted</h2>" in html
    assert "objective off pace · Qualified leads Q4 (critical), opened 2026-11-01" in html
    assert "maria acknowledged objective off pace · Qualified leads Q4: “looking into it”" in html


def test_posting_sends_the_brief_to_the_webhook(nats_url: str, logged: str) -> None:
    with webhook(200) as receiver:
        code, _, err = _invoke(
            nats_url,
            "--week",
            "--as-of",
            "2026-11-12",
            "--workspace",
            logged,
            "--post",
            receiver.url,
        )
    assert code == 0, err
    assert "posted to http://127.0.0.1:" in err and "secret" not in err
    [payload] = receiver.received
    assert payload["text"].startswith(f"*Weekly brief — {logged}, week ending 2026-11-12*")
    assert "*What needs a decision*" in payload["text"]
    assert payload["blocks"][0]["type"] == "section"


def test_a_webhook_that_refuses_is_a_clear_error(nats_url: str, logged: str) -> None:
    with webhook(400) as receiver:
        code, _, err = _invoke(
            nats_url,
            "--week",
            "--as-of",
            "2026-11-12",
            "--workspace",
            logged,
            "--post",
            receiver.url,
        )
    assert code == 2
    assert "error: the webhook at http://127.0.0.1:" in err
    assert "answered 400: invalid_payload" in err
    assert len(receiver.received) == 1  # a 4xx is not retried


def test_a_failing_webhook_is_retried_then_reported() -> None:
    with webhook(503, 503, 200) as receiver:
        assert post_brief(receiver.url, {"text": "hi"}, backoff=0.01) == 200
    assert len(receiver.received) == 3
    with webhook(500) as receiver, pytest.raises(PostError) as caught:
        post_brief(receiver.url, {"text": "hi"}, attempts=3, backoff=0.01)
    assert "answered 500" in str(caught.value) and "gave up after 3 attempts" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_an_unreachable_webhook_is_a_clear_error() -> None:
    with webhook(200) as receiver:
        url = receiver.url
    with pytest.raises(PostError, match=r"cannot post the brief to http://127\.0\.0\.1:\d+/…"):
        post_brief(url, {"text": "hi"}, attempts=2, backoff=0.01)


def test_bad_options_are_named(nats_url: str) -> None:
    code, _, err = _invoke(nats_url, "--as-of", "2026-11-12")
    assert code == 2 and "--week" in err
    code, _, err = _invoke(nats_url, "--week", "--as-of", "someday")
    assert code == 2 and "bad --as-of" in err
    code, _, err = _invoke(nats_url, "--week", "--post", "hooks.slack.com/x")
    assert code == 2 and "--post 'hooks.slack.com/x'" in err


def test_an_unknown_strategy_is_named(nats_url: str, logged: str) -> None:
    code, _, err = _invoke(
        nats_url, "--week", "--as-of", "2026-11-12", "--workspace", logged, "--strategy", "nope"
    )
    assert code == 2 and "no strategy 'nope'" in err


def test_unreachable_nats_is_one_line() -> None:
    code, _, err = _invoke("nats://127.0.0.1:1", "--week")
    assert code == 2 and "cannot reach NATS at nats://127.0.0.1:1" in err


def test_up_s_scheduler_posts_the_week_s_brief_when_due(
    nats_url: str, logged: str, tmp_path: Path
) -> None:
    said: list[str] = []
    with webhook(200) as receiver:
        settings = BriefSettings(webhook_url=receiver.url, schedule="fri 00:00", workspace=logged)
        scheduler = up_scheduler(
            SharedSettings(nats_url=nats_url, data_dir=tmp_path),
            settings,
            nats_url=nats_url,
            data_dir=tmp_path,
            alignment_url=None,
            report=said.append,
            started=datetime(2026, 11, 12, 12, 0, tzinfo=UTC),
        )
        assert scheduler is not None
        assert scheduler.tick(datetime(2026, 11, 12, 23, 59, tzinfo=UTC)) is None
        due = scheduler.tick(datetime(2026, 11, 13, 0, 0, 1, tzinfo=UTC))
        assert due == datetime(2026, 11, 13, tzinfo=UTC)
        scheduler.join(60)
    [payload] = receiver.received
    assert "week ending 2026-11-12" in payload["text"]
    assert "Qualified leads Q4: 286 → 342 of 900" in payload["text"]
    assert said == [f"brief of the week ending 2026-11-12 posted to {redact(receiver.url)}"]
    assert redact(receiver.url).endswith("/…")


def test_without_a_schedule_up_runs_no_scheduler(tmp_path: Path) -> None:
    scheduler = up_scheduler(
        SharedSettings(data_dir=tmp_path),
        BriefSettings(),
        nats_url="nats://127.0.0.1:1",
        data_dir=tmp_path,
        alignment_url=None,
        report=print,
    )
    assert scheduler is None


def test_recommendations_are_read_from_the_incidents_view() -> None:
    recommendation = {"summary": "move $5,000 from linkedin to search", "effect": []}
    incidents = {
        "incidents": [
            {"incident_id": "objective-leads-q4", "recommendation": recommendation},
            {"incident_id": "campaign-c1", "recommendation": None},
        ]
    }
    with webhook(200, answer_get=incidents) as service:
        base = service.url.split("/services")[0]
        found, warning = fetch_recommendations(base, "acme", datetime(2026, 11, 13, tzinfo=UTC))
    assert (found, warning) == ({"objective-leads-q4": recommendation}, None)
    assert service.paths == [
        "/v1/workspaces/acme/incidents?as_of=2026-11-13T00%3A00%3A00%2B00%3A00"
    ]


def test_an_unreachable_alignment_service_is_a_warning_not_a_failure() -> None:
    found, warning = fetch_recommendations("http://127.0.0.1:1", "acme", datetime.now(UTC))
    assert found == {}
    assert warning is not None and "no recommendations: the alignment service at" in warning
