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

A series is a number too, its aggregates columns of the same arrays (~48 bytes a series): an
object per series (with its total as a float object and the campaign's tuple of them) cost
~170 bytes, 34 MB at 100 000 campaigns reporting two metrics. A campaign's series are linked
through `series_next` from the campaign's `first_series`.
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
    """Columns of every period entry, addressed by an integer index, and of every series,
    addressed by its number; the operations on a series take its number."""

    __slots__ = (
        "_deleted",
        "_mask",
        "_table",
        "_used",
        "counts",
        "ends",
        "free",
        "previous",
        "series_campaigns",
        "series_first_starts",
        "series_last_ends",
        "series_latest",
        "series_metrics",
        "series_next",
        "series_numbers",
        "series_totals",
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
        self.series_campaigns: list[str] = []
        self.series_metrics: list[str] = []
        """Interned: every series of a metric shares one string."""
        self.series_totals = array("d")
        """Sum of every entry of the series."""
        self.series_latest = array("I")
        """index + 1 of the series' latest entry (0: empty), where its links start."""
        self.series_first_starts = array("q")
        self.series_last_ends = array("q")
        self.series_next = array("I")
        """number + 1 of the campaign's next series (0: none)."""
        self._table = array("I", [_EMPTY]) * _MIN_SLOTS
        """Entry number + 1 per slot; _EMPTY, or _DELETED where an entry was freed."""
        self._mask = _MIN_SLOTS - 1
        self._used = 0
        self._deleted = 0

    def __len__(self) -> int:
        """Entries in use."""
        return len(self.values) - len(self.free)

    @property
    def series_count(self) -> int:
        return len(self.series_totals)

    def new_series(self, campaign_id: str, metric: str, next_link: int = 0) -> int:
        """A new empty series; `next_link` is what its `series_next` starts as (the campaign's
        series it goes in front of, number + 1)."""
        self.series_campaigns.append(campaign_id)
        self.series_metrics.append(metric)
        self.series_totals.append(0.0)
        self.series_latest.append(0)
        self.series_first_starts.append(0)
        self.series_last_ends.append(0)
        self.series_next.append(next_link)
        return len(self.series_totals) - 1

    def series_of(self, index: int) -> int:
        """The series an entry belongs to."""
        return self.series_numbers[index]

    def total(self, series: int) -> float:
        return self.series_totals[series]

    def is_empty(self, series: int) -> bool:
        return not self.series_latest[series]

    def newest_first(self, series: int) -> Iterator[int]:
        """Indices of its entries, latest period end first (ties: later start first)."""
        previous = self.previous
        link = self.series_latest[series]
        while link:
            yield link - 1
            link = previous[link - 1]

    # -- the entry table ---------------------------------------------------------------------

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

    def _new_entry(self, series: int, start: int, end: int) -> int:
        if self.free:
            index = self.free.pop()
            self.values[index] = 0.0
            self.counts[index] = 0
            self.starts[index] = start
            self.ends[index] = end
            self.series_numbers[index] = series
            self.previous[index] = 0
            return index
        self.values.append(0.0)
        self.counts.append(0)
        self.starts.append(start)
        self.ends.append(end)
        self.series_numbers.append(series)
        self.previous.append(0)
        return len(self.values) - 1

    # -- changes -----------------------------------------------------------------------------

    def add(self, series: int, value: float, start: int, end: int) -> int:
        """Count one observation of this period in the series; returns its entry."""
        index = self._entry(series, start, end)
        self.values[index] += value
        self.counts[index] += 1
        self.series_totals[series] += value
        return index

    def add_unordered(self, series: int, value: float, start: int, end: int) -> None:
        """`add` for loading many observations at once: a new period is linked at the head
        whatever its order (sorted insertion would walk the series for each); `relink`
        must follow before the series is read or changed otherwise."""
        index = self.find(series, start, end)
        if index < 0:
            index = self._new_entry(series, start, end)
            self._place(index)
            self.previous[index] = self.series_latest[series]
            self.series_latest[series] = index + 1
        self.values[index] += value
        self.counts[index] += 1
        self.series_totals[series] += value

    def relink(self, series: int) -> None:
        """Link the entries in period order again and recompute the bounds (after
        `add_unordered`)."""
        members = list(self.newest_first(series))
        if not members:
            return
        starts, ends, previous = self.starts, self.ends, self.previous
        members.sort(key=lambda i: (ends[i], starts[i]), reverse=True)
        link = 0
        for index in reversed(members):
            previous[index] = link
            link = index + 1
        self.series_latest[series] = link
        self._set_bounds(series, members)

    def relink_all(self) -> None:
        for series in range(self.series_count):
            self.relink(series)

    def adjust(self, series: int, delta: float, start: int, end: int) -> None:
        """One observation of this period changed its value by `delta` (a restatement). A
        restated sum can differ from a fresh one in the last bits; the store keeps the values
        themselves, which is what the digest covers."""
        index = self._find(series, start, end)
        self.values[index] += delta
        self.series_totals[series] += delta

    def remove(self, series: int, value: float, start: int, end: int) -> None:
        """Stop counting one observation of this period (it moved to another period or
        series); the entry goes once it holds none."""
        index = self._find(series, start, end)
        self.counts[index] -= 1
        if self.counts[index]:
            self.values[index] -= value
            self.series_totals[series] -= value
            return
        self._unlink(series, index)
        self._unplace(index)
        self.values[index] = 0.0
        self.free.append(index)
        members = list(self.newest_first(series))
        self.series_totals[series] = sum(map(self.values.__getitem__, members))
        self._set_bounds(series, members)

    def _set_bounds(self, series: int, members: list[int]) -> None:
        """Earliest start and latest end from the entries, given latest first."""
        if members:
            self.series_first_starts[series] = min(map(self.starts.__getitem__, members))
            self.series_last_ends[series] = self.ends[members[0]]

    def _find(self, series: int, start: int, end: int) -> int:
        index = self.find(series, start, end)
        if index < 0:
            raise ValueError(f"no entry for period [{start}, {end}] in this series")
        return index

    def _entry(self, series: int, start: int, end: int) -> int:
        """The entry of this period, linked in period order when new. Reports mostly come in
        period order, so a new period is usually found at the head of the links at once."""
        index = self.find(series, start, end)
        if index >= 0:
            return index
        previous, starts, ends = self.previous, self.starts, self.ends
        after = -1  # the entry the new one is linked behind (-1: it becomes the latest)
        link = self.series_latest[series]
        key = (end, start)
        while link:
            here = link - 1
            if (ends[here], starts[here]) < key:
                break
            after = here
            link = previous[here]
        index = self._new_entry(series, start, end)
        self._place(index)
        previous[index] = link
        if after < 0:
            if not self.series_latest[series]:
                self.series_first_starts[series] = start
            self.series_latest[series] = index + 1
            self.series_last_ends[series] = end
        else:
            previous[after] = index + 1
        if start < self.series_first_starts[series]:
            self.series_first_starts[series] = start
        return index

    def _unlink(self, series: int, index: int) -> None:
        previous, latest = self.previous, self.series_latest
        link, before = latest[series], -1
        while link:
            member = link - 1
            if member == index:
                if before < 0:
                    latest[series] = previous[member]
                else:
                    previous[before] = previous[member]
                return
            before, link = member, previous[member]
        raise ValueError(f"entry {index} is not in this series")

    # -- reads -------------------------------------------------------------------------------

    def sum_within(self, series: int, low: int, high: int) -> float:
        """Sum of the values of the series' observations whose period lies inside
        [low, high]."""
        link = self.series_latest[series]
        first_start, last_end = self.series_first_starts[series], self.series_last_ends[series]
        if not link or first_start > high or last_end < low:
            return 0.0
        if low <= first_start and last_end <= high:
            return self.series_totals[series]
        ends, starts, values, previous = self.ends, self.starts, self.values, self.previous
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

    def latest_within(self, series: int, low: int, high: int) -> tuple[int, int, float] | None:
        """(period_end, period_start, value) of the series' most recent period inside
        [low, high] (ties on period end go to the later start). Observations reporting
        exactly the same period count as their mean: a level metric reported twice for one
        day (two sources) is one level, and a mean survives restatements where a maximum
        would need the others' values back."""
        link = self.series_latest[series]
        if not link or self.series_first_starts[series] > high:
            return None
        if self.series_last_ends[series] < low:
            return None
        ends, starts, previous = self.ends, self.starts, self.previous
        while link:
            index = link - 1
            end = ends[index]
            if end < low:
                return None
            if end <= high and starts[index] >= low:
                return end, starts[index], self.values[index] / self.counts[index]
            link = previous[index]
        return None
