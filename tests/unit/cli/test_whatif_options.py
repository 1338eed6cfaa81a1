"""`truenorth whatif --shift FROM:TO:AMOUNT`: channels by default, campaign=ID for a campaign,
and a message naming the option for anything else; `--from` a day in any ISO form."""

from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from truenorth import whatif_cli
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


@pytest.mark.parametrize("day", ["2026-11-15", "20261115", "2026-W46-7"])
def test_a_start_day_in_any_iso_form_is_sent_as_the_api_reads_it(
    day: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, object]] = []

    def request(service: str, url: object, method: str, path: str, **options: Any) -> Any:
        sent.append(options["json"])
        return SimpleNamespace(json=lambda: {"objectives": [], "assumptions": []})

    monkeypatch.setattr(whatif_cli, "request", request)
    args = ["whatif", "--strategy", "acme", "--shift", "a:b:1", "--from", day]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [body["from"] for body in sent] == ["2026-11-15"]
