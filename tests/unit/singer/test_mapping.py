"""The mapping file: presets, overrides, and errors that name the line."""

import pytest

from truenorth.singer.mapping import MappingInvalid, load_mapping


def test_preset_streams_are_mapped_without_a_file():
    mapping = load_mapping(None)
    assert mapping.for_stream("ads_insights").source == "facebook-ads"
    assert mapping.for_stream("campaign_performance_report").metrics["spend"].scale == 0.000001
    assert mapping.for_stream("ad_analytics_by_campaign").metrics["leads"].path == "one_click_leads"
    assert mapping.for_stream("users") is None


def test_a_stream_overrides_its_preset_key_by_key():
    mapping = load_mapping(
        """
streams:
  ads_insights:
    preset: facebook_ads_insights
    campaign_ids: {"23851000000000001": spring-webinar}
    metrics:
      leads: {actions: [lead, onsite_conversion.lead_grouped]}
      conversions: null
"""
    )
    stream = mapping.for_stream("ads_insights")
    assert stream.metrics["leads"].actions == ["lead", "onsite_conversion.lead_grouped"]
    assert "conversions" not in stream.metrics
    assert stream.metrics["spend"].path == "spend"  # kept from the preset
    assert stream.campaign_ids == {"23851000000000001": "spring-webinar"}


def _errors(text: str) -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(text, "mapping.yaml")
    return caught.value.render().splitlines()


def test_an_unknown_key_is_reported_with_its_line():
    assert _errors(
        """streams:
  orders:
    source: crm
    campaign_id: utm_campaign
    period: {start: day}
    metrics:
      revenue: {path: amount, sacle: 0.01}
"""
    ) == ["mapping.yaml:7: streams.orders.metrics.revenue.sacle: unknown key"]


def test_a_metric_name_error_prints_the_pattern_literally():
    (line,) = _errors(
        """streams:
  orders:
    source: crm
    campaign_id: utm_campaign
    period: {start: day}
    metrics:
      Revenue: {path: amount}
"""
    )
    assert line.startswith("mapping.yaml:7: streams.orders.metrics.Revenue")
    assert "^[a-z][a-z0-9_]*$" in line


def test_an_unknown_preset_names_the_presets_and_the_line():
    (line,) = _errors("streams:\n  ads_insights:\n    preset: facebook\n")
    assert line.startswith("mapping.yaml:3: streams.ads_insights.preset: unknown preset 'facebook'")
    assert "facebook_ads_insights" in line


def test_a_metric_needs_exactly_one_source():
    (line,) = _errors(
        "streams:\n  s:\n    source: x\n    campaign_id: c\n    period: {start: d}\n"
        "    metrics:\n      leads: {path: a, actions: [lead]}\n"
    )
    assert line == "mapping.yaml:7: streams.s.metrics.leads: give exactly one of path or actions"


def test_broken_yaml_and_duplicate_keys_name_their_line():
    assert _errors("streams:\n  s: [unclosed\n")[0].startswith(
        "mapping.yaml:3: (file): not valid YAML"
    )
    assert _errors("streams:\n  s: {}\n  s: {}\n") == [
        "mapping.yaml:3: streams.s: duplicate key (first at line 2)"
    ]


def test_each_kind_of_stream_says_what_it_lacks():
    (observations,) = _errors("streams:\n  s:\n    source: x\n    campaign_id: c\n")
    assert (
        observations == "mapping.yaml:2: streams.s: an observations stream needs period and metrics"
    )
    (campaigns,) = _errors(
        "streams:\n  c:\n    kind: campaigns\n    source: x\n    campaign_id: id\n"
    )
    assert campaigns == "mapping.yaml:2: streams.c: a campaigns stream needs launch"
