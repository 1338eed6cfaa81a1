"""`truenorth brief` is a command of the `truenorth` CLI and an operator command (it reads a
running truenorth, so it takes --nats-url and --data-dir)."""

from __future__ import annotations

from pathlib import Path

import typer.main
from typer.testing import CliRunner

from truenorth.cli import NOT_OPERATOR_COMMANDS, app, hoist_operator_options


def test_brief_is_registered_beside_review() -> None:
    command = typer.main.get_command(app)
    assert {"brief", "review"} <= set(command.commands)  # type: ignore[attr-defined]
    assert "brief" not in NOT_OPERATOR_COMMANDS


def test_operator_options_after_brief_move_in_front_of_it() -> None:
    command = typer.main.get_command(app)
    argv = ["brief", "--week", "--data-dir", "/tmp/x"]
    assert hoist_operator_options(argv, command) == ["--data-dir", "/tmp/x", "brief", "--week"]


def test_up_refuses_a_bad_schedule_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["up", "--free-ports", "--data-dir", str(tmp_path / "data")],
        env={
            "TRUENORTH_BRIEF_SCHEDULE": "mon 8pm",
            "TRUENORTH_BRIEF_WEBHOOK_URL": "https://hooks.example/x",
        },
    )
    assert result.exit_code == 2
    assert "TRUENORTH_BRIEF_SCHEDULE" in result.output and "'mon 8pm'" in result.output
    assert not (tmp_path / "data").exists()  # no nats-server, no data dir
