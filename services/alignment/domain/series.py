"""Compact storage of metric observations.

Every observation lives in a few flat arrays (value, period bounds, when it was recorded, its
series, the previous member of that series): 40 bytes each, no Python object. Each (campaign,
metric) pair owns a `Series`: its total, and a number under which the arrays keep the other
aggregates that make window queries cheap (earliest start, latest end) and its latest member.
The members form a linked list through the arrays, newest first, rather than a list or array
per series, which would cost ~80 bytes more than its members (most series are short).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator


class ObservationArrays:
    """Columns of every observation the projection holds, addressed by an integer index, and
    the aggregates of every series, addressed by its number."""

    __slots__ = (
        "ends",
        "previous",
        "recorded",
        "series",
        "series_first_starts",
        "series_last_ends",
        "series_latest",
        "series_numbers",
        "series_ordered",
        "starts",
        "values",
    )

    def __init__(self) -> None:
        self.values = array("d")
        self.starts = array("q")
        self.ends = array("q")
        self.recorded = array("q")
        self.series_numbers = array("I")
        """The number of each observation's series."""
        self.previous = array("I")
        """index + 1 of the member before it in its series (0: none): the series' links."""
        self.series: list[Series] = []
        """Every series, by number."""
        self.series_latest = array("I")
        """index + 1 of the series' latest member (0: empty), where its links start."""
        self.series_first_starts = array("q")
        self.series_last_ends = array("q")
        self.series_ordered = bytearray()
        """1 while the series' members are linked in period-end order."""

    def __len__(self) -> int:
        return len(self.values)

    def new_series(self, campaign_id: str, metric: str) -> Series:
        series = Series(campaign_id, metric, len(self.series))
        self.series.append(series)
        self.series_latest.append(0)
        self.series_first_starts.append(0)
        self.series_last_ends.append(0)
        self.series_ordered.append(1)
        return series

    def series_of(self, index: int) -> Series:
        return self.series[self.series_numbers[index]]

    def append(self, value: float, start: int, end: int, recorded: int, series: Series) -> int:
        index = len(self.values)
        self.values.append(value)
        self.starts.append(start)
        self.ends.append(end)
        self.recorded.append(recorded)
        self.series_numbers.append(series.number)
        self.previous.append(0)
        series.add(index, value, start, end, self)
        return index


class Series:
    """The observations of one metric of one campaign (created by `ObservationArrays`). The
    total stays a float object here: snapshots and memos share it instead of each boxing a
    copy."""

    __slots__ = ("campaign_id", "metric", "number", "total")

    def __init__(self, campaign_id: str, metric: str, number: int) -> None:
        self.campaign_id = campaign_id
        self.metric = metric
        self.number = number
        self.total = 0.0

    def is_empty(self, arrays: ObservationArrays) -> bool:
        return not arrays.series_latest[self.number]

    def newest_first(self, arrays: ObservationArrays) -> Iterator[int]:
        """Indices of its members, the latest added first (or the latest period end first
        once ordered)."""
        previous = arrays.previous
        link = arrays.series_latest[self.number]
        while link:
            yield link - 1
            link = previous[link - 1]

    def add(
        self, index: int, value: float, start: int, end: int, arrays: ObservationArrays
    ) -> None:
        """Take in the observation at `index`, which has these figures, as the latest."""
        number = self.number
        latest = arrays.series_latest[number]
        if not latest:
            arrays.series_first_starts[number] = start
            arrays.series_last_ends[number] = end
        else:
            if arrays.ends[latest - 1] > end:
                arrays.series_ordered[number] = 0
            if start < arrays.series_first_starts[number]:
                arrays.series_first_starts[number] = start
            if end > arrays.series_last_ends[number]:
                arrays.series_last_ends[number] = end
        arrays.previous[index] = latest
        arrays.series_latest[number] = index + 1
        self.total += value

    def remove(self, index: int, arrays: ObservationArrays) -> None:
        """Drop the observation at `index`; the aggregates are recomputed from the others."""
        others = self._unlink(index, arrays)
        self.total = math.fsum(map(arrays.values.__getitem__, others))
        if others:
            number = self.number
            arrays.series_first_starts[number] = min(map(arrays.starts.__getitem__, others))
            arrays.series_last_ends[number] = max(map(arrays.ends.__getitem__, others))

    def _unlink(self, index: int, arrays: ObservationArrays) -> list[int]:
        """Take `index` out of the links (one walk); the other members, newest first."""
        previous, latest = arrays.previous, arrays.series_latest
        others: list[int] = []
        found = False
        link = latest[self.number]
        while link:
            member = link - 1
            link = previous[member]
            if member != index:
                others.append(member)
            elif others:
                previous[others[-1]] = link
                found = True
            else:
                latest[self.number] = link
                found = True
        if not found:
            raise ValueError(f"observation {index} is not in this series")
        return others

    def _ensure_ordered(self, arrays: ObservationArrays) -> None:
        """Relink the members by period end (ties keep the order they were added in)."""
        if arrays.series_ordered[self.number]:
            return
        members = list(self.newest_first(arrays))
        members.reverse()
        members.sort(key=arrays.ends.__getitem__)
        link = 0
        for index in members:
            arrays.previous[index] = link
            link = index + 1
        arrays.series_latest[self.number] = link
        arrays.series_ordered[self.number] = 1

    def _bounds(self, low: int, high: int, arrays: ObservationArrays) -> tuple[int, int] | None:
        """(earliest start, latest end) of its members, None when none can lie inside [low,
        high]."""
        number = self.number
        first_start, last_end = arrays.series_first_starts[number], arrays.series_last_ends[number]
        if not arrays.series_latest[number] or first_start > high or last_end < low:
            return None
        return first_start, last_end

    def sum_within(self, low: int, high: int, arrays: ObservationArrays) -> float:
        """Sum of the values of observations whose period lies inside [low, high]."""
        # `_bounds` and `newest_first` inlined: a snapshot sums hundreds of thousands of series
        number = self.number
        link = arrays.series_latest[number]
        first_start, last_end = arrays.series_first_starts[number], arrays.series_last_ends[number]
        if not link or first_start > high or last_end < low:
            return 0.0
        if low <= first_start and last_end <= high:
            return self.total
        self._ensure_ordered(arrays)
        link = arrays.series_latest[number]  # the sort may have relinked
        ends, starts, values, previous = arrays.ends, arrays.starts, arrays.values, arrays.previous
        total = 0.0
        while link:
            index = link - 1
            end = ends[index]
            if end < low:
                break
            if end <= high and starts[index] >= low:
                total += values[index]
            link = previous[index]
        return total

    def latest_within(
        self, low: int, high: int, arrays: ObservationArrays
    ) -> tuple[int, int, float] | None:
        """(period_end, period_start, value) of the most recent observation inside [low, high];
        ties on period end go to the later start, then the larger value (order-independent)."""
        if self._bounds(low, high, arrays) is None:
            return None
        self._ensure_ordered(arrays)
        ends, starts, values = arrays.ends, arrays.starts, arrays.values
        best: tuple[int, int, float] | None = None
        for index in self.newest_first(arrays):
            end = ends[index]
            if best is not None and end < best[0]:
                break
            if end <= high and starts[index] >= low:
                candidate = (end, starts[index], values[index])
                if best is None or candidate > best:
                    best = candidate
        return best
