"""`truenorth whatif --shift FROM:TO:AMOUNT`: channels by default, campaign=ID for a campaign,
and a message naming the option for anything else."""

import pytest
from typer.testing import CliRunner

from truenorth.cli import app
from truenorth.whatif_cli import parse_shift


def test_a_shift_names_channels_or_campaigns() -> None:
    assert parse_shift("linkedin:search:5000") == {
        "from": {"channel": "linkedin"},
        "to": {"channel": "search"},
        "amount": 5000.0,
    }
    assert parse_shift("campaign=c1:channel=search:1,500") == {
        "from": {"campaign": "c1"},
        "to": {"channel": "search"},
        "amount": 1500.0,
    }


@pytest.mark.parametrize(
    ("text", "says"), [("linkedin:search", "expected FROM:TO:AMOUNT"), ("a:b:lots", "not a number")]
)
def test_a_malformed_shift_is_refused_naming_the_option(text: str, says: str) -> None:
    result = CliRunner().invoke(app, ["whatif", "--strategy", "acme", "--shift", text])
    assert result.exit_code == 2
    assert "--shift" in result.output and says in result.output


def test_a_malformed_start_is_refused_naming_the_option() -> None:
    args = ["whatif", "--strategy", "acme", "--shift", "a:b:1", "--from", "tomorrow"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--from 'tomorrow' is not a date" in result.output
