"""`truenorth dlq`: `purge --before` reads its time as every door does (`truenorth.timeparse`):
a bare date is the end of that day in UTC, and anything else is refused naming the option
before NATS is reached; replay notes carry the one header dialect, `Tn-*`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from truenorth import dlq
from truenorth.cli import app


@pytest.fixture
def cutoffs(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The cutoff each purge would use, NATS left out."""
    seen: list[datetime] = []

    async def purge_before(js: Any, stream: str, cutoff: datetime) -> int:
        seen.append(cutoff)
        return 0

    def run(work: Any, nats_url: str | None, *, admin: bool = False) -> Any:
        return asyncio.run(work(None))

    monkeypatch.setattr(dlq, "purge_before", purge_before)
    monkeypatch.setattr(dlq, "_run", run)
    return seen


@pytest.mark.parametrize(
    ("before", "cutoff"),
    [
        ("2026-11-15", datetime(2026, 11, 16, tzinfo=UTC)),
        ("2026-11-15T08:30:00", datetime(2026, 11, 15, 8, 30, tzinfo=UTC)),
        ("2026-11-15T08:30:00Z", datetime(2026, 11, 15, 8, 30, tzinfo=UTC)),
    ],
)
def test_a_bare_date_purges_up_to_the_end_of_that_day_and_a_time_is_utc_without_a_zone(
    cutoffs: list[datetime], before: str, cutoff: datetime
) -> None:
    result = CliRunner().invoke(app, ["dlq", "purge", "--before", before])
    assert result.exit_code == 0, result.output
    assert cutoffs == [cutoff]


def test_a_time_that_is_not_one_is_refused_naming_the_option(cutoffs: list[datetime]) -> None:
    result = CliRunner().invoke(app, ["dlq", "purge", "--before", "last week"])
    assert result.exit_code == 2
    assert "--before" in result.output and "'last week' is not a date" in result.output
    assert cutoffs == []


@pytest.mark.parametrize("header", [dlq.REPLAYED_HEADER, "Truenorth-Replayed-Sequence"])
def test_a_replay_note_names_its_dead_letter_in_the_one_dialect_or_the_older_one(
    header: str,
) -> None:
    note = SimpleNamespace(data=b"not json", headers={header: "7"})
    assert dlq.REPLAYED_HEADER.startswith("Tn-")
    assert dlq._note(note) == {"dlq_sequence": 7}
