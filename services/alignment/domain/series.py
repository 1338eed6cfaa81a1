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
first entry that ends before the window. An open-addressing table of entry numbers (~6 bytes an
entry) finds the entry of a (series, period) at once: walking a series for it cost ~6 µs an
observation when reports arrive out of period order.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

_hash = hash
"""Module-level so that tests can force collisions."""
_EMPTY = 0
_DELETED = 0xFFFF_FFFF
_MIN_SLOTS = 8
_PERTURB_SHIFT = 5
_HASH_MASK = 0xFFFF_FFFF_FFFF_FFFF


class ObservationArrays:
    """Columns of every period entry, addressed by an integer index, and the aggregates of
    every series, addressed by its number."""

    __slots__ = (
        "_deleted",
        "_mask",
        "_table",
        "_used",
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
        self._table = array("I", [_EMPTY]) * _MIN_SLOTS
        """Entry number + 1 per slot; _EMPTY, or _DELETED where an entry was freed."""
        self._mask = _MIN_SLOTS - 1
        self._used = 0
        self._deleted = 0

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

    def find(self, number: int, start: int, end: int) -> int:
        """The entry of series `number` for the period [start, end], -1 if there is none."""
        table, mask = self._table, self._mask
        starts, ends, numbers = self.starts, self.ends, self.series_numbers
        slot = perturb = _hash((number, start, end)) & _HASH_MASK
        slot &= mask
        while entry := table[slot]:
            if entry != _DELETED:
                index = entry - 1
                if ends[index] == end and starts[index] == start and numbers[index] == number:
                    return index
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        return -1

    def _slot_of(self, index: int) -> int:
        table, mask = self._table, self._mask
        key = (self.series_numbers[index], self.starts[index], self.ends[index])
        slot = perturb = _hash(key) & _HASH_MASK
        slot &= mask
        while table[slot] != index + 1:
            if table[slot] == _EMPTY:
                raise KeyError(f"entry {index} is not in the table")
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        return slot

    def _place(self, index: int) -> None:
        """Put a new entry (one `find` does not know) in the table."""
        table, mask = self._table, self._mask
        key = (self.series_numbers[index], self.starts[index], self.ends[index])
        slot = perturb = _hash(key) & _HASH_MASK
        slot &= mask
        while table[slot] not in (_EMPTY, _DELETED):
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        if table[slot] == _DELETED:
            self._deleted -= 1
        table[slot] = index + 1
        self._used += 1
        if 3 * (self._used + self._deleted) > 2 * len(table):
            self._resize()

    def _unplace(self, index: int) -> None:
        self._table[self._slot_of(index)] = _DELETED
        self._used -= 1
        self._deleted += 1

    def _resize(self) -> None:
        size = _MIN_SLOTS
        while 3 * self._used >= size:
            size *= 2
        self._table = array("I", [_EMPTY]) * size
        self._mask, self._used, self._deleted = size - 1, 0, 0
        free = set(self.free)  # an entry being added has no count yet, but is not free
        for index in range(len(self.values)):
            if index not in free:
                self._place(index)

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

    def add_unordered(self, value: float, start: int, end: int, arrays: ObservationArrays) -> None:
        """`add` for loading many observations at once: a new period is linked at the head
        whatever its order (sorted insertion would walk the series for each); `relink`
        must follow before the series is read or changed otherwise."""
        index = arrays.find(self.number, start, end)
        if index < 0:
            index = arrays._new_entry(self, start, end)
            arrays._place(index)
            arrays.previous[index] = arrays.series_latest[self.number]
            arrays.series_latest[self.number] = index + 1
        arrays.values[index] += value
        arrays.counts[index] += 1
        self.total += value

    def relink(self, arrays: ObservationArrays) -> None:
        """Link the entries in period order again and recompute the bounds (after
        `add_unordered`)."""
        members = list(self.newest_first(arrays))
        if not members:
            return
        starts, ends, previous = arrays.starts, arrays.ends, arrays.previous
        members.sort(key=lambda i: (ends[i], starts[i]), reverse=True)
        link = 0
        for index in reversed(members):
            previous[index] = link
            link = index + 1
        arrays.series_latest[self.number] = link
        self._set_bounds(members, arrays)

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
        arrays._unplace(index)
        arrays.values[index] = 0.0
        arrays.free.append(index)
        members = list(self.newest_first(arrays))
        self.total = sum(map(arrays.values.__getitem__, members))
        self._set_bounds(members, arrays)

    def _set_bounds(self, members: list[int], arrays: ObservationArrays) -> None:
        """Earliest start and latest end from the entries, given latest first."""
        if members:
            number = self.number
            arrays.series_first_starts[number] = min(map(arrays.starts.__getitem__, members))
            arrays.series_last_ends[number] = arrays.ends[members[0]]

    def _find(self, start: int, end: int, arrays: ObservationArrays) -> int:
        index = arrays.find(self.number, start, end)
        if index < 0:
            raise ValueError(f"no entry for period [{start}, {end}] in this series")
        return index

    def _entry(self, start: int, end: int, arrays: ObservationArrays) -> int:
        """The entry of this period, linked in period order when new. Reports mostly come in
        period order, so a new period is usually found at the head of the links at once."""
        number = self.number
        index = arrays.find(number, start, end)
        if index >= 0:
            return index
        previous, starts, ends = arrays.previous, arrays.starts, arrays.ends
        after = -1  # the entry the new one is linked behind (-1: it becomes the latest)
        link = arrays.series_latest[number]
        key = (end, start)
        while link:
            here = link - 1
            if (ends[here], starts[here]) < key:
                break
            after = here
            link = previous[here]
        index = arrays._new_entry(self, start, end)
        arrays._place(index)
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
