"""A time given by a person reads the same at every door (`truenorth.timeparse`): a bare date,
in any ISO 8601 form, is the end of that day in UTC; a time without a zone is UTC; anything
else is refused with the text and an example."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from truenorth.timeparse import IN_UTC, DayEnd, DayStart, Instant, parse_instant

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


# -- the pydantic types every door's models use (DayStart, DayEnd, Instant) -------------------


class Window(BaseModel):
    start: DayStart
    end: DayEnd
    at: Instant


def window(**changes: object) -> Window:
    return Window.model_validate(
        {"start": "2026-11-15", "end": "2026-11-15", "at": "2026-11-15", **changes}
    )


@pytest.mark.parametrize("text", ["2026-11-15", " 2026-11-15 ", "20261115", "2026-W46-7"])
def test_a_bare_date_starts_at_its_midnight_and_ends_and_is_an_instant_at_the_next(
    text: str,
) -> None:
    read = window(start=text, end=text, at=text)
    assert (read.start, read.end, read.at) == (
        datetime(2026, 11, 15, tzinfo=UTC),
        END_OF_NOV_15,
        END_OF_NOV_15,
    )


def test_a_date_object_as_yaml_parses_one_is_the_same_day() -> None:
    read = window(start=date(2026, 11, 15), end=date(2026, 11, 15))
    assert (read.start, read.end) == (datetime(2026, 11, 15, tzinfo=UTC), END_OF_NOV_15)


def test_the_instant_is_the_end_of_the_day_as_for_a_query_parameter() -> None:
    assert window(at="2026-11-15").at == parse_instant("2026-11-15")


def test_a_time_keeps_the_zone_it_was_written_with_so_events_re_encode_unchanged() -> None:
    read = window(end="2026-11-15T12:00:00+02:00")
    assert read.end == datetime(2026, 11, 15, 10, tzinfo=UTC)
    assert read.end.utcoffset() == timedelta(hours=2)
    assert Window.model_validate_json(read.model_dump_json()).model_dump_json() == (
        read.model_dump_json()
    )


def test_in_utc_stores_the_same_instant_in_utc() -> None:
    adapter = TypeAdapter(Annotated[DayEnd, IN_UTC])
    moment = adapter.validate_python("2026-11-15T12:00:00+02:00")
    assert moment == datetime(2026, 11, 15, 10, tzinfo=UTC) and moment.utcoffset() == timedelta(0)
    assert adapter.validate_python("2026-11-15") == END_OF_NOV_15


def test_seconds_since_the_epoch_are_still_read_as_a_utc_time() -> None:
    assert window(end="1700000000").end == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize("field", ["start", "end", "at"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-15Z", "is not a date"),
        ("2026-11-15+01:00", "is not a date"),
        ("2026-13-45", "is not a date"),
        ("soon", "is not a date"),
        ("", "is not a date"),
        ("2026-11-15T12:00:00", "timezone"),
    ],
)
def test_no_day_and_no_zoned_time_is_refused_naming_the_field(
    field: str, text: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        window(**{field: text})
    (error,) = refused.value.errors()
    assert error["loc"] == (field,) and message in error["msg"]


def test_a_moment_is_written_as_a_utc_date_time_never_as_a_date() -> None:
    assert window().model_dump(mode="json") == {
        "start": "2026-11-15T00:00:00Z",
        "end": "2026-11-16T00:00:00Z",
        "at": "2026-11-16T00:00:00Z",
    }


def test_the_json_schema_says_date_or_date_time() -> None:
    schema = Window.model_json_schema()["properties"]
    for name in ("start", "end", "at"):
        formats = {option["format"] for option in schema[name]["anyOf"]}
        assert formats == {"date", "date-time"}, name
