"""HTTP API tokens: scoped, stored hashed, verified in constant time, cached briefly.

A token reads ``tn_<key>_<secret>``: ``key`` (12 hex characters) is a public lookup id shown by
`truenorth tokens list`; ``secret`` is 32 random bytes (256 bits, base64url). Only
``sha256(secret)`` is stored. A fast hash is the right choice here, unlike for passwords:
bcrypt/argon2 exist to slow down guessing of *low-entropy* human secrets, while guessing a
256-bit random secret is hopeless at any hash speed, and a slow hash on every request (or
every cache miss) would only cost CPU. The stored hash is compared with `hmac.compare_digest`
so the comparison time does not depend on where the first differing byte is.

Rotation (`TokenStore.rotate`) issues a new secret under the same name and scopes and keeps the
old secret valid for a grace period (default one hour, `--grace 0` revokes it at once), so
clients can be switched over without an outage.

Services only read the table, by primary key on every request, so revocation, rotation (with
grace 0: at once) and scope changes take effect immediately in every service. Only keys the
store does not know are remembered, for `TRUENORTH_AUTH_CACHE_SECONDS` (30 s): a token created
after a client tried its key works within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from truenorth.store.schema import api_tokens

READ = "read"
STRATEGY_WRITE = "strategy-write"
EMIT_CAMPAIGNS = "emit-campaigns"
EMIT_METRICS = "emit-metrics"
ADMIN = "admin"
METRICS_SCRAPE = "metrics"
SCOPES = (READ, STRATEGY_WRITE, EMIT_CAMPAIGNS, EMIT_METRICS, METRICS_SCRAPE, ADMIN)
"""`admin` grants every scope; `metrics` is what Prometheus needs for `/metrics`."""
WORKSPACE_BINDING = "workspace:"
"""A token bound to workspaces carries ``workspace:<slug>`` entries next to its scopes (kept in
the same column: no migration); unbound tokens act in every workspace."""

WRITE_SCOPE = {
    "strategy": STRATEGY_WRITE,
    "campaigns": EMIT_CAMPAIGNS,
    "metrics": EMIT_METRICS,
    "alignment": ADMIN,  # read-only API today: any future write needs an admin token
}
"""Scope of every non-GET request, per service; every GET needs `read`."""

TOKEN_PREFIX = "tn_"
TOKEN_PATTERN = re.compile(r"^tn_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_GRACE = timedelta(hours=1)
CACHE_MAX_ENTRIES = 10_000


class TokenError(ValueError):
    """A token-management request that cannot be done (one-line reason)."""


class AuthUnavailable(RuntimeError):
    """The token store cannot be read: answer 503, not 401."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(key, secret), or None when the string cannot be a truenorth token."""
    match = TOKEN_PATTERN.match(token)
    return (match.group(1), match.group(2)) if match else None


def new_token() -> tuple[str, str, str]:
    """(token, key, secret)."""
    key = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{key}_{secret}", key, secret


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    unknown = [s for s in wanted if s not in SCOPES and not _is_binding(s)]
    if unknown:
        raise TokenError(f"unknown scope {', '.join(unknown)}: choose from {', '.join(SCOPES)}")
    if not [s for s in wanted if not _is_binding(s)]:
        raise TokenError(f"at least one scope: {', '.join(SCOPES)}")
    return wanted


SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _is_binding(entry: str) -> bool:
    return entry.startswith(WORKSPACE_BINDING) and bool(
        SLUG.match(entry.removeprefix(WORKSPACE_BINDING))
    )


def bindings(workspaces: Iterable[str]) -> list[str]:
    """``workspace:<slug>`` entries for `TokenStore.create` (TokenError on a bad slug)."""
    entries = [WORKSPACE_BINDING + w.strip() for w in workspaces if w.strip()]
    bad = [e.removeprefix(WORKSPACE_BINDING) for e in entries if not _is_binding(e)]
    if bad:
        raise TokenError(f"invalid workspace {', '.join(bad)}: letters, digits, _ and -")
    return entries


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return value


