"""Compact per-period totals of metric observations.

The projection keeps no observation in memory (the store holds every one, see
`truenorth.alignment.domain.observations`): what it keeps is, per (campaign, metric) series, one
*period entry* per distinct (period_start, period_end) reported: the sum and the count of the
observations with exactly that period. Window queries ("observations whose period lies inside
[low, high]") stay exact, because every observation of an entry has the same period, and memory
grows with the distinct periods reported (days x campaigns x metrics), not with observations:
a million reports about a thousand campaign-days cost a thousand entries.

An entry lives in a few flat arrays (sum, count, period bounds, series, the next entry of the
series): 36 bytes, no Python object. The entries of a series form a linked list through the
arrays, latest period end first (ties: later start first), so that a window query stops at the
first entry that ends before the window.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator


class ObservationArrays:
    """Columns of every period entry, addressed by an integer index, and the aggregates of
    every series, addressed by its number."""

    __slots__ = (
        "counts",
        "ends",
        "free",
        "previous",
        "series",
        "series_first_starts",
        "series_last_ends",
        "series_latest",
        "series_numbers",
        "starts",
        "values",
    )

    def __init__(self) -> None:
        self.values = array("d")
        """Sum of the values of the entry's observations."""
        self.counts = array("I")
        """How many observations the entry holds (0: a freed entry)."""
        self.starts = array("q")
        self.ends = array("q")
        self.series_numbers = array("I")
        """The number of each entry's series."""
        self.previous = array("I")
        """index + 1 of the next entry of its series, earlier in period order (0: none)."""
        self.free: list[int] = []
        """Entries whose last observation moved to another period, for reuse."""
        self.series: list[Series] = []
        """Every series, by number."""
        self.series_latest = array("I")
        """index + 1 of the series' latest entry (0: empty), where its links start."""
        self.series_first_starts = array("q")
        self.series_last_ends = array("q")

    def __len__(self) -> int:
        """Entries in use."""
        return len(self.values) - len(self.free)

    def new_series(self, campaign_id: str, metric: str) -> Series:
        series = Series(campaign_id, metric, len(self.series))
        self.series.append(series)
        self.series_latest.append(0)
        self.series_first_starts.append(0)
        self.series_last_ends.append(0)
        return series

    def series_of(self, index: int) -> Series:
        return self.series[self.series_numbers[index]]

    def _new_entry(self, series: Series, start: int, end: int) -> int:
        if self.free:
            index = self.free.pop()
            self.values[index] = 0.0
            self.counts[index] = 0
            self.starts[index] = start
            self.ends[index] = end
            self.series_numbers[index] = series.number
            self.previous[index] = 0
            return index
        self.values.append(0.0)
        self.counts.append(0)
        self.starts.append(start)
        self.ends.append(end)
        self.series_numbers.append(series.number)
        self.previous.append(0)
        return len(self.values) - 1


class Series:
    """The period entries of one metric of one campaign (created by `ObservationArrays`). The
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
        """Indices of its entries, latest period end first (ties: later start first)."""
        previous = arrays.previous
        link = arrays.series_latest[self.number]
        while link:
            yield link - 1
            link = previous[link - 1]

    # -- changes -----------------------------------------------------------------------------

    def add(self, value: float, start: int, end: int, arrays: ObservationArrays) -> int:
        """Count one observation of this period; returns its entry."""
        index = self._entry(start, end, arrays)
        arrays.values[index] += value
        arrays.counts[index] += 1
        self.total += value
        return index

    def adjust(self, delta: float, start: int, end: int, arrays: ObservationArrays) -> None:
        """One observation of this period changed its value by `delta` (a restatement). A
        restated sum can differ from a fresh one in the last bits; the store keeps the values
        themselves, which is what the digest covers."""
        index = self._find(start, end, arrays)
        arrays.values[index] += delta
        self.total += delta

    def remove(self, value: float, start: int, end: int, arrays: ObservationArrays) -> None:
        """Stop counting one observation of this period (it moved to another period or
        series); the entry goes once it holds none."""
        index = self._find(start, end, arrays)
        arrays.counts[index] -= 1
        if arrays.counts[index]:
            arrays.values[index] -= value
            self.total -= value
            return
        self._unlink(index, arrays)
        arrays.values[index] = 0.0
        arrays.free.append(index)
        self.total = sum(map(arrays.values.__getitem__, self.newest_first(arrays)))
        number, members = self.number, list(self.newest_first(arrays))
        if members:
            arrays.series_first_starts[number] = min(map(arrays.starts.__getitem__, members))
            arrays.series_last_ends[number] = arrays.ends[members[0]]

    def _find(self, start: int, end: int, arrays: ObservationArrays) -> int:
        previous, starts, ends = arrays.previous, arrays.starts, arrays.ends
        link = arrays.series_latest[self.number]
        while link:
            index = link - 1
            if ends[index] < end:
                break
            if ends[index] == end and starts[index] == start:
                return index
            link = previous[index]
        raise ValueError(f"no entry for period [{start}, {end}] in this series")

    def _entry(self, start: int, end: int, arrays: ObservationArrays) -> int:
        """The entry of this period, linked in period order when new. Reports mostly come in
        period order, so a new period is usually found at the head of the links at once."""
        number = self.number
        previous, starts, ends = arrays.previous, arrays.starts, arrays.ends
        after = -1  # the entry the new one is linked behind (-1: it becomes the latest)
        link = arrays.series_latest[number]
        key = (end, start)
        while link:
            index = link - 1
            here = (ends[index], starts[index])
            if here == key:
                return index
            if here < key:
                break
            after = index
            link = previous[index]
        index = arrays._new_entry(self, start, end)
        arrays.previous[index] = link
        if after < 0:
            if not arrays.series_latest[number]:
                arrays.series_first_starts[number] = start
            arrays.series_latest[number] = index + 1
            arrays.series_last_ends[number] = end
        else:
            arrays.previous[after] = index + 1
        if start < arrays.series_first_starts[number]:
            arrays.series_first_starts[number] = start
        return index

    def _unlink(self, index: int, arrays: ObservationArrays) -> None:
        previous, latest = arrays.previous, arrays.series_latest
        link, before = latest[self.number], -1
        while link:
            member = link - 1
            if member == index:
                if before < 0:
                    latest[self.number] = previous[member]
                else:
                    previous[before] = previous[member]
                return
            before, link = member, previous[member]
        raise ValueError(f"entry {index} is not in this series")

    # -- reads -------------------------------------------------------------------------------

    def sum_within(self, low: int, high: int, arrays: ObservationArrays) -> float:
        """Sum of the values of observations whose period lies inside [low, high]."""
        number = self.number
        link = arrays.series_latest[number]
        first_start, last_end = arrays.series_first_starts[number], arrays.series_last_ends[number]
        if not link or first_start > high or last_end < low:
            return 0.0
        if low <= first_start and last_end <= high:
            return self.total
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
        """(period_end, period_start, value) of the most recent period inside [low, high]
        (ties on period end go to the later start). Observations reporting exactly the same
        period count as their mean: a level metric reported twice for one day (two sources)
        is one level, and a mean survives restatements where a maximum would need the
        others' values back."""
        number = self.number
        link = arrays.series_latest[number]
        if not link or arrays.series_first_starts[number] > high:
            return None
        if arrays.series_last_ends[number] < low:
            return None
        ends, starts, previous = arrays.ends, arrays.starts, arrays.previous
        while link:
            index = link - 1
            end = ends[index]
            if end < low:
                return None
            if end <= high and starts[index] >= low:
                return end, starts[index], arrays.values[index] / arrays.counts[index]
            link = previous[index]
        return None
