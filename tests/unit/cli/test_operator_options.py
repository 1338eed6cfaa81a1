"""--nats-url / --data-dir are accepted before or after an operator command's name."""

import typer.main

from truenorth.cli import app, hoist_operator_options

ROOT = typer.main.get_command(app)


def test_options_after_the_command_move_before_it():
    argv = ["apply", "s.yaml", "--data-dir", "/d", "--nats-url=nats://h:1", "--dry-run"]
    assert hoist_operator_options(argv, ROOT) == [
        "--data-dir",
        "/d",
        "--nats-url",
        "nats://h:1",
        "apply",
        "s.yaml",
        "--dry-run",
    ]


def test_sub_commands_are_followed_and_their_own_options_kept():
    argv = ["dlq", "list", "--nats-url", "nats://h:1", "--data-dir", "/d"]
    assert hoist_operator_options(argv, ROOT) == [
        "--data-dir",
        "/d",
        "dlq",
        "list",
        "--nats-url",
        "nats://h:1",
    ]


def test_commands_that_start_a_system_keep_their_data_dir():
    argv = ["up", "--data-dir", "/d"]
    assert hoist_operator_options(argv, ROOT) == argv


def test_every_operator_command_accepts_both_options():
    operator = [
        "apply",
        "rebuild",
        "digest",
        "review",
        "objectives",
        "drifts",
        "ack",
        "campaigns",
        "checkin",
    ]
    for name in operator:
        assert hoist_operator_options([name, "--data-dir", "/d"], ROOT)[:2] == ["--data-dir", "/d"]
