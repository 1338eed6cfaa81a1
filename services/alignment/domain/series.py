"""Compact per-period totals of metric observations.

The projection keeps no observation in memory (the store holds every one, see
`truenorth.alignment.domain.observations`): what it keeps is, per (campaign, metric) series, one
*period entry* per distinct (period_start, period_end) reported: the sum and the count of the
observations with exactly that period. Window queries ("observations whose period lies inside
[low, high]") stay exact, because every observation of an entry has the same period, and memory
grows with the distinct periods reported (days x campaigns x metrics), not with observations:
a million reports about a thousand campaign-days cost a thousand entries.

An entry lives in a few flat arrays (sum, count, period number, series, the next entry of the
series): 24 bytes, no Python object. A period is a number into a table of the distinct
(period_start, period_end) pairs reported (16 bytes and ~6 in its lookup table each, the
first 4 096 found through a dict instead, which is faster): a
hundred thousand campaigns reporting the same days share them, which saves 12 bytes an entry
(11 MB at 924 000 entries). A period stays in the table once seen, until the next load: where
every report has its own period, an entry costs ~46 bytes instead of 36.

The entries of a series form a linked list through the arrays, latest period end first (ties:
later start first), so that a window query stops at the first entry that ends before the
window. An open-addressing table of entry numbers (~6 bytes an entry) finds the entry of a
(series, period number) at once: walking a series for it cost ~6 µs an observation when
reports arrive out of period order.

A series is a number too, its aggregates columns of the same arrays (~48 bytes a series): an
object per series (with its total as a float object and the campaign's tuple of them) cost
~170 bytes, 34 MB at 100 000 campaigns reporting two metrics. A campaign's series are linked
through `series_next` from the campaign's `first_series`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import islice

_hash = hash
"""Module-level so that tests can force collisions."""
_EMPTY = 0
_DELETED = 0xFFFF_FFFF
_MIN_SLOTS = 8
_PERTURB_SHIFT = 5
_HASH_MASK = 0xFFFF_FFFF_FFFF_FFFF
_DICT_PERIODS = 4_096
"""How many periods are found through a dict: a few years of days and weeks, a few time zones."""


class _Slots:
    """An open-addressing table of numbers, found by a key its owner hashes: a slot holds
    number + 1, _EMPTY, or _DELETED where a number was removed."""

    __slots__ = ("deleted", "mask", "table", "used")

    def __init__(self) -> None:
        self.table = array("I", [_EMPTY]) * _MIN_SLOTS
        self.mask = _MIN_SLOTS - 1
        self.used = 0
        self.deleted = 0

    def find(self, key: Hashable, matches: Callable[[int], bool]) -> int:
        """The number stored under `key` (`matches` tells whether a number's key is it), -1
        if there is none."""
        table, mask = self.table, self.mask
        slot = perturb = _hash(key) & _HASH_MASK
        slot &= mask
        while entry := table[slot]:
            if entry != _DELETED and matches(entry - 1):
                return entry - 1
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        return -1

    def place(self, key: Hashable, number: int) -> bool:
        """Put a number its key does not find yet; True when the table is full enough that
        its owner should `rebuild` it."""
        table, mask = self.table, self.mask
        slot = perturb = _hash(key) & _HASH_MASK
        slot &= mask
        while table[slot] not in (_EMPTY, _DELETED):
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        if table[slot] == _DELETED:
            self.deleted -= 1
        table[slot] = number + 1
        self.used += 1
        return 3 * (self.used + self.deleted) > 2 * len(table)

    def remove(self, key: Hashable, number: int) -> None:
        table, mask = self.table, self.mask
        slot = perturb = _hash(key) & _HASH_MASK
        slot &= mask
        while table[slot] != number + 1:
            if table[slot] == _EMPTY:
                raise KeyError(f"{number} is not in the table")
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        table[slot] = _DELETED
        self.used -= 1
        self.deleted += 1

    def rebuild(self, members: Iterable[tuple[Hashable, int]], count: int) -> None:
        """A table sized for `count` numbers (at most half full), holding `members`."""
        size = _MIN_SLOTS
        while 2 * count >= size:
            size *= 2
        self.table = array("I", [_EMPTY]) * size
        self.mask, self.used, self.deleted = size - 1, 0, 0
        for key, number in members:
            self.place(key, number)


class ObservationArrays:
    """Columns of every period entry, addressed by an integer index, of every series,
    addressed by its number, and of every period reported; the operations on a series take
    its number."""

    __slots__ = (
        "_entry_slots",
        "_first_periods",
        "_period_slots",
        "counts",
        "free",
        "period_ends",
        "period_starts",
        "periods",
        "previous",
        "series_campaigns",
        "series_first_starts",
        "series_last_ends",
        "series_latest",
        "series_metrics",
        "series_next",
        "series_numbers",
        "series_totals",
        "values",
    )

    def __init__(self) -> None:
        self.values = array("d")
        """Sum of the values of the entry's observations."""
        self.counts = array("I")
        """How many observations the entry holds (0: a freed entry)."""
        self.periods = array("I")
        """The number of each entry's period."""
        self.series_numbers = array("I")
        """The number of each entry's series."""
        self.previous = array("I")
        """index + 1 of the next entry of its series, earlier in period order (0: none)."""
        self.free: list[int] = []
        """Entries whose last observation moved to another period, for reuse."""
        self._entry_slots = _Slots()
        """Finds an entry by (series, period number)."""
        self.period_starts = array("q")
        self.period_ends = array("q")
        self._first_periods: dict[tuple[int, int], int] = {}
        """The first periods' numbers by (start, end): a dict finds them ~5x faster than
        `_period_slots`, at ~200 bytes a period."""
        self._period_slots = _Slots()
        """Finds the number of a later period (past the dict's `_DICT_PERIODS`)."""
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

    def __len__(self) -> int:
        """Entries in use."""
        return len(self.values) - len(self.free)

    @property
    def series_count(self) -> int:
        return len(self.series_totals)

    @property
    def period_count(self) -> int:
        """Distinct periods in the table."""
        return len(self.period_starts)

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

    def start_of(self, index: int) -> int:
        return self.period_starts[self.periods[index]]

    def end_of(self, index: int) -> int:
        return self.period_ends[self.periods[index]]

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

    # -- the period and entry tables ---------------------------------------------------------

    def _find_period(self, start: int, end: int) -> int:
        """The number of the period [start, end], -1 if it was never reported."""
        number = self._first_periods.get((start, end))
        if number is not None:
            return number
        if len(self._first_periods) < _DICT_PERIODS:
            return -1  # every period so far is in the dict
        starts, ends = self.period_starts, self.period_ends
        return self._period_slots.find(
            (start, end), lambda n: starts[n] == start and ends[n] == end
        )

    def _period(self, start: int, end: int) -> int:
        """The number of the period [start, end], added when new."""
        number = self._find_period(start, end)
        if number >= 0:
            return number
        starts, ends = self.period_starts, self.period_ends
        number = len(starts)
        starts.append(start)
        ends.append(end)
        if number < _DICT_PERIODS:
            self._first_periods[(start, end)] = number
        elif self._period_slots.place((start, end), number):
            keys = islice(zip(starts, ends, strict=True), _DICT_PERIODS, None)
            numbers = range(_DICT_PERIODS, number + 1)
            self._period_slots.rebuild(zip(keys, numbers, strict=True), number + 1 - _DICT_PERIODS)
        return number

    def find(self, number: int, start: int, end: int) -> int:
        """The entry of series `number` for the period [start, end], -1 if there is none."""
        period = self._find_period(start, end)
        return -1 if period < 0 else self._find_entry(number, period)

    def _find_entry(self, number: int, period: int) -> int:
        periods, numbers = self.periods, self.series_numbers
        return self._entry_slots.find(
            (number, period), lambda i: periods[i] == period and numbers[i] == number
        )

    def _place(self, index: int) -> None:
        """Put a new entry (one `find` does not know) in the table."""
        numbers, periods = self.series_numbers, self.periods
        if self._entry_slots.place((numbers[index], periods[index]), index):
            free = set(self.free)  # an entry being added has no count yet, but is not free
            in_use = (i for i in range(len(self.values)) if i not in free)
            self._entry_slots.rebuild((((numbers[i], periods[i]), i) for i in in_use), len(self))

    def _unplace(self, index: int) -> None:
        self._entry_slots.remove((self.series_numbers[index], self.periods[index]), index)

    def _new_entry(self, series: int, period: int) -> int:
        if self.free:
            index = self.free.pop()
            self.values[index] = 0.0
            self.counts[index] = 0
            self.periods[index] = period
            self.series_numbers[index] = series
            self.previous[index] = 0
            return index
        self.values.append(0.0)
        self.counts.append(0)
        self.periods.append(period)
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
        period = self._period(start, end)
        index = self._find_entry(series, period)
        if index < 0:
            index = self._new_entry(series, period)
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
        starts, ends, periods = self.period_starts, self.period_ends, self.periods
        members.sort(key=lambda i: (ends[periods[i]], starts[periods[i]]), reverse=True)
        previous, link = self.previous, 0
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
        series); the entry goes once it holds none (its period stays in the table)."""
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
            starts, periods = self.period_starts, self.periods
            self.series_first_starts[series] = min(starts[periods[i]] for i in members)
            self.series_last_ends[series] = self.end_of(members[0])

    def _find(self, series: int, start: int, end: int) -> int:
        index = self.find(series, start, end)
        if index < 0:
            raise ValueError(f"no entry for period [{start}, {end}] in this series")
        return index

    def _entry(self, series: int, start: int, end: int) -> int:
        """The entry of this period, linked in period order when new. Reports mostly come in
        period order, so a new period is usually found at the head of the links at once."""
        period = self._period(start, end)
        index = self._find_entry(series, period)
        if index >= 0:
            return index
        previous, periods = self.previous, self.periods
        starts, ends = self.period_starts, self.period_ends
        after = -1  # the entry the new one is linked behind (-1: it becomes the latest)
        link = self.series_latest[series]
        key = (end, start)
        while link:
            here = periods[link - 1]
            if (ends[here], starts[here]) < key:
                break
            after = link - 1
            link = previous[after]
        index = self._new_entry(series, period)
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
        ends, starts, periods = self.period_ends, self.period_starts, self.periods
        values, previous = self.values, self.previous
        total = 0.0
        while link:
            index = link - 1
            period = periods[index]
            end = ends[period]
            if end < low:
                break
            if end <= high and starts[period] >= low:
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
        ends, starts, periods, previous = (
            self.period_ends,
            self.period_starts,
            self.periods,
            self.previous,
        )
        while link:
            index = link - 1
            period = periods[index]
            end = ends[period]
            if end < low:
                return None
            if end <= high and starts[period] >= low:
                return end, starts[period], self.values[index] / self.counts[index]
            link = previous[index]
        return None
