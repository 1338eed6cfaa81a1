"""Text held gzip-compressed in pieces, served as one gzip stream without decompressing.

A `GzipMember` is a complete gzip member (RFC 1952 §2.3) of one piece of text: it decompresses
on its own with `gzip.decompress`, and members laid end to end are a valid multi-member gzip
file. Sending such a multi-member body over HTTP is not safe though: httpx (0.28) decodes only
the first member and silently drops the rest, and `curl --compressed` stops with an error
after the first. So `join` splices members into a single member instead, without inflating
anything: each member's deflate data ends with a sync flush (an empty stored block, so it is
byte-aligned and holds no final block), the deflate data of several members concatenated is
one deflate stream, and the trailer's CRC-32 is combined from the members' CRC-32s
(`crc32_combine` of zlib, in pure Python: one 32-step GF(2) product per member).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

COMPRESS_LEVEL = 1
"""Level 1: at 10 000 objectives (18.6 MB of exposition text) it compresses 21x in 35 ms,
level 6 compresses 26x in 137 ms; the extra 0.15 MB is not worth 4x the CPU per snapshot."""

_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""The header `join` writes: deflate, no flags, no mtime, OS unknown."""
_HEADER_LENGTH = 10
_SYNC_FLUSH_END = b"\x00\x00\xff\xff"
"""LEN and NLEN of the empty stored block a sync flush ends with."""
_FINAL_EMPTY_BLOCK = b"\x03\x00"
"""An empty fixed-Huffman block with BFINAL set: what zlib writes to finish after a sync flush."""
_TAIL_LENGTH = len(_FINAL_EMPTY_BLOCK) + 8  # + CRC-32 and ISIZE


@dataclass(frozen=True, slots=True)
class GzipMember:
    """One complete gzip member of `size` bytes of text whose CRC-32 is `crc`; made by
    `compress`, so that `join` can splice it with others."""

    data: bytes
    size: int
    crc: int
    shift: int
    """x^(8·size) modulo the CRC-32 polynomial: what moves a CRC-32 past this text."""

    @classmethod
    def compress(cls, text: bytes, level: int = COMPRESS_LEVEL) -> GzipMember:
        if not 1 <= level <= 9:
            raise ValueError(f"compression level {level} is not 1..9")
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = b"".join(
            [
                compressor.compress(text),
                compressor.flush(zlib.Z_SYNC_FLUSH),
                compressor.flush(zlib.Z_FINISH),
            ]
        )
        tail = len(_SYNC_FLUSH_END) + _TAIL_LENGTH
        if data[3] != 0 or data[-tail:-8] != _SYNC_FLUSH_END + _FINAL_EMPTY_BLOCK:
            raise AssertionError("zlib did not end the member with a sync flush and empty block")
        return cls(data, len(text), zlib.crc32(text), _x8nmodp(len(text)))

    def text(self) -> bytes:
        return zlib.decompress(self.data, 16 + zlib.MAX_WBITS)


def join(members: Iterable[GzipMember]) -> bytes:
    """One gzip member whose text is the members' texts in order."""
    parts: list[bytes | memoryview] = [_HEADER]
    crc = size = 0
    for member in members:
        parts.append(memoryview(member.data)[_HEADER_LENGTH:-_TAIL_LENGTH])
        crc = _multmodp(member.shift, crc) ^ member.crc
        size += member.size
    parts.append(_FINAL_EMPTY_BLOCK + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(parts)


def decompress(members: Iterable[GzipMember], prefix: bytes = b"") -> bytes:
    """`prefix` followed by the members' texts in order."""
    return b"".join([prefix, *(member.text() for member in members)])


# CRC-32 combination as zlib's crc32.c does it: polynomials over GF(2) in reflected bit order
# (bit 31 is x^0), reduced modulo the CRC-32 polynomial.
_POLY = 0xEDB88320
_X0 = 1 << 31


def _multmodp(a: int, b: int) -> int:
    """a·b modulo the CRC-32 polynomial."""
    m = _X0
    product = 0
    while a:
        if a & m:
            product ^= b
            a ^= m
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


def _powers() -> tuple[int, ...]:
    """x^(2^k) modulo the CRC-32 polynomial, k = 0..31."""
    power = _X0 >> 1  # x^1
    table = []
    for _ in range(32):
        table.append(power)
        power = _multmodp(power, power)
    return tuple(table)


_X2N = _powers()


def _x8nmodp(n: int) -> int:
    """x^(8·n) modulo the CRC-32 polynomial (n bytes of zeros)."""
    power = _X0
    k = 3
    while n:
        if n & 1:
            power = _multmodp(_X2N[k & 31], power)
        n >>= 1
        k += 1
    return power
