"""`meltano run tap-facebook target-truenorth` with the project in examples/ against `truenorth up`.

The project is examples/meltano.yml as committed, with one change: the extractor has no
`pip_url`, so Meltano runs the `tap-facebook` found on PATH, which replays the recorded
`ads_insights` output (tests/fixtures/singer/replay_tap.py) instead of calling Facebook. The
loader is the committed definition as is: the `target-truenorth` on PATH, from this checkout.

Meltano 4 is installed once into `.venv-meltano/` (on first use; ~30 s from the package index)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import RunningSystem, start_system
from tests.e2e.test_singer_target import actual, define_strategy, launch, orphans, wait_for

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "singer"
MELTANO_VENV = ROOT / ".venv-meltano"
MELTANO = "meltano==4.4.1"
STATE_ID = "dev:tap-facebook-to-target-truenorth"


@pytest.fixture(scope="module")
def meltano() -> Path:
    executable = MELTANO_VENV / "bin" / "meltano"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MELTANO_VENV)], check=True)
        subprocess.run(
            [str(MELTANO_VENV / "bin" / "pip"), "install", "-q", MELTANO], check=True, timeout=600
        )
    return executable


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    running = start_system(tmp_path_factory.mktemp("meltano") / "data")
    try:
        yield running
    finally:
        assert running.stop() == 0, "".join(running.output[-30:])


def example_project(folder: Path) -> Path:
    """examples/meltano.yml and its mapping file; the extractor without `pip_url`."""
    shutil.copytree(ROOT / "examples" / "singer", folder / "singer")
    project = yaml.safe_load((ROOT / "examples" / "meltano.yml").read_text())
    (extractor,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-facebook"]
    del extractor["pip_url"]
    (folder / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


def replaying_tap(bin_dir: Path, recording: Path) -> None:
    bin_dir.mkdir()
    tap = bin_dir / "tap-facebook"
    tap.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{FIXTURES / "replay_tap.py"}" "{recording}" "$@"\n'
    )
    tap.chmod(0o755)


class Meltano:
    def __init__(self, executable: Path, project: Path, env: dict[str, str]) -> None:
        self.executable, self.project, self.env = executable, project, env

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.executable), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def run(self) -> str:
        done = self("run", "tap-facebook", "target-truenorth")
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout + done.stderr

    def state(self) -> dict:
        done = self("state", "get", STATE_ID)
        assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
        return json.loads(done.stdout)


@pytest.fixture
def project(tmp_path: Path, meltano: Path, system: RunningSystem) -> tuple[Meltano, Path]:
    replaying_tap(tmp_path / "bin", FIXTURES / "facebook_ads_insights.singer")
    received = tmp_path / "received.json"
    env = {
        **os.environ,
        # the replaying tap first, then target-truenorth from this checkout's virtualenv
        "PATH": os.pathsep.join(
            [str(tmp_path / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "TAP_FACEBOOK_ACCOUNT_ID": "1001",
        "TAP_FACEBOOK_ACCESS_TOKEN": "recorded",
        "TARGET_TRUENORTH_URL": system.urls["metrics"],
        "TAP_REPLAY_RECEIVED": str(received),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return Meltano(meltano, example_project(tmp_path / "project"), env), received


def report(output: str) -> dict[str, int]:
    """target-truenorth's closing count, as Meltano relays the target's stderr."""
    found = re.findall(r"accepted (\d+), duplicates (\d+), restated (\d+), rejected (\d+)", output)
    assert len(found) == 1, output[-4000:]
    return dict(
        zip(("accepted", "duplicates", "restated", "rejected"), map(int, found[0]), strict=True)
    )


def last_recorded_state() -> dict:
    lines = (FIXTURES / "facebook_ads_insights.singer").read_text().splitlines()
    return [json.loads(line) for line in lines if '"STATE"' in line][-1]["value"]


def test_meltano_runs_the_example_project_into_truenorth_and_keeps_the_state(
    system: RunningSystem, project: tuple[Meltano, Path]
) -> None:
    meltano, received = project
    ws = "acme"  # the example's workspace
    define_strategy(system.urls, ws)
    launch(system.urls, ws, "spring-webinar")  # the example mapping's 23851000000000001

    output = meltano.run()

    given = json.loads(received.read_text())
    assert given["selected"] == ["ads_insights"]  # the example's `select:`
    assert given["config"]["account_id"] == "1001" and given["state"] == {}
    assert report(output) == {"accepted": 20, "duplicates": 0, "restated": 0, "rejected": 0}
    # spring-webinar's leads (actions of type `lead`) and spend in the recording
    assert wait_for(lambda: actual(system, ws, "q1-leads") == 10), actual(system, ws, "q1-leads")
    assert wait_for(lambda: actual(system, ws, "q1-spend") == 498.25), actual(
        system, ws, "q1-spend"
    )
    assert orphans(system, ws) == [{"campaign_id": "23851000000000002", "events": 5}]
    assert meltano.state() == {"singer_state": last_recorded_state()}

    output = meltano.run()  # resumes from the stored STATE; the tap re-reads its buffer days

    assert json.loads(received.read_text())["state"] == last_recorded_state()
    assert report(output) == {"accepted": 0, "duplicates": 20, "restated": 0, "rejected": 0}
    assert actual(system, ws, "q1-leads") == 10
    assert actual(system, ws, "q1-spend") == 498.25
    assert orphans(system, ws) == [{"campaign_id": "23851000000000002", "events": 5}]
    assert meltano.state() == {"singer_state": last_recorded_state()}


def test_a_run_whose_target_is_pointed_at_the_wrong_service_fails_and_stores_no_state(
    system: RunningSystem, project: tuple[Meltano, Path]
) -> None:
    meltano, _ = project
    meltano.env["TARGET_TRUENORTH_WORKSPACE"] = "misdirected"
    # a misconfigured url: the alignment service takes no observations (refused at once;
    # an unreachable one fails the same way, after the client's retries)
    meltano.env["TARGET_TRUENORTH_URL"] = system.urls["alignment"]

    failed = meltano("run", "tap-facebook", "target-truenorth")

    assert failed.returncode != 0
    assert "truenorth did not take the batch" in failed.stderr, failed.stderr[-3000:]
    assert meltano.state() == {}, "no row was acknowledged, so no STATE may be stored"

    meltano.env["TARGET_TRUENORTH_URL"] = system.urls["metrics"]
    assert report(meltano.run()) == {"accepted": 20, "duplicates": 0, "restated": 0, "rejected": 0}
    assert meltano.state() == {"singer_state": last_recorded_state()}
