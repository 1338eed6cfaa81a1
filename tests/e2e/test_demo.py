"""`truenorth demo` end to end, with the quarter compressed to well under a minute: the real
services on the shared accelerated clock, driven by the seeded scenario. Each drift kind the
scenario scripts opens; the one the strategy answers with a revision resolves; the feedback
loop shows on the strategy side (revision in response, acknowledgement)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from truenorth.demo.run import DemoOptions, DemoRunner
from truenorth.demo.scenario import DEFAULT_EXAMPLE, build_scenario, load_example

SPEED = 160_000.0
"""92 days in ~50 s of wall time."""

pytestmark = pytest.mark.slow


def test_demo_quarter_opens_scripted_drifts_and_resolves_the_answered_one(
    tmp_path: Path,
) -> None:
    filename, text = load_example(DEFAULT_EXAMPLE)
    scenario = build_scenario(text, 7, "demo", filename)
    options = DemoOptions(
        seed=7,
        speed=SPEED,
        data_dir=tmp_path / "data",
        free_ports=True,
        review=False,
        live=False,
        startup_seconds=10,
    )
    output = io.StringIO()
    runner = DemoRunner(scenario, options, Console(file=output, width=140))
    runner.start()
    try:
        runner.play()
        checks = {(c.drift.kind, c.drift.subject): c for c in runner.checks()}
        log = output.getvalue()
        for check in checks.values():
            assert check.status is not None, (
                f"{check.drift.kind} {check.drift.subject} never opened"
            )
        kinds = {kind for kind, _ in checks}
        assert {
            "objective_off_pace",
            "untethered_spend",
            "channel_mix_drift",
            "budget_overrun",
        } <= kinds
        answered = next(c for c in checks.values() if c.drift.answered)
        assert answered.status == "resolved", log

        counters = runner.counters
        assert counters.failures == 0, counters.log
        assert counters.duplicates > 0 and counters.restated > 0

        strategy = (
            f"{runner.urls['strategy']}/v1/workspaces/{scenario.workspace}"
            f"/strategies/{scenario.strategy_id}"
        )
        inbox = {
            d["drift_id"]: d
            for d in httpx.get(f"{strategy}/drifts", params={"status": "all"}).json()["drifts"]
        }
        responses = inbox[answered.drift.drift_id]["responses"]
        assert [r["event_type"] for r in responses] == ["ObjectiveRevised"]
        acknowledged = next(d for d in scenario.drifts if d.acknowledged)
        assert inbox[acknowledged.drift_id]["acknowledged"]["note"]

        objective = httpx.get(
            f"{runner.urls['alignment']}/v1/workspaces/{scenario.workspace}"
            f"/objectives/{scenario.off_pace_objective}"
        ).json()
        assert objective["target"] == scenario.revised_target
        assert objective["status"] == "achieved"

        page = httpx.get(f"{runner.urls['alignment']}/").text
        assert "Northwind Cloud" in page
    finally:
        runner.stop()
