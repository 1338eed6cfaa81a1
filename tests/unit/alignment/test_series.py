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
    entries = [series.add(1.0, end - 1, end, arrays) for end in (5, 3, 9)]
    assert list(series.newest_first(arrays)) == [entries[2], entries[0], entries[1]]
    assert series.sum_within(0, 6, arrays) == 2.0
    assert series.latest_within(0, 6, arrays) == (5, 4, 1.0)


def test_observations_of_one_period_share_an_entry() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    for _ in range(1_000):
        series.add(2.0, 10, 20, arrays)
    assert len(arrays) == 1 and series.total == 2_000.0
    assert series.sum_within(10, 20, arrays) == 2_000.0
    assert series.latest_within(0, 30, arrays) == (20, 10, 2.0)  # their mean


def test_a_period_whose_last_observation_moves_away_is_dropped_and_its_entry_reused() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "spend")
    for period in (10, 20, 30):
        series.add(float(period), period, period + 1, arrays)
    series.remove(20.0, 20, 21, arrays)
    assert series.total == 40.0 and len(arrays) == 2
    assert [arrays.starts[i] for i in series.newest_first(arrays)] == [30, 10]
    series.add(5.0, 40, 41, arrays)
    assert len(arrays.values) == 3  # the freed entry was reused
    with pytest.raises(ValueError, match="no entry for period"):
        series.remove(1.0, 20, 21, arrays)


def test_series_share_the_arrays_without_mixing_entries() -> None:
    arrays = ObservationArrays()
    leads, spend = arrays.new_series("c-a", "leads"), arrays.new_series("c-a", "spend")
    first = leads.add(1.0, 0, 1, arrays)
    paid = spend.add(50.0, 0, 1, arrays)
    second = leads.add(2.0, 1, 2, arrays)
    assert list(leads.newest_first(arrays)) == [second, first]
    assert list(spend.newest_first(arrays)) == [paid]
    assert arrays.series_of(paid) is spend and arrays.series_of(second) is leads


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
            series.add(float(number), low, high, arrays)
            members.append((float(number), low, high))
        elif action == "restate" and members:
            position = number % len(members)
            value, start, end = members[position]
            if number % 2:
                series.adjust(float(number) - value, start, end, arrays)
                members[position] = (float(number), start, end)
            else:
                series.remove(value, start, end, arrays)
                series.add(float(number), low, high, arrays)
                members[position] = (float(number), low, high)
        elif action == "remove" and members:
            value, start, end = members.pop(number % len(members))
            series.remove(value, start, end, arrays)
        elif action == "query":
            inside = [m for m in members if m[1] >= low and m[2] <= high]
            assert series.sum_within(low, high, arrays) == sum(m[0] for m in inside)
            latest = max(((m[2], m[1]) for m in inside), default=None)
            expected = None
            if latest is not None:
                same = [m[0] for m in inside if (m[2], m[1]) == latest]
                expected = (*latest, sum(same) / len(same))
            assert series.latest_within(low, high, arrays) == expected
        assert series.total == sum(m[0] for m in members)
        assert series.is_empty(arrays) == (not members)
        assert len(arrays) == len({(m[1], m[2]) for m in members})


@pytest.mark.parametrize("collide", [False, True])
def test_entries_are_found_through_resizes_frees_and_reuse(collide: bool) -> None:
    """Hundreds of periods over a few series, half of them emptied and reported again: every
    entry is found, also when every key hashes alike."""
    from unittest.mock import patch

    import truenorth.alignment.domain.series as series_module

    hashing = (lambda key: 0) if collide else hash
    with patch.object(series_module, "_hash", hashing):
        arrays = ObservationArrays()
        series = [arrays.new_series(f"c-{n}", "leads") for n in range(3)]
        model: dict[tuple[int, int, int], float] = {}
        for period in range(300):
            for number, member in enumerate(series):
                member.add(float(period), period, period + 1, arrays)
                model[(number, period, period + 1)] = float(period)
        for period in range(0, 300, 2):
            series[1].remove(float(period), period, period + 1, arrays)
            del model[(1, period, period + 1)]
        for period in range(0, 300, 4):
            series[1].add(1.0, period, period + 2, arrays)
            model[(1, period, period + 2)] = 1.0
        assert len(arrays) == len(model)
        for (number, start, end), value in model.items():
            index = arrays.find(number, start, end)
            assert index >= 0 and arrays.values[index] == value
        assert arrays.find(1, 0, 1) == -1 and arrays.find(7, 0, 1) == -1
        assert series[1].total == sum(v for (n, _, _), v in model.items() if n == 1)
