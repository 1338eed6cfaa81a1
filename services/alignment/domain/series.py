"""Compact storage of metric observations.

Every observation lives in a few flat arrays (value, period bounds, when it was recorded);
each (campaign, metric) pair owns a `Series` listing its observation indices plus the
aggregates that make window queries cheap (total, earliest start, latest end).
"""

from __future__ import annotations

import math
from array import array


class ObservationArrays:
    """Columns of every observation the projection holds, addressed by an integer index."""

    __slots__ = ("ends", "recorded", "series", "starts", "values")

    def __init__(self) -> None:
        self.values = array("d")
        self.starts = array("q")
        self.ends = array("q")
        self.recorded = array("q")
        self.series: list[Series] = []

    def __len__(self) -> int:
        return len(self.values)

    def append(self, value: float, start: int, end: int, recorded: int, series: Series) -> int:
        index = len(self.values)
        self.values.append(value)
        self.starts.append(start)
        self.ends.append(end)
        self.recorded.append(recorded)
        self.series.append(series)
        series.add_new(index, value, start, end, self.ends)
        return index


class Series:
    """The observations of one metric of one campaign."""

    __slots__ = ("campaign_id", "first_start", "last_end", "members", "metric", "ordered", "total")

    def __init__(self, campaign_id: str, metric: str) -> None:
        self.campaign_id = campaign_id
        self.metric = metric
        self.members: list[int] = []
        self.total = 0.0
        self.first_start = 0
        self.last_end = 0
        self.ordered = True
        """True while `members` is sorted by period end."""

    def add(self, index: int, arrays: ObservationArrays) -> None:
        start, end = arrays.starts[index], arrays.ends[index]
        if not self.members:
            self.first_start, self.last_end = start, end
        else:
            if arrays.ends[self.members[-1]] > end:
                self.ordered = False
            self.first_start = min(self.first_start, start)
            self.last_end = max(self.last_end, end)
        self.members.append(index)
        self.total += arrays.values[index]

    def add_new(self, index: int, value: float, start: int, end: int, ends: array[int]) -> None:
        """`add` of an index just appended with these figures (fewer array reads)."""
        members = self.members
        if not members:
            self.first_start, self.last_end = start, end
        else:
            if ends[members[-1]] > end:
                self.ordered = False
            if start < self.first_start:
                self.first_start = start
            if end > self.last_end:
                self.last_end = end
        members.append(index)
        self.total += value

    def remove(self, index: int, arrays: ObservationArrays) -> None:
        self.members.remove(index)
        self.recompute(arrays)

    def recompute(self, arrays: ObservationArrays) -> None:
        """Aggregates from scratch (after a restatement or a removal)."""
        members = self.members
        self.total = math.fsum(arrays.values[i] for i in members)
        if members:
            self.first_start = min(arrays.starts[i] for i in members)
            self.last_end = max(arrays.ends[i] for i in members)

    def _ensure_ordered(self, arrays: ObservationArrays) -> None:
        if not self.ordered:
            self.members.sort(key=arrays.ends.__getitem__)
            self.ordered = True

    def sum_within(self, low: int, high: int, arrays: ObservationArrays) -> float:
        """Sum of the values of observations whose period lies inside [low, high]."""
        if not self.members or self.first_start > high or self.last_end < low:
            return 0.0
        if low <= self.first_start and self.last_end <= high:
            return self.total
        self._ensure_ordered(arrays)
        ends, starts, values = arrays.ends, arrays.starts, arrays.values
        total = 0.0
        for index in reversed(self.members):
            end = ends[index]
            if end < low:
                break
            if end <= high and starts[index] >= low:
                total += values[index]
        return total

    def latest_within(
        self, low: int, high: int, arrays: ObservationArrays
    ) -> tuple[int, int, float] | None:
        """(period_end, period_start, value) of the most recent observation inside [low, high];
        ties on period end go to the later start, then the larger value (order-independent)."""
        if not self.members or self.first_start > high or self.last_end < low:
            return None
        self._ensure_ordered(arrays)
        ends, starts, values = arrays.ends, arrays.starts, arrays.values
        best: tuple[int, int, float] | None = None
        for index in reversed(self.members):
            end = ends[index]
            if best is not None and end < best[0]:
                break
            if end <= high and starts[index] >= low:
                candidate = (end, starts[index], values[index])
                if best is None or candidate > best:
                    best = candidate
        return best
