"""`truenorth tokens create|list|revoke|rotate` against a SQLite token store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from truenorth.auth import TOKEN_PATTERN, TokenStore, hash_secret
from truenorth.cli import app

runner = CliRunner()
TOKEN = re.compile(r"^tn_[0-9a-f]{12}_\S{43}$", re.MULTILINE)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TRUENORTH_DATA_DIR": str(tmp_path), "TRUENORTH_TOKENS_DATABASE_URL": ""}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["tokens", *args], env=env)
    return result.exit_code, result.output


def listed(env: dict[str, str], *flags: str) -> list[dict[str, object]]:
    code, output = run(env, "list", "--json", *flags)
    assert code == 0, output
    return list(json.loads(output))


def test_create_prints_the_token_once_and_stores_only_its_hash(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, output = run(env, "create", "--name", "ci", "--scope", "read", "--scope", "emit-metrics")
    assert code == 0, output
    (token,) = TOKEN.findall(output)
    assert TOKEN_PATTERN.match(token)
    database = (tmp_path / "tokens.db").read_bytes()
    secret = token.split("_", 2)[2]
    assert secret.encode() not in database and token.encode() not in database
    (record,) = TokenStore.open(f"sqlite:///{tmp_path / 'tokens.db'}").all()
    assert record.secret_hash == hash_secret(secret)
    assert record.scopes == ("read", "emit-metrics")
    # list shows name, key, scopes, never the secret
    code, table = run(env, "list")
    assert code == 0 and "ci" in table and secret not in table
    (row,) = listed(env)
    assert row["name"] == "ci" and row["scopes"] == ["read", "emit-metrics"]
    assert row["status"] == "active" and secret not in json.dumps(row)


def test_bad_requests_are_one_line_errors(env: dict[str, str]) -> None:
    assert run(env, "create", "--name", "x", "--scope", "root")[0] == 2
    assert run(env, "create", "--name", "bad name!", "--scope", "read")[0] == 2
    assert run(env, "create", "--name", "dup", "--scope", "read")[0] == 0
    code, output = run(env, "create", "--name", "dup", "--scope", "read")
    assert code == 2 and "exists" in output
    assert run(env, "revoke", "nobody")[0] == 2
    assert run(env, "rotate", "nobody")[0] == 2
    assert run(env, "rotate", "dup", "--grace", "soon")[0] != 0


def test_revoke_by_name(env: dict[str, str]) -> None:
    run(env, "create", "--name", "old", "--scope", "read")
    code, output = run(env, "revoke", "old")
    assert code == 0 and "revoked 1" in output
    assert listed(env) == []
    (row,) = listed(env, "--all")
    assert row["status"] == "revoked"
    # the name is free again
    assert run(env, "create", "--name", "old", "--scope", "read")[0] == 0


def test_rotate_keeps_the_old_secret_for_the_grace_period_or_revokes_it(
    env: dict[str, str],
) -> None:
    run(env, "create", "--name", "svc", "--scope", "emit-campaigns,read")
    code, output = run(env, "rotate", "svc", "--grace", "15m")
    assert code == 0, output
    assert len(TOKEN.findall(output)) == 1
    rows = listed(env)
    assert sorted(r["status"] for r in rows) == ["active", "active (grace)"]
    assert all(r["scopes"] == ["emit-campaigns", "read"] for r in rows)
    code, output = run(env, "rotate", "svc", "--grace", "0")
    assert code == 0, output
    (row,) = listed(env)
    assert row["status"] == "active"
    statuses = sorted(str(r["status"]) for r in listed(env, "--all"))
    assert statuses == ["active", "revoked", "revoked"]
    # one secret by its key
    code, _ = run(env, "revoke", "--key", str(row["key"]))
    assert code == 0 and listed(env) == []
