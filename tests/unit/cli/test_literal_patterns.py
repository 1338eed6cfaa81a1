"""Regex patterns in error messages reach the terminal literally (Rich markup would read
`[a-z0-9_]` as a tag and print `^*$`)."""

from pathlib import Path

from typer.testing import CliRunner

from truenorth.cli import app


def test_validate_prints_the_kpi_pattern_literally(tmp_path: Path) -> None:
    document = tmp_path / "bad.yaml"
    document.write_text(
        "id: acme\nname: Acme\nobjectives:\n  - id: leads\n    name: Leads\n    kpi: Leads!\n"
        "    target: 5\n    start: 2026-01-01\n    deadline: 2026-02-01\n"
    )
    result = CliRunner().invoke(app, ["validate", str(document)])
    assert result.exit_code == 1
    assert "^[a-z][a-z0-9_]*$" in result.output
