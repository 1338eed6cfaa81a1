"""Series: members linked through the observation arrays answer like a plain list of them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.alignment.domain.series import ObservationArrays, Series


def observe(arrays: ObservationArrays, series: Series, value: float, start: int, end: int) -> int:
    return arrays.append(value, start, end, 0, series)


def test_members_come_newest_first_and_in_period_order_once_sorted() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    for end in (5, 3, 9):
        observe(arrays, series, 1.0, end - 1, end)
    assert list(series.newest_first(arrays)) == [2, 1, 0]
    assert series.sum_within(0, 6, arrays) == 2.0  # sorts the links by period end
    assert list(series.newest_first(arrays)) == [2, 0, 1]
    assert series.latest_within(0, 6, arrays) == (5, 4, 1.0)


def test_removing_members_anywhere_keeps_the_others_and_the_aggregates() -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "spend")
    first, middle, last = (observe(arrays, series, float(v), v, v + 1) for v in (10, 20, 30))
    series.remove(middle, arrays)
    assert list(series.newest_first(arrays)) == [last, first] and series.total == 40.0
    series.remove(last, arrays)
    assert list(series.newest_first(arrays)) == [first] and series.total == 10.0
    assert series.sum_within(0, 100, arrays) == 10.0
    series.remove(first, arrays)
    assert series.is_empty(arrays) and series.total == 0.0
    assert series.sum_within(0, 100, arrays) == 0.0 and series.latest_within(0, 100, arrays) is None
    with pytest.raises(ValueError, match="not in this series"):
        series.remove(first, arrays)


def test_series_share_the_arrays_without_mixing_members() -> None:
    arrays = ObservationArrays()
    leads, spend = arrays.new_series("c-a", "leads"), arrays.new_series("c-a", "spend")
    observe(arrays, leads, 1.0, 0, 1)
    observe(arrays, spend, 50.0, 0, 1)
    observe(arrays, leads, 2.0, 1, 2)
    assert list(leads.newest_first(arrays)) == [2, 0]
    assert list(spend.newest_first(arrays)) == [1]
    assert arrays.series_of(1) is spend and arrays.series_of(2) is leads


_period = st.tuples(st.integers(0, 30), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(-5, 50), _period),
            st.tuples(st.just("remove"), st.integers(0, 1000), st.just((0, 0))),
            st.tuples(st.just("query"), st.integers(0, 0), _period),
        ),
        max_size=60,
    )
)
def test_answers_like_a_list_of_its_members(steps: list[tuple[str, int, tuple[int, int]]]) -> None:
    arrays = ObservationArrays()
    series = arrays.new_series("c-a", "leads")
    members: list[int] = []
    for action, number, (low, high) in steps:
        if action == "add":
            members.append(observe(arrays, series, float(number), low, high))
        elif action == "remove" and members:
            index = members.pop(number % len(members))
            series.remove(index, arrays)
        elif action == "query":
            inside = [i for i in members if arrays.starts[i] >= low and arrays.ends[i] <= high]
            assert series.sum_within(low, high, arrays) == sum(arrays.values[i] for i in inside)
            expected = max(
                ((arrays.ends[i], arrays.starts[i], arrays.values[i]) for i in inside),
                default=None,
            )
            assert series.latest_within(low, high, arrays) == expected
        assert sorted(series.newest_first(arrays)) == sorted(members)
        assert series.total == sum(arrays.values[i] for i in members)
        assert series.is_empty(arrays) == (not members)
