"""Handing freed heap memory back to the operating system.

A drift tick at 10 000 objectives allocates and frees tens of megabytes (findings, events,
their JSON); glibc keeps freed pages for reuse, so the service's RSS stays at the tick's high
water mark: ~10-20 MB above what it holds (benchmarks/README.md). `malloc_trim` returns the
free pages; it walks the heap, a few milliseconds, so it is called after ticks, not after
every batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)  # glibc only (not musl, macOS)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_free_memory() -> bool:
    """Return the allocator's free pages to the OS; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
