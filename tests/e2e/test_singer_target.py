"""target-truenorth against `truenorth up`: recorded tap output per preset becomes exactly the
expected observations, unknown campaigns are listed and count once launched, and a real tap
from PyPI (tap-jsonl) piped into the target, run twice and interrupted, loses and doubles
nothing.

tap-jsonl 0.3.1 pins singer-sdk 0.53 (truenorth pins 0.54.9), so it is installed in its own
virtualenv under `.venv-taps/` (created on first use, with pip from PyPI)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import RunningSystem, start_system
from truenorth.singer.placing import observation_id

FIXTURES = Path(__file__).parents[1] / "fixtures" / "singer"
TARGET = str(Path(sys.executable).parent / "target-truenorth")
TAP_VENV = Path(__file__).parents[2] / ".venv-taps" / "tap-jsonl"
TAP_JSONL = "tap-jsonl==0.3.1"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    running = start_system(tmp_path_factory.mktemp("singer") / "data")
    try:
        yield running
    finally:
        assert running.stop() == 0, "".join(running.output[-30:])


def define_strategy(urls: dict[str, str], ws: str) -> None:
    strategy = f"{urls['strategy']}/v1/workspaces/{ws}/strategies/acme"
    response = httpx.put(strategy, json={"name": "Acme", "target_segments": ["smb"]})
    assert response.status_code in (200, 201), response.text
    for kpi in ("leads", "spend"):
        response = httpx.post(
            f"{strategy}/objectives",
            json={
                "objective_id": f"q1-{kpi}",
                "name": kpi,
                "kpi": kpi,
                "target": 100_000,
                "start": "2025-01-01T00:00:00Z",
                "deadline": "2026-12-31T00:00:00Z",
            },
        )
        assert response.status_code == 201, response.text


def launch(urls: dict[str, str], ws: str, campaign_id: str) -> None:
    response = httpx.post(
        f"{urls['campaigns']}/v1/workspaces/{ws}/campaigns",
        json={
            "campaign_id": campaign_id,
            "objective_ids": ["q1-leads", "q1-spend"],
            "channel": "social",
            "segment": "smb",
            "budget": 50_000,
            "start": "2025-01-01T00:00:00Z",
            "end": "2026-12-31T00:00:00Z",
        },
    )
    assert response.status_code == 201, response.text


def run_target(
    system: RunningSystem, tmp_path: Path, ws: str, source: Path | bytes, **config: object
) -> tuple[list[dict], str]:
    config_file = tmp_path / "target.json"
    config_file.write_text(json.dumps({"url": system.urls["metrics"], "workspace": ws, **config}))
    stdin = source.read_bytes() if isinstance(source, Path) else source
    done = subprocess.run(
        [TARGET, "--config", str(config_file)], input=stdin, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    states = [json.loads(line) for line in done.stdout.decode().splitlines()]
    return states, done.stderr.decode()


def sent(report: str) -> dict[str, int]:
    match = re.search(r"accepted (\d+), duplicates (\d+), restated (\d+), rejected (\d+)", report)
    assert match, report
    return dict(
        zip(
            ("accepted", "duplicates", "restated", "rejected"),
            map(int, match.groups()),
            strict=True,
        )
    )


def actual(system: RunningSystem, ws: str, objective: str) -> float:
    body = httpx.get(f"{system.urls['alignment']}/v1/workspaces/{ws}/objectives/{objective}")
    if body.status_code == 404:
        return -1.0
    assert body.status_code == 200, body.text
    return float(body.json()["actual"])


def wait_for(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def unknown_gauge(system: RunningSystem, ws: str) -> float | None:
    text = httpx.get(f"{system.urls['metrics']}/metrics").text
    match = re.search(rf'^truenorth_unknown_campaigns\{{workspace="{ws}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def test_each_preset_fixture_becomes_exactly_its_observations(
    system: RunningSystem, tmp_path: Path
) -> None:
    ws = "presets"
    expected = {
        "facebook_ads_insights.singer": 20,
        "google_ads_campaign_performance_report.singer": 12,
        "linkedin_ad_analytics_by_campaign.singer": 10,
    }
    for name, rows in expected.items():
        states, report = run_target(system, tmp_path, ws, FIXTURES / name)
        assert sent(report) == {"accepted": rows, "duplicates": 0, "restated": 0, "rejected": 0}
        assert states, "the tap's last STATE is emitted once everything is acknowledged"
        states_again, report = run_target(system, tmp_path, ws, FIXTURES / name)
        assert sent(report) == {"accepted": 0, "duplicates": rows, "restated": 0, "rejected": 0}
        assert states_again == states
    # one observation checked end to end: Google's cost_micros as spend
    listed = httpx.get(f"{system.urls['metrics']}/v1/workspaces/{ws}/metrics/unknown-campaigns")
    assert {c["campaign_id"]: c["events"] for c in listed.json()["unknown_campaigns"]} == {
        "17000000001": 8,
        "17000000002": 4,
        "23851000000000001": 15,
        "23851000000000002": 5,
        "987654321": 10,
    }


def orphans(system: RunningSystem, ws: str) -> list[dict]:
    url = f"{system.urls['metrics']}/v1/workspaces/{ws}/metrics/unknown-campaigns"
    return httpx.get(url).json()["unknown_campaigns"]


def test_unknown_campaigns_are_listed_counted_and_count_once_launched(
    system: RunningSystem, tmp_path: Path
) -> None:
    ws = "orphans"
    define_strategy(system.urls, ws)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "streams:\n  ads_insights:\n    preset: facebook_ads_insights\n    campaign_prefix: fb-\n"
    )
    launch(system.urls, ws, "fb-23851000000000001")
    _, report = run_target(
        system, tmp_path, ws, FIXTURES / "facebook_ads_insights.singer", mapping_file=str(mapping)
    )
    assert report.splitlines()[-1].endswith(
        "not heard of (kept; they count once the campaign is launched): fb-23851000000000002"
    )
    assert orphans(system, ws) == [{"campaign_id": "fb-23851000000000002", "events": 5}]
    assert wait_for(lambda: unknown_gauge(system, ws) == 1.0), unknown_gauge(system, ws)
    assert wait_for(lambda: actual(system, ws, "q1-leads") == 10), actual(system, ws, "q1-leads")

    launch(system.urls, ws, "fb-23851000000000002")  # the ad sync ran before the planner

    assert wait_for(lambda: actual(system, ws, "q1-leads") == 11), actual(system, ws, "q1-leads")
    assert wait_for(lambda: unknown_gauge(system, ws) == 0.0), unknown_gauge(system, ws)
    assert orphans(system, ws) == []


# ------------------------------------------------------------------------ a real tap from PyPI


@pytest.fixture(scope="module")
def tap_jsonl() -> Path:
    executable = TAP_VENV / "bin" / "tap-jsonl"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TAP_VENV)], check=True)
        subprocess.run(
            [str(TAP_VENV / "bin" / "pip"), "install", "-q", TAP_JSONL], check=True, timeout=600
        )
    return executable


def append_days(export: Path, days: range, campaigns: int) -> None:
    with export.open("a") as handle:
        for day in days:
            for campaign in range(campaigns):
                handle.write(
                    json.dumps(
                        {
                            "campaign_id": 4200 + campaign,
                            "start_at": f"2025-04-{day:02d}T00:00:00Z",
                            "end_at": f"2025-04-{day:02d}T00:00:00Z",
                            "cost_in_usd": "12.50",
                            "impressions": 1000,
                            "clicks": 20,
                            "one_click_leads": 3,
                            "external_website_conversions": 1,
                        }
                    )
                    + "\n"
                )


def tap_output(tap: Path, folder: Path, tmp_path: Path, state: dict | None) -> bytes:
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps(
            {
                "path": str(folder / "*.jsonl"),
                "stream_name": "ad_analytics_by_campaign",
                "primary_keys": ["campaign_id", "start_at"],
            }
        )
    )
    command = [str(tap), "--config", str(config)]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        command += ["--state", str(tmp_path / "state.json")]
    done = subprocess.run(command, capture_output=True, timeout=120, check=True)
    return done.stdout


def test_a_real_tap_run_twice_then_interrupted_loses_and_doubles_nothing(
    system: RunningSystem, tmp_path: Path, tap_jsonl: Path
) -> None:
    """tap-jsonl 0.3.1 re-reads its files whatever STATE it is given (it writes its bookmark
    as `replication_key_value` and reads back `_sdc_last_modified`), so a resumed run sends
    everything again: what the target must guarantee then is that nothing counts twice."""
    ws = "tap"
    define_strategy(system.urls, ws)
    folder = tmp_path / "exports"
    folder.mkdir()
    export = folder / "linkedin.jsonl"
    for campaign in range(3):
        launch(system.urls, ws, f"li-{4200 + campaign}")
    config = {"mapping_file": str(mapping_with_prefix(tmp_path, "li-"))}
    append_days(export, range(1, 4), campaigns=3)  # 9 records → 45 observations

    def run(stdout: bytes) -> tuple[list[dict], dict[str, int]]:
        states, report = run_target(system, tmp_path, ws, stdout, **config)
        return states, sent(report)

    states, counts = run(tap_output(tap_jsonl, folder, tmp_path, None))
    assert counts == {"accepted": 45, "duplicates": 0, "restated": 0, "rejected": 0}
    state = states[-1]
    _, counts = run(tap_output(tap_jsonl, folder, tmp_path, None))
    assert counts == {"accepted": 0, "duplicates": 45, "restated": 0, "rejected": 0}
    append_days(export, range(4, 8), campaigns=3)  # 12 new records → 60 observations
    resumed = tap_output(tap_jsonl, folder, tmp_path, state)
    assert resumed.count(b'"type":"RECORD"') == 21
    killed_stdout = interrupted_run(system, tmp_path, ws, resumed, config, after_records=19)
    # the tap repeats its input STATE first; nothing after it is checkpointed by a killed run
    assert [json.loads(line) for line in killed_stdout.splitlines()] == [state]

    states, counts = run(resumed)
    # the killed run stored its first four batches of 4 records (16 records, 7 of them new)
    assert counts == {"accepted": 25, "duplicates": 80, "restated": 0, "rejected": 0}
    assert states, "a finished run checkpoints"
    # 21 records × 3 leads, each counted once
    assert wait_for(lambda: actual(system, ws, "q1-leads") == 21 * 3), actual(
        system, ws, "q1-leads"
    )


def mapping_with_prefix(tmp_path: Path, prefix: str) -> Path:
    mapping = tmp_path / "li-mapping.yaml"
    mapping.write_text(
        "streams:\n"
        "  ad_analytics_by_campaign:\n"
        "    preset: linkedin_ad_analytics_by_campaign\n"
        f"    campaign_prefix: {prefix}\n"
    )
    return mapping


def interrupted_run(
    system: RunningSystem,
    tmp_path: Path,
    ws: str,
    tap_stdout: bytes,
    config: dict,
    after_records: int,
) -> bytes:
    """Feed the target the first messages of a run (SCHEMA and some RECORDs, batches of 4
    records), wait until a batch is in truenorth, then SIGKILL it mid-run."""
    config_file = tmp_path / "killed.json"
    config_file.write_text(
        json.dumps({"url": system.urls["metrics"], "workspace": ws, "batch_size_rows": 4, **config})
    )
    process = subprocess.Popen(
        [TARGET, "--config", str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    fed = 0
    for line in tap_stdout.splitlines():
        if b'"RECORD"' in line:
            if fed == after_records:
                break
            fed += 1
        process.stdin.write(line + b"\n")
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _stored(system, ws, 4200, 6):  # record 16
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return process.stdout.read()


def _stored(system: RunningSystem, ws: str, campaign: int, day: int) -> bool:
    start = datetime(2025, 4, day, tzinfo=UTC)
    key = [f"li-{campaign}", str(campaign), start.isoformat()]
    obs = observation_id("ad_analytics_by_campaign", key, start, start + timedelta(days=1), "leads")
    url = f"{system.urls['metrics']}/v1/workspaces/{ws}/metrics/observations/{obs}"
    return httpx.get(url).status_code == 200


def test_a_run_killed_after_a_state_resumes_from_it_without_loss_or_double_count(
    system: RunningSystem, tmp_path: Path
) -> None:
    ws = "resume"
    messages = (FIXTURES / "facebook_ads_insights.singer").read_bytes().splitlines()
    first_state = next(i for i, m in enumerate(messages) if b'"STATE"' in m)
    config_file = tmp_path / "target.json"
    config_file.write_text(json.dumps({"url": system.urls["metrics"], "workspace": ws}))
    process = subprocess.Popen(
        [TARGET, "--config", str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"\n".join(messages[: first_state + 2]) + b"\n")  # + one more record
    process.stdin.flush()
    checkpoint = json.loads(process.stdout.readline())  # blocks until the STATE is out
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert checkpoint == json.loads(messages[first_state])["value"]

    # the tap, given that STATE, sends what came after it
    resumed = b"\n".join([messages[0], *messages[first_state + 1 :]]) + b"\n"
    _, report = run_target(system, tmp_path, ws, resumed)
    assert sent(report) == {"accepted": 10, "duplicates": 0, "restated": 0, "rejected": 0}
    assert {c["campaign_id"]: c["events"] for c in orphans(system, ws)} == {
        "23851000000000001": 15,
        "23851000000000002": 5,
    }
