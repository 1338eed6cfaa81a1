"""Series: per-period entries linked through the arrays answer like a plain list of the
observations they count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.alignment.domain.series import ObservationArrays


def test_entries_are_linked_latest_period_first_whatever_the_arrival_order() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    entries = [arrays.add(series, 1.0, end - 1, end) for end in (5, 3, 9)]
    assert list(arrays.newest_first(series)) == [entries[2], entries[0], entries[1]]
    assert arrays.sum_within(series, 0, 6) == 2.0
    assert arrays.latest_within(series, 0, 6) == (5, 4, 1.0)


def test_observations_of_one_period_share_an_entry() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    for _ in range(1_000):
        arrays.add(series, 2.0, 10, 20)
    assert len(arrays) == 1 and arrays.total(series) == 2_000.0
    assert arrays.sum_within(series, 10, 20) == 2_000.0
    assert arrays.latest_within(series, 0, 30) == (20, 10, 2.0)  # their mean


def test_a_period_whose_last_observation_moves_away_is_dropped_and_its_entry_reused() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "spend")
    for period in (10, 20, 30):
        arrays.add(series, float(period), period, period + 1)
    arrays.remove(series, 20.0, 20, 21)
    assert arrays.total(series) == 40.0 and len(arrays) == 2
    assert [arrays.start_of(i) for i in arrays.newest_first(series)] == [30, 10]
    arrays.add(series, 5.0, 40, 41)
    assert len(arrays.values) == 3  # the freed entry was reused
    with pytest.raises(ValueError, match="no entry for period"):
        arrays.remove(series, 1.0, 20, 21)


def test_series_share_the_arrays_without_mixing_entries() -> None:
    arrays = ObservationArrays()
    leads, spend = arrays.new_series("c-a", "leads"), arrays.new_series("c-a", "spend")
    first = arrays.add(leads, 1.0, 0, 1)
    paid = arrays.add(spend, 50.0, 0, 1)
    second = arrays.add(leads, 2.0, 1, 2)
    assert list(arrays.newest_first(leads)) == [second, first]
    assert list(arrays.newest_first(spend)) == [paid]
    assert arrays.series_of(paid) == spend and arrays.series_of(second) == leads


_period = st.tuples(st.integers(0, 30), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))


@settings(max_examples=120, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(-5, 50), _period),
            st.tuples(st.just("restate"), st.integers(0, 1000), _period),
            st.tuples(st.just("remove"), st.integers(0, 1000), st.just((0, 0))),
            st.tuples(st.just("query"), st.integers(0, 0), _period),
        ),
        max_size=60,
    )
)
def test_answers_like_a_list_of_its_observations(
    steps: list[tuple[str, int, tuple[int, int]]],
) -> None:
    """Observations added, restated in place, moved to another period, removed: sums and the
    latest period inside any window are those of the plain list (values are integers, so the
    sums are exact)."""
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    members: list[tuple[float, int, int]] = []
    for action, number, (low, high) in steps:
        if action == "add":
            arrays.add(series, float(number), low, high)
            members.append((float(number), low, high))
        elif action == "restate" and members:
            position = number % len(members)
            value, start, end = members[position]
            if number % 2:
                arrays.adjust(series, float(number) - value, start, end)
                members[position] = (float(number), start, end)
            else:
                arrays.remove(series, value, start, end)
                arrays.add(series, float(number), low, high)
                members[position] = (float(number), low, high)
        elif action == "remove" and members:
            value, start, end = members.pop(number % len(members))
            arrays.remove(series, value, start, end)
        elif action == "query":
            inside = [m for m in members if m[1] >= low and m[2] <= high]
            assert arrays.sum_within(series, low, high) == sum(m[0] for m in inside)
            latest = max(((m[2], m[1]) for m in inside), default=None)
            expected = None
            if latest is not None:
                same = [m[0] for m in inside if (m[2], m[1]) == latest]
                expected = (*latest, sum(same) / len(same))
            assert arrays.latest_within(series, low, high) == expected
        assert arrays.total(series) == sum(m[0] for m in members)
        assert arrays.is_empty(series) == (not members)
        assert len(arrays) == len({(m[1], m[2]) for m in members})


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("dict_periods", [8, 4_096])
def test_entries_are_found_through_resizes_frees_and_reuse(
    collide: bool, dict_periods: int
) -> None:
    """Hundreds of periods over a few series, half of them emptied and reported again: every
    entry is found, also when every key hashes alike, and whether its period is found through
    the dict or the period table."""
    from unittest.mock import patch

    import truenorth.alignment.domain.series as series_module

    hashing = (lambda key: 0) if collide else hash
    with (
        patch.object(series_module, "_hash", hashing),
        patch.object(series_module, "_DICT_PERIODS", dict_periods),
    ):
        arrays = ObservationArrays()
        series = [arrays.new_series(f"c-{n}", "leads") for n in range(3)]
        model: dict[tuple[int, int, int], float] = {}
        for period in range(300):
            for number, member in enumerate(series):
                arrays.add(member, float(period), period, period + 1)
                model[(number, period, period + 1)] = float(period)
        for period in range(0, 300, 2):
            arrays.remove(series[1], float(period), period, period + 1)
            del model[(1, period, period + 1)]
        for period in range(0, 300, 4):
            arrays.add(series[1], 1.0, period, period + 2)
            model[(1, period, period + 2)] = 1.0
        assert len(arrays) == len(model)
        for (number, start, end), value in model.items():
            index = arrays.find(number, start, end)
            assert index >= 0 and arrays.values[index] == value
        assert arrays.find(1, 0, 1) == -1 and arrays.find(7, 0, 1) == -1
        assert arrays.find(0, 5, 7) == -1 and arrays.period_count == 375
        assert arrays.total(series[1]) == sum(v for (n, _, _), v in model.items() if n == 1)


def test_a_campaign_finds_each_of_its_metrics_series_and_only_its_own() -> None:
    from truenorth.alignment.domain.entities import CampaignState

    arrays = ObservationArrays()
    first, second = CampaignState("c-a"), CampaignState("c-b")
    leads = first.ensure_series("leads", arrays)
    other_leads = second.ensure_series("leads", arrays)
    spend = first.ensure_series("spend", arrays)
    assert first.ensure_series("leads", arrays) == leads != other_leads
    assert sorted(first.all_series(arrays)) == sorted([leads, spend])
    assert list(second.all_series(arrays)) == [other_leads]
    assert first.spend_series(arrays) == spend and second.spend_series(arrays) is None
    assert first.series_of("signups", arrays) is None
    assert arrays.series_campaigns[spend] == "c-a" and arrays.series_metrics[spend] == "spend"


def test_campaigns_reporting_the_same_days_share_the_periods() -> None:
    arrays = ObservationArrays()
    series = [arrays.new_series(f"c-{n}", metric) for n in range(50) for metric in ("a", "b")]
    for day in range(7):
        for member in series:
            arrays.add(member, 1.0, day * 10, day * 10 + 9)
    assert len(arrays) == 700 and arrays.period_count == 7
    assert arrays.sum_within(series[3], 10, 39) == 3.0
    assert arrays.find(series[3], 0, 8) == -1  # an unknown period finds nothing, adds nothing
    assert arrays.period_count == 7
