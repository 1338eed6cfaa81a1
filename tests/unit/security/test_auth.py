"""Token format, hashing and verification (constant-time compare, expiry, cache)."""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from truenorth import auth
from truenorth.auth import (
    Authenticator,
    TokenError,
    TokenRecord,
    check_scopes,
    hash_secret,
    new_token,
    parse_token,
)


def record(secret: str, **fields: object) -> TokenRecord:
    values: dict[str, object] = {
        "key": "0123456789ab",
        "name": "ci",
        "scopes": ("read",),
        "secret_hash": hash_secret(secret),
        "created_at": datetime.now(UTC),
    }
    values.update(fields)
    return TokenRecord(**values)  # type: ignore[arg-type]


class FakeStore:
    def __init__(self, records: dict[str, TokenRecord]) -> None:
        self.records = records
        self.lookups = 0

    def find(self, key: str) -> TokenRecord | None:
        self.lookups += 1
        return self.records.get(key)


def test_tokens_carry_256_bits_and_parse_back() -> None:
    token, key, secret = new_token()
    assert parse_token(token) == (key, secret)
    assert len(secret) == 43  # 32 bytes, base64url
    assert new_token()[0] != token
    uppercase_key = "A" + key[1:]  # key.upper() alone is no change when the key is all digits
    for bad in ("", "tn_", "Bearer x", f"tn_{key}_{secret}x", f"tn_{uppercase_key}_{secret}"):
        assert parse_token(bad) is None


def test_scopes_are_checked() -> None:
    assert check_scopes(["read", "read", " emit-metrics "]) == ("read", "emit-metrics")
    with pytest.raises(TokenError):
        check_scopes(["write"])
    with pytest.raises(TokenError):
        check_scopes([])


def test_verification_compares_the_hash_in_constant_time() -> None:
    token, key, secret = new_token()
    authenticator = Authenticator(FakeStore({key: record(secret, key=key)}))  # type: ignore[arg-type]
    with mock.patch.object(auth.hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        principal = asyncio.run(authenticator.verify(token))
    assert principal is not None and principal.name == "ci"
    compare.assert_called_once_with(hash_secret(secret), hash_secret(secret))


def test_wrong_secret_expired_and_revoked_tokens_are_refused() -> None:
    token, key, secret = new_token()
    other = new_token()[2]
    now = datetime.now(UTC)
    cases = {
        "wrong secret": record(other, key=key),
        "expired": record(secret, key=key, expires_at=now - timedelta(seconds=1)),
        "revoked": record(secret, key=key, revoked_at=now),
    }
    for why, stored in cases.items():
        authenticator = Authenticator(FakeStore({key: stored}))  # type: ignore[arg-type]
        assert asyncio.run(authenticator.verify(token)) is None, why
    grace = record(secret, key=key, expires_at=now + timedelta(minutes=5))
    authenticator = Authenticator(FakeStore({key: grace}))  # type: ignore[arg-type]
    assert asyncio.run(authenticator.verify(token)) is not None


def test_known_keys_are_read_every_time_and_unknown_keys_are_remembered() -> None:
    token, key, secret = new_token()
    store = FakeStore({key: record(secret, key=key)})
    authenticator = Authenticator(store, ttl=60)  # type: ignore[arg-type]

    async def many() -> None:
        for _ in range(5):
            assert await authenticator.verify(token) is not None
        for _ in range(5):
            assert await authenticator.verify(f"tn_{'f' * 12}_{secret}") is None

    asyncio.run(many())
    assert store.lookups == 6  # a revocation is seen at once; garbage costs one lookup
    authenticator.forget()
    asyncio.run(authenticator.verify(f"tn_{'f' * 12}_{secret}"))
    assert store.lookups == 7
