"""`truenorth serve <service>` starts the service without the rest of the command line."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from truenorth.cli import app

PROBE = """
import sys
import truenorth.serve as serve

def run(service):
    loaded = sorted(m for m in sys.modules if m.startswith(("truenorth.cli", "truenorth.metrics")))
    print(service, loaded)
    return 0

serve.run = run
sys.argv = ["truenorth", *sys.argv[1:]]
serve.main()
"""


def entry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )


def test_a_service_starts_without_the_other_commands_modules() -> None:
    done = entry("serve", "alignment")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alignment []"


def test_other_command_lines_go_to_the_full_command() -> None:
    done = entry("serve", "nonesuch")
    assert done.returncode == 2
    assert "unknown service 'nonesuch'" in done.stderr
    assert "--help" in entry("--help").stdout


def test_a_wrong_setting_is_named_and_the_service_does_not_start(monkeypatch) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_PORT", "not-a-port")
    result = CliRunner().invoke(app, ["serve", "alignment"])
    assert result.exit_code == 2
    assert "TRUENORTH_ALIGNMENT_PORT" in result.output
