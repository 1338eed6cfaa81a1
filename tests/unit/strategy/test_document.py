from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.strategy.builders import BASE_YAML, JAN_1, OCT_1, document
from truenorth.strategy.domain import DocumentInvalid, document_json_schema, parse_document


def errors_of(text: str) -> dict[str, tuple[int | None, str]]:
    with pytest.raises(DocumentInvalid) as caught:
        document(text)
    return {error.path: (error.line, error.message) for error in caught.value.errors}


def test_a_valid_document_maps_to_the_contract_types() -> None:
    doc = document()
    specs = {spec.objective_id: spec for spec in doc.objective_specs()}
    assert specs["leads-q4"].target == 1000
    assert specs["leads-q4"].phasing == {"2026-10": 1, "2026-11": 1, "2026-12": 2}
    assert doc.period_plans()[0].channel_mix == {"search": 60, "linkedin": 40}
    assert doc.header().allowed_channels == ("search", "linkedin", "email")


def test_a_start_date_is_midnight_utc_and_a_deadline_date_is_the_end_of_that_day() -> None:
    spec = document().objective_specs()[0]
    assert spec.start == OCT_1
    assert spec.deadline == JAN_1
    assert document().period_plans()[0].end == JAN_1


def test_full_iso_datetimes_are_kept_and_stored_in_utc() -> None:
    text = BASE_YAML.replace(
        "start: 2026-10-01\n    deadline", "start: 2026-10-01T09:00:00+02:00\n    deadline", 1
    )
    spec = document(text).objective_specs()[0]
    assert spec.start == datetime(2026, 10, 1, 7, tzinfo=UTC)
    assert spec.start.tzinfo == UTC


def test_a_datetime_without_offset_is_refused() -> None:
    text = BASE_YAML.replace("deadline: 2026-12-31", "deadline: 2026-12-31T12:00:00", 1)
    assert "objectives[0].deadline" in errors_of(text)


@pytest.mark.parametrize("written", ["2026-12-31Z", "2026-13-45", "soon"])
def test_a_deadline_that_is_no_day_and_no_zoned_time_is_refused_naming_field_and_line(
    written: str,
) -> None:
    text = BASE_YAML.replace("deadline: 2026-12-31", f"deadline: {written}", 1)
    line, message = errors_of(text)["objectives[0].deadline"]
    assert line == BASE_YAML.splitlines().index("    deadline: 2026-12-31") + 1
    assert f"{written!r} is not a date" in message


def test_deadline_must_be_after_start() -> None:
    text = BASE_YAML.replace("deadline: 2026-12-31", "deadline: 2026-09-30", 1)
    line, message = errors_of(text)["objectives[0].deadline"]
    assert line == 18
    assert message == "deadline (2026-09-30) must be after start (2026-10-01)"


def test_a_deadline_on_the_start_day_is_a_one_day_window() -> None:
    head, _, tail = BASE_YAML.rpartition("deadline: 2026-12-31")
    text = head + "deadline: 2026-10-01" + tail
    assert document(text).objective_specs()[1].deadline == datetime(2026, 10, 2, tzinfo=UTC)


def test_target_must_differ_from_baseline() -> None:
    text = BASE_YAML.replace("target: 1000", "baseline: 1000\n    target: 1000")
    assert errors_of(text)["objectives[0].target"][1] == "target must differ from baseline (1000)"


def test_an_increase_target_below_baseline_is_refused() -> None:
    text = BASE_YAML.replace("target: 1000", "baseline: 2000\n    target: 1000")
    message = errors_of(text)["objectives[0].target"][1]
    assert message == "target 1000 is below baseline 2000, but direction is 'increase'"


def test_a_decrease_target_above_baseline_is_refused() -> None:
    text = BASE_YAML.replace(
        "target: 1000", "direction: decrease\n    baseline: 500\n    target: 1000"
    )
    assert "above baseline 500" in errors_of(text)["objectives[0].target"][1]


def test_a_decrease_target_below_baseline_is_fine() -> None:
    text = BASE_YAML.replace(
        "target: 1000", "direction: decrease\n    baseline: 5000\n    target: 1000"
    )
    assert document(text).objective_specs()[0].direction == "decrease"


def test_channel_mix_must_sum_to_100_percent() -> None:
    text = BASE_YAML.replace("{search: 60, linkedin: 40}", "{search: 60, linkedin: 30}")
    line, message = errors_of(text)["periods[0].channel_mix"]
    assert (line, message) == (11, "channel mix must sum to 100 %, not 90 %")


def test_channel_mix_may_only_name_allowed_channels() -> None:
    text = BASE_YAML.replace("{search: 60, linkedin: 40}", "{search: 60, tiktok: 40}")
    message = errors_of(text)["periods[0].channel_mix.tiktok"][1]
    assert message == "channel 'tiktok' is not among the allowed channels (search, linkedin, email)"


def test_without_allowed_channels_any_channel_may_be_planned() -> None:
    text = BASE_YAML.replace("allowed_channels: [search, linkedin, email]\n", "")
    text = text.replace("linkedin: 40", "tiktok: 40")
    assert document(text).period_plans()[0].channel_mix["tiktok"] == 40


def test_objective_ids_must_be_unique() -> None:
    text = BASE_YAML.replace("id: signups-q4", "id: leads-q4")
    line, message = errors_of(text)["objectives[1].id"]
    assert line == 22
    assert message == "duplicate objective id 'leads-q4' (first at objectives[0])"


