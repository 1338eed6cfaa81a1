"""Freed heap pages go back to the operating system after a tick."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from truenorth.memory import trim_free_memory


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc's malloc_trim is a Linux facility",
)
def test_freed_heap_memory_is_returned_after_a_trim() -> None:
    # 64 KiB blocks come from glibc's heap (below its mmap threshold), where freed pages stay
    # resident until trimmed; every other one is kept, so the heap cannot simply shrink
    blocks = [bytearray(65_536) for _ in range(1_200)]
    for block in blocks:
        block[::4096] = b"x" * 16  # touch every page: resident
    kept = blocks[::2]
    del blocks
    before = _rss_mb()
    assert trim_free_memory()
    assert _rss_mb() < before - 20  # ~37 MB freed in the middle of the heap
    assert len(kept) == 600
