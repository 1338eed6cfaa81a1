"""Gzip members spliced into one gzip stream without inflating: every decoder reads it whole."""

from __future__ import annotations

import gzip
import os
import random
import zlib

import pytest

from truenorth.gzip_members import GzipMember, decompress, join

TEXTS = [
    b"",
    b"a",
    b"# HELP x y\n# TYPE x gauge\n" + b'x{a="1"} 1.0\n' * 20_000,
    os.urandom(70_000),  # incompressible: stored blocks
    "ünïcödé\n".encode() * 100,
]


def single_member_text(body: bytes) -> bytes:
    """What a decoder that reads one member only (httpx, curl) gets: all of it, or it fails."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = decoder.decompress(body) + decoder.flush()
    assert decoder.eof and decoder.unused_data == b"", "more than one gzip member"
    return text


@pytest.mark.parametrize("level", [1, 6, 9])
def test_each_member_is_a_complete_gzip_member_of_its_text(level: int) -> None:
    for text in TEXTS:
        member = GzipMember.compress(text, level)
        assert gzip.decompress(member.data) == text == member.text()
        assert (member.size, member.crc) == (len(text), zlib.crc32(text))


def test_joined_members_are_one_member_of_the_texts_in_order() -> None:
    members = [GzipMember.compress(text) for text in TEXTS]
    body = join(members)
    assert single_member_text(body) == b"".join(TEXTS) == gzip.decompress(body)
    assert decompress(members) == b"".join(TEXTS)


def test_any_selection_joins_with_a_valid_crc_and_size() -> None:
    chooser = random.Random(7)
    members = [GzipMember.compress(text, chooser.randint(1, 9)) for text in TEXTS]
    for _ in range(50):
        chosen = chooser.sample(range(len(TEXTS)), chooser.randint(0, len(TEXTS)))
        body = join(members[i] for i in chosen)
        assert single_member_text(body) == b"".join(TEXTS[i] for i in chosen)


def test_joining_nothing_is_an_empty_gzip_stream() -> None:
    assert single_member_text(join([])) == b""


def test_members_laid_end_to_end_are_still_a_multi_member_gzip_file() -> None:
    members = [GzipMember.compress(text) for text in TEXTS]
    assert gzip.decompress(b"".join(m.data for m in members)) == b"".join(TEXTS)


def test_joining_does_not_inflate_the_members() -> None:
    member = GzipMember.compress(b"x 1.0\n" * 100_000)
    body = join([member, member])
    # spliced: both deflate bodies as they are, under one 10-byte header and 10-byte tail
    assert len(body) == 2 * len(member.data) - 20
    assert gzip.decompress(body) == b"x 1.0\n" * 200_000


def test_the_level_must_be_a_compressing_one() -> None:
    with pytest.raises(ValueError):
        GzipMember.compress(b"text", 0)
