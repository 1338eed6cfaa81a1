"""An exact map from id strings to row numbers, several times smaller than a dict[str, int].

A dict of a million observation ids holds a str object, a boxed int and a hash-table entry per
id: ~125 bytes plus the id. Here the ids' UTF-8 bytes sit end to end in one bytearray, their
offsets, rows and 32-bit hashes in arrays, and an open-addressing table of entry numbers finds
them: about len(id) + 20 bytes per id (len(id) + 16 while every row is its entry number). A
probe compares the stored bytes, so the map is exact, and the ids come back as they went in,
in insertion order. Entries are never removed.

`hash` of a str is salted per process: the table is never persisted (the ids and rows are).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

_hash = hash
"""Module-level so that tests can force collisions."""

_TAG_MASK = 0xFFFF_FFFF
_PERTURB_SHIFT = 5
_MIN_SLOTS = 8


class IdIndex:
    """id -> row number (0 <= row < 2**32), insertion-ordered."""

    __slots__ = ("_keys", "_mask", "_offsets", "_rows", "_slots", "_tags")

    def __init__(self) -> None:
        self._keys = bytearray()
        """Every id's UTF-8 bytes, end to end."""
        self._offsets = array("I", [0])
        """Entry n's id is _keys[_offsets[n]:_offsets[n + 1]] (8-byte offsets past 4 GiB)."""
        self._tags = array("I")
        """Entry n's hash, truncated: probes compare bytes only on equal tags, and a resize
        needs no id decoded."""
        self._rows: array[int] | None = None
        """Entry n's row; None while every row equals its entry number (one workspace)."""
        self._slots = _free_slots(_MIN_SLOTS)
        """Entry number + 1 per slot, 0 when free; kept at most 2/3 full."""
        self._mask = _MIN_SLOTS - 1

    def __len__(self) -> int:
        return len(self._tags)

    def __contains__(self, ident: str) -> bool:
        return self._slots[self._probe(ident, ident.encode())] != 0

    def __iter__(self) -> Iterator[str]:
        keys, offsets = self._keys, self._offsets
        for entry in range(len(self._tags)):
            yield keys[offsets[entry] : offsets[entry + 1]].decode()

    def items(self) -> Iterator[tuple[str, int]]:
        rows = range(len(self._tags)) if self._rows is None else self._rows
        return zip(self, rows, strict=True)

    def get(self, ident: str) -> int | None:
        entry = self._slots[self._probe(ident, ident.encode())]
        return None if not entry else self._row(entry - 1)

    def __setitem__(self, ident: str, row: int) -> None:
        encoded = ident.encode()
        slot = self._probe(ident, encoded)
        entry = self._slots[slot]
        if not entry:
            self._add(slot, _hash(ident) & _TAG_MASK, encoded, row)
        elif row != self._row(entry - 1):
            self._explicit_rows()[entry - 1] = row

    def setdefault(self, ident: str, row: int) -> int:
        """The row of `ident`, or `row` once recorded as its row."""
        encoded = ident.encode()
        slot = self._probe(ident, encoded)
        entry = self._slots[slot]
        if entry:
            return self._row(entry - 1)
        self._add(slot, _hash(ident) & _TAG_MASK, encoded, row)
        return row

    def _probe(self, ident: str, encoded: bytes) -> int:
        """The slot holding `ident`, or the free slot where it belongs. The probe sequence is
        CPython dict's (perturbed by the tag's high bits), so similar tags spread out."""
        slots, tags, mask = self._slots, self._tags, self._mask
        tag = perturb = _hash(ident) & _TAG_MASK
        slot = tag & mask
        while entry := slots[slot]:
            if tags[entry - 1] == tag:
                start, end = self._offsets[entry - 1], self._offsets[entry]
                if end - start == len(encoded) and self._keys.startswith(encoded, start):
                    return slot
            perturb >>= _PERTURB_SHIFT
            slot = (slot * 5 + perturb + 1) & mask
        return slot

    def _row(self, entry: int) -> int:
        return entry if self._rows is None else self._rows[entry]

    def _explicit_rows(self) -> array[int]:
        if self._rows is None:
            self._rows = array("I", range(len(self._tags)))
        return self._rows

    def _add(self, slot: int, tag: int, encoded: bytes, row: int) -> None:
        entry = len(self._tags)
        keys = self._keys
        keys += encoded
        try:
            self._offsets.append(len(keys))
        except OverflowError:  # past 4 GiB of ids
            self._offsets = array("q", self._offsets)
            self._offsets.append(len(keys))
        if self._rows is not None or row != entry:
            self._explicit_rows().append(row)
        self._tags.append(tag)
        self._slots[slot] = entry + 1
        if 3 * (entry + 1) > 2 * len(self._slots):
            self._resize(2 * len(self._slots))

    def _resize(self, size: int) -> None:
        """Every entry placed again in a table of `size` slots (the ids are distinct, so no
        probe compares anything)."""
        slots, mask = _free_slots(size), size - 1
        for entry, tag in enumerate(self._tags, start=1):
            slot = tag & mask
            if slots[slot]:
                perturb = tag
                while slots[slot]:
                    perturb >>= _PERTURB_SHIFT
                    slot = (slot * 5 + perturb + 1) & mask
            slots[slot] = entry
        self._slots, self._mask = slots, mask


def _free_slots(size: int) -> array[int]:
    return array("I", [0]) * size
