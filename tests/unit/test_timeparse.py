"""A time given by a person reads the same at every door (`truenorth.timeparse`): a bare date,
in any ISO 8601 form, is the end of that day in UTC; a time without a zone is UTC; anything
else is refused with the text and an example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from truenorth.timeparse import parse_instant

END_OF_NOV_15 = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-11-15", " 2026-11-15 ", "20261115", "2026-W46-7"])
def test_a_bare_date_in_any_iso_form_is_the_end_of_that_day_utc(text: str) -> None:
    assert parse_instant(text) == END_OF_NOV_15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-15T12:00", datetime(2026, 11, 15, 12, tzinfo=UTC)),
        ("2026-11-15 12:00:00", datetime(2026, 11, 15, 12, tzinfo=UTC)),
        ("2026-11-15T12:00:00Z", datetime(2026, 11, 15, 12, tzinfo=UTC)),
        ("20261115T120000Z", datetime(2026, 11, 15, 12, tzinfo=UTC)),
        (
            "2026-11-15T00:00:00+01:00",
            datetime(2026, 11, 15, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_a_time_keeps_its_zone_and_is_utc_without_one(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["2026-11-15Z", "2026-11-15+01:00", "2026-319", "soon", ""])
def test_a_date_with_a_zone_or_no_date_at_all_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date") as refused:
        parse_instant(text)
    assert repr(text.strip()) in str(refused.value)