PERIOD_Q1 = """\
  - id: 2027-q1
    start: 2026-12-15
    end: 2027-03-31
    budget: 1000
"""


def with_second_period(text: str = BASE_YAML, period: str = PERIOD_Q1) -> str:
    return text.replace("objectives:\n", period + "objectives:\n")


def test_period_ids_must_be_unique() -> None:
    text = with_second_period(period=PERIOD_Q1.replace("2026-12-15", "2027-01-01"))
    text = text.replace("id: 2027-q1", "id: 2026-q4")
    assert "duplicate period id '2026-q4'" in errors_of(text)["periods[1].id"][1]


def test_periods_must_not_overlap() -> None:
    line, message = errors_of(with_second_period())["periods[1].start"]
    assert line == 13
    assert message == (
        "period '2027-q1' (2026-12-15 – 2027-03-31) overlaps period '2026-q4' "
        "(2026-10-01 – 2026-12-31)"
    )


def test_adjacent_periods_do_not_overlap() -> None:
    doc = document(with_second_period(period=PERIOD_Q1.replace("2026-12-15", "2027-01-01")))
    assert [p.period_id for p in doc.period_plans()] == ["2026-q4", "2027-q1"]


def test_period_end_must_be_after_its_start() -> None:
    text = BASE_YAML.replace("end: 2026-12-31", "end: 2026-09-01")
    assert errors_of(text)["periods[0].end"][1].startswith("end (2026-09-01) must be after start")


def test_phasing_months_must_lie_within_the_objective_window() -> None:
    text = BASE_YAML.replace("{2026-10: 1,", "{2026-09: 1, 2026-10: 1,")
    message = errors_of(text)["objectives[0].phasing.2026-09"][1]
    assert message == (
        "month 2026-09 lies outside the objective's window (2026-10-01 – 2026-12-31)"
    )


def test_phasing_weights_must_not_all_be_zero() -> None:
    text = BASE_YAML.replace("{2026-10: 1, 2026-11: 1, 2026-12: 2}", "{2026-10: 0}")
    assert "more than zero" in errors_of(text)["objectives[0].phasing"][1]


BROKEN_YAML = """\
id: acme
name: Acme
allowed_channels: [search]
colour: blue
periods:
  - id: 2026-q4
    start: 2026-10-01
    end: 2026-12-31
    budget: -5
    channel_mix: {search: 50, tiktok: 50}
objectives:
  - id: a
    name: A
    kpi: Leads
    target: 10
    start: 2026-10-01
    deadline: 2026-13-01
  - id: b
    name: B
    kpi: leads
    target: 0
    start: 2026-10-01
    deadline: 2026-09-01
  - id: b
    kpi: leads
    target: 5
    start: 2026-10-01
    deadline: 2026-12-31
"""


def test_validation_reports_every_error_at_once_with_path_and_line() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document(BROKEN_YAML, "broken.yaml")
    found = [(e.line, e.path) for e in caught.value.errors]
    assert found == [
        (4, "colour"),
        (9, "periods[0].budget"),
        (10, "periods[0].channel_mix.tiktok"),
        (14, "objectives[0].kpi"),
        (17, "objectives[0].deadline"),
        (21, "objectives[1].target"),
        (23, "objectives[1].deadline"),
        (24, "objectives[2].id"),
        (24, "objectives[2].name"),
    ]


def test_validation_errors_render_compiler_style_for_the_cli() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document(BROKEN_YAML, "broken.yaml")
    rendered = caught.value.render().splitlines()
    assert rendered[0] == (
        "broken.yaml:4: colour: unknown field (not part of the strategy document format)"
    )
    assert "broken.yaml:24: objectives[2].name: required field is missing" in rendered
    assert str(caught.value) == "broken.yaml: 9 errors"


def test_validation_errors_have_the_http_field_error_shape() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document(BROKEN_YAML)
    first = caught.value.error_dicts()[0]
    assert first["field"] == "colour"
    assert first["line"] == 4
    assert first["type"] == "extra_forbidden"
    assert caught.value.status == 422


def test_invalid_yaml_is_reported_with_its_line() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document("id: acme\nname: [Acme\nowner: x\n")
    (error,) = caught.value.errors
    assert error.path == "(document)"
    assert error.message.startswith("not valid YAML")
    assert error.line is not None


def test_a_duplicate_yaml_key_is_an_error_not_a_silent_overwrite() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document("id: acme\nname: A\nname: B\n")
    assert [(e.line, e.path) for e in caught.value.errors] == [(3, "name")]


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        document("- just\n- a list\n")
    assert caught.value.errors[0].path == "(document)"


def test_an_already_parsed_mapping_validates_too_without_lines() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        parse_document({"id": "acme", "name": "A", "objectives": [{"id": "x"}]})
    assert {e.path for e in caught.value.errors} == {
        "objectives[0].name",
        "objectives[0].kpi",
        "objectives[0].target",
        "objectives[0].start",
        "objectives[0].deadline",
    }
    assert all(e.line is None for e in caught.value.errors)


def test_the_json_schema_describes_the_document_for_editors() -> None:
    schema = document_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"id", "name"}
    objective = schema["$defs"]["ObjectiveDocument"]
    assert {"format": "date", "type": "string"} in objective["properties"]["deadline"]["anyOf"]
    assert "phasing" in objective["properties"]
