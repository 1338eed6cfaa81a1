"""Tap records → observations, per preset, from records shaped like each tap's output."""

import json
from pathlib import Path

import pytest

from truenorth.singer.mapping import load_mapping
from truenorth.singer.placing import Unplaceable, observation_id, place

MAPPING = load_mapping(None)


def _records(path: Path) -> tuple[str, list[str], list[dict]]:
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    schema = next(m for m in messages if m["type"] == "SCHEMA")
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    return schema["stream"], schema["key_properties"], records


def _placed(path: Path) -> list[dict]:
    stream, keys, records = _records(path)
    rows = []
    for record in records:
        placement = place(stream, MAPPING.for_stream(stream), record, keys)
        assert placement.problems == []
        rows.extend(placement.observations)
    return rows


def _by_metric(rows: list[dict], campaign: str, day: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        if row["campaign_id"] == campaign and row["period_start"].startswith(day):
            totals[row["metric"]] = totals.get(row["metric"], 0) + row["value"]
    return totals


def test_facebook_insights_count_leads_from_actions_and_sum_ads_of_a_campaign(fixtures):
    rows = _placed(fixtures / "facebook_ads_insights.singer")
    assert _by_metric(rows, "23851000000000001", "2025-03-03") == {
        "spend": 310.0,
        "impressions": 15500,
        "clicks": 241,
        "leads": 10,
        "conversions": 2,
    }
    assert {r["period_end"] for r in rows if r["period_start"].startswith("2025-03-04")} == {
        "2025-03-05T00:00:00+00:00"
    }


def test_google_ads_cost_micros_become_spend(fixtures):
    rows = _placed(fixtures / "google_ads_campaign_performance_report.singer")
    assert _by_metric(rows, "17000000001", "2025-03-03") == {
        "spend": pytest.approx(125.43),
        "clicks": 320,
        "conversions": 12,
        "revenue": 4800,
    }


def test_linkedin_integer_campaign_and_string_cost(fixtures):
    rows = _placed(fixtures / "linkedin_ad_analytics_by_campaign.singer")
    assert _by_metric(rows, "987654321", "2025-03-04") == {
        "spend": 380.25,
        "impressions": 8700,
        "clicks": 88,
        "leads": 11,
        "conversions": 2,
    }


def test_the_same_record_gets_the_same_ids_and_ids_differ_per_metric_and_key(fixtures):
    first = _placed(fixtures / "facebook_ads_insights.singer")
    again = _placed(fixtures / "facebook_ads_insights.singer")
    assert [r["observation_id"] for r in first] == [r["observation_id"] for r in again]
    assert len({r["observation_id"] for r in first}) == len(first)


def test_readable_ids_when_every_part_is_id_safe():
    from datetime import UTC, datetime

    start, end = datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC)
    assert (
        observation_id("orders", ["c-1"], start, end, "revenue")
        == "tap:orders:c-1:20250303T000000-20250304T000000:revenue"
    )


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"date_start": "2025-03-03", "spend": 1}, "missing campaign id (campaign_id)"),
        ({"campaign_id": "1", "spend": 1}, "missing period start (date_start)"),
        (
            {"campaign_id": "1", "date_start": "soon", "spend": 1},
            "unreadable period start (date_start)",
        ),
        (
            {"campaign_id": "1", "date_start": "2025-03-03Z", "spend": 1},
            "unreadable period start (date_start)",
        ),
        (
            {"campaign_id": "1", "date_start": "2025-03-03", "date_stop": "2025-13-45", "spend": 1},
            "unreadable period end (date_stop)",
        ),
        (
            {"campaign_id": "a b", "date_start": "2025-03-03", "spend": 1},
            "campaign id 'a b' cannot be a truenorth campaign id",
        ),
    ],
)
def test_unplaceable_records_say_why(record, reason):
    with pytest.raises(Unplaceable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        place("ads_insights", MAPPING.for_stream("ads_insights"), record)


def test_a_bare_date_in_any_iso_form_is_the_same_whole_utc_day():
    def period(start: str, stop: str) -> set[tuple[str, str]]:
        record = {"campaign_id": "1", "date_start": start, "date_stop": stop, "spend": 1}
        placement = place("ads_insights", MAPPING.for_stream("ads_insights"), record)
        return {(r["period_start"], r["period_end"]) for r in placement.observations}

    assert period("20250303", "20250303") == period("2025-03-03", "2025-03-03")
    assert period("2025-W10-1", "2025-W10-1") == period("2025-03-03", "2025-03-03")
    ((start, end),) = period("2025-03-03", "2025-03-03")
    assert (start[:19], end[:19]) == ("2025-03-03T00:00:00", "2025-03-04T00:00:00")


def test_a_metric_that_is_not_a_number_is_a_problem_the_others_are_placed():
    record = {
        "campaign_id": "1",
        "date_start": "2025-03-03",
        "date_stop": "2025-03-03",
        "spend": "n/a",
        "clicks": 3,
    }
    placement = place("ads_insights", MAPPING.for_stream("ads_insights"), record)
    assert placement.problems == ["metric spend: 'n/a' is not a number"]
    assert {r["metric"] for r in placement.observations} == {"clicks", "leads", "conversions"}


def test_ids_do_not_depend_on_whether_the_sdk_parsed_the_key_dates():
    from datetime import UTC, datetime
    from decimal import Decimal

    mapping = MAPPING.for_stream("ad_analytics_by_campaign")
    raw = {
        "campaign_id": 7,
        "start_at": "2025-03-03T00:00:00Z",
        "end_at": "2025-03-03T00:00:00Z",
        "clicks": 1,
    }
    parsed = {**raw, "campaign_id": Decimal("7"), "start_at": datetime(2025, 3, 3, tzinfo=UTC)}
    keys = ["campaign_id", "start_at"]
    ids = [o["observation_id"] for o in place("s", mapping, raw, keys).observations]
    assert ids == [o["observation_id"] for o in place("s", mapping, parsed, keys).observations]