@dataclass(frozen=True)
class TokenRecord:
    """One secret of a named token (a rotated token has two during its grace period)."""

    key: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "active (grace)" if now < self.expires_at else "expired"
        return "active"

    def grants(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes

    @property
    def workspaces(self) -> tuple[str, ...]:
        """The workspaces this token may act in; empty: every workspace."""
        return tuple(s.removeprefix(WORKSPACE_BINDING) for s in self.scopes if _is_binding(s))

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(hash_secret(secret), self.secret_hash)


def _record(row: object) -> TokenRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return TokenRecord(
        key=m["key"],
        name=m["name"],
        scopes=tuple(m["scopes"].split()),
        secret_hash=m["secret_hash"],
        created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
        expires_at=_aware(m["expires_at"]),
        revoked_at=_aware(m["revoked_at"]),
    )


def _now() -> datetime:
    return datetime.now(UTC)


class TokenStore:
    """The `api_tokens` table (migration 0002). Management goes through here (the CLI);
    services only call `find`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> TokenStore:
        from truenorth.store.db import make_engine, migrate

        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
            _owner_only(url)
        return cls(engine)

    def find(self, key: str) -> TokenRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.key == key)).first()
        return None if row is None else _record(row)

    def all(self) -> list[TokenRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(api_tokens).order_by(api_tokens.c.name, api_tokens.c.created_at)
            ).all()
        return [_record(row) for row in rows]

    def active_named(self, name: str, now: datetime | None = None) -> list[TokenRecord]:
        now = now or _now()
        return [r for r in self.all() if r.name == name and r.active(now)]

    def create(
        self, name: str, scopes: Iterable[str], *, expires_at: datetime | None = None
    ) -> tuple[TokenRecord, str]:
        """A new token; returns it in clear text once (only its hash is stored)."""
        if not NAME_PATTERN.match(name):
            raise TokenError(
                f"invalid name {name!r}: letters, digits and _.@- (up to 64, no leading symbol)"
            )
        wanted = check_scopes(scopes)
        if self.active_named(name):
            raise TokenError(f"a token named {name!r} exists: revoke or rotate it")
        return self._insert(name, wanted, expires_at)

    def _insert(
        self, name: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[TokenRecord, str]:
        token, key, secret = new_token()
        record = TokenRecord(key, name, scopes, hash_secret(secret), _now(), expires_at)
        with self.engine.begin() as connection:
            connection.execute(
                insert(api_tokens).values(
                    key=record.key,
                    name=record.name,
                    scopes=" ".join(record.scopes),
                    secret_hash=record.secret_hash,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    revoked_at=None,
                )
            )
        return record, token

    def revoke(self, name: str | None = None, *, key: str | None = None) -> int:
        """Revoke every active secret of a name, or one secret by its key; returns how many."""
        if (name is None) == (key is None):
            raise TokenError("revoke by name or by key")
        now = _now()
        condition = api_tokens.c.name == name if key is None else api_tokens.c.key == key
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(condition, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount or 0)

    def rotate(
        self, name: str, *, grace: timedelta = DEFAULT_GRACE
    ) -> tuple[TokenRecord, str, list[TokenRecord]]:
        """A new secret with the same name and scopes; the old secrets stay valid for `grace`
        (zero: revoked now). Returns (new record, token, old records)."""
        if grace < timedelta(0):
            raise TokenError("the grace period cannot be negative")
        now = _now()
        old = self.active_named(name, now)
        if not old:
            raise TokenError(f"no active token named {name!r}")
        scopes = old[-1].scopes
        with self.engine.begin() as connection:
            for record in old:
                values: dict[str, object] = (
                    {"revoked_at": now}
                    if grace == timedelta(0)
                    else {"expires_at": min(record.expires_at or now + grace, now + grace)}
                )
                connection.execute(
                    update(api_tokens).where(api_tokens.c.key == record.key).values(**values)
                )
        record, token = self._insert(name, scopes, None)
        return record, token, old


@dataclass(frozen=True)
class Principal:
    """Who made a request (set on `request.state.principal` when auth is required)."""

    name: str
    key: str
    scopes: tuple[str, ...]
    workspaces: tuple[str, ...] = ()
    """Empty: every workspace."""

    def may_act_in(self, workspace: str) -> bool:
        return not self.workspaces or workspace in self.workspaces


class Authenticator:
    """Verifies bearer tokens against the token store, with a short in-memory cache.

    Known keys are looked up on every request (a primary-key read); unknown keys are
    remembered as unknown for `ttl` seconds. The cache holds no secret."""

    def __init__(self, store: TokenStore | None, url: str = "", ttl: float = 30.0) -> None:
        self._store = store
        self.url = url
        self.ttl = ttl
        self._cache: dict[str, tuple[float, None]] = {}

    @classmethod
    def from_url(cls, url: str, ttl: float = 30.0) -> Authenticator:
        return cls(None, url, ttl)

    @property
    def store(self) -> TokenStore:
        if self._store is None:
            # services read only: `truenorth tokens create` creates the table
            self._store = TokenStore.open(self.url, migrate_schema=False)
        return self._store

    def _lookup(self, key: str) -> TokenRecord | None:
        try:
            return self.store.find(key)
        except (OperationalError, ProgrammingError) as exc:
            if _missing_table(exc):
                return None  # no token was ever created here
            raise AuthUnavailable(f"token store unavailable: {type(exc).__name__}") from exc
        except SQLAlchemyError as exc:
            raise AuthUnavailable(f"token store unavailable: {type(exc).__name__}") from exc

    async def record(self, key: str) -> TokenRecord | None:
        """The token's record, read from the store on every call: a revocation or a rotation
        with grace 0 takes effect at once in every service (issue 17). Only keys the store
        does not know are remembered (for `ttl`), so garbage tokens cannot hammer it."""
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return None
        found = await asyncio.to_thread(self._lookup, key)
        if found is None:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.clear()  # bounded: random keys cannot grow it without limit
            self._cache[key] = (now, None)
        else:
            self._cache.pop(key, None)
        return found

    async def verify(self, token: str) -> Principal | None:
        """The principal for a valid, active token; None otherwise."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key, secret = parsed
        record = await self.record(key)
        if record is None or not record.matches(secret) or not record.active(_now()):
            return None
        return Principal(record.name, record.key, record.scopes, record.workspaces)

    def forget(self) -> None:
        self._cache.clear()


def _owner_only(url: str) -> None:
    """A SQLite token store holds the token hashes: readable by its owner only (also when it
    was created before this rule)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        with contextlib.suppress(OSError):
            os.chmod(parsed.database, 0o600)


def _missing_table(exc: SQLAlchemyError) -> bool:
    text = str(exc).lower()
    return "no such table" in text or ("api_tokens" in text and "does not exist" in text)
