"""IdIndex: the projection's compact observation_id -> row map behaves like a dict."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.alignment.domain import idindex
from truenorth.alignment.domain.idindex import IdIndex


def filled(*pairs: tuple[str, int]) -> IdIndex:
    index = IdIndex()
    for ident, row in pairs:
        index[ident] = row
    return index


def test_lookup_insert_and_replace() -> None:
    index = filled(("o-1", 0), ("o-2", 1))
    assert index.get("o-1") == 0 and index.get("o-2") == 1
    assert index.get("o-3") is None and "o-3" not in index and "o-1" in index
    assert index.setdefault("o-1", 7) == 0  # present: its row, nothing recorded
    assert index.setdefault("o-3", 2) == 2  # absent: recorded
    index["o-2"] = 5
    assert index.get("o-2") == 5
    assert len(index) == 3


def test_ids_come_back_in_insertion_order_with_their_rows() -> None:
    ids = ["b", "a", "", "é-ü", "x" * 128, "漢字"]
    index = filled(*((ident, row) for row, ident in enumerate(ids)))
    assert list(index) == ids
    assert list(index.items()) == [(ident, row) for row, ident in enumerate(ids)]


def test_rows_other_than_the_entry_numbers_are_kept() -> None:
    index = filled(("a", 0), ("b", 1))
    assert index._rows is None  # every row its entry number: not stored
    index["c"] = 10
    index.setdefault("d", 3)
    index["a"] = 4
    assert list(index.items()) == [("a", 4), ("b", 1), ("c", 10), ("d", 3)]
    assert [index.get(i) for i in "abcd"] == [4, 1, 10, 3]


@pytest.mark.parametrize("same_length", [True, False])
def test_colliding_hashes_are_told_apart_by_their_bytes(
    monkeypatch: pytest.MonkeyPatch, same_length: bool
) -> None:
    monkeypatch.setattr(idindex, "_hash", lambda _ident: 42)
    ids = [f"id-{n:03d}" if same_length else "i" * (n + 1) for n in range(40)]
    index = IdIndex()
    for row, ident in enumerate(ids):
        assert index.setdefault(ident, row) == row
    assert [index.get(ident) for ident in ids] == list(range(40))
    assert index.get("id-999") is None and index.get("i" * 41) is None
    assert list(index) == ids


def test_hashes_equal_in_the_low_bits_only_spread_over_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(idindex, "_hash", lambda ident: int(ident) << 20)
    index = filled(*((str(n), n) for n in range(500)))
    assert all(index.get(str(n)) == n for n in range(500))


def test_the_table_grows_and_keeps_every_entry() -> None:
    index = IdIndex()
    sizes = set()
    for row in range(5000):
        index[f"obs-{row}"] = row
        sizes.add(len(index._slots))
        assert 3 * len(index) <= 2 * len(index._slots)
    assert len(sizes) > 5  # resized several times
    assert all(index.get(f"obs-{row}") == row for row in range(5000))
    assert sum(1 for slot in index._slots if slot) == 5000


def test_offsets_widen_past_4_gib_of_ids() -> None:
    class Huge(bytearray):
        def __len__(self) -> int:
            return super().__len__() + 2**32

    index = filled(("a", 0))
    index._keys = Huge(index._keys)
    index["b"] = 1
    assert index._offsets.typecode == "q"
    assert list(index._offsets) == [0, 1, 2**32 + 2]


@settings(max_examples=50, deadline=None)
@given(
    operations=st.lists(
        st.tuples(
            st.sampled_from(["set", "setdefault", "get"]),
            st.text(max_size=6),
            st.integers(0, 2**32 - 1),
        ),
        max_size=200,
    ),
    weak_hash=st.booleans(),
)
def test_behaves_like_a_dict(operations: list[tuple[str, str, int]], weak_hash: bool) -> None:
    original = idindex._hash
    if weak_hash:  # a handful of hash values: collisions everywhere
        idindex._hash = lambda ident: len(ident) % 3
    try:
        index, model = IdIndex(), {}
        for operation, ident, row in operations:
            if operation == "set":
                index[ident] = row
                model[ident] = row
            elif operation == "setdefault":
                assert index.setdefault(ident, row) == model.setdefault(ident, row)
            else:
                assert index.get(ident) == model.get(ident)
        assert list(index.items()) == list(model.items())
        assert len(index) == len(model)
    finally:
        idindex._hash = original
