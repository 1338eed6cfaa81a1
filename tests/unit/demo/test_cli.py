"""`truenorth demo` is registered on the CLI and refuses what it cannot play before starting
anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from truenorth.cli import app


def test_demo_is_a_command_with_its_options() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for option in ("--seed", "--speed", "--example", "--data-dir", "--free-ports", "--no-review"):
        assert option in result.output


def test_unknown_example_is_refused_with_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["demo", "--example", "no-such-strategy"])
    assert result.exit_code == 2
    assert "no example strategy named 'no-such-strategy'" in result.output
    assert "b2b-tech-c-level" in result.output


def test_a_data_dir_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path), "--free-ports"])
    assert result.exit_code == 2
    assert "not empty" in result.output
