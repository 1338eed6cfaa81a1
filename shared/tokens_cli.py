"""`truenorth tokens create|list|revoke|rotate`: the HTTP APIs' bearer tokens.

Tokens live hashed in `TRUENORTH_TOKENS_DATABASE_URL` (default: `tokens.db` under the data dir);
the secret is printed once, at `create` and `rotate`, and never stored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from truenorth.auth import TokenStore

tokens_app = typer.Typer(
    help="API tokens for the HTTP services (scopes: read, strategy-write, emit-campaigns, "
    "emit-metrics, admin). Enforced when TRUENORTH_AUTH=required.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `15m`, `1h`, `7d`."""
    match = DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r}: a duration like 0, 90s, 15m, 1h or 7d")
    return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])


def _store(database_url: str | None) -> TokenStore:
    import os

    from truenorth.auth import TokenStore
    from truenorth.settings import PRIVATE_UMASK, SettingsError, SharedSettings, load

    try:
        shared = load(SharedSettings)
    except SettingsError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits
    os.umask(PRIVATE_UMASK)  # tokens.db holds the token hashes: owner only
    return TokenStore.open(database_url or shared.tokens_url())


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="default: TRUENORTH_TOKENS_DATABASE_URL or <data dir>/tokens.db"
    ),
]


def _show_secret(token: str, name: str, scopes: tuple[str, ...]) -> None:
    console.print(f"token [bold]{name}[/bold] ({' '.join(scopes)}):", highlight=False)
    # plain print: the token alone on its line, easy to copy or capture in a script
    typer.echo(token)
    err.print(
        "[yellow]store it now: it is not shown again (only its hash is kept).[/yellow] "
        "Send it as `Authorization: Bearer <token>`."
    )


@tokens_app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="unique among active tokens")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="repeat for several (or comma-separated)"),
    ],
    workspace: Annotated[
        list[str] | None,
        typer.Option(
            "--workspace",
            help="bind the token to these workspaces (repeat or comma-separate); default: all",
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a token and print it once. Its name is recorded as the actor of what it writes."""
    from truenorth.auth import TokenError, bindings

    scopes = [part for item in scope for part in item.split(",")]
    store = _store(database_url)
    try:
        scopes += bindings(part for item in workspace or () for part in item.split(","))
        record, token = store.create(name, scopes)
    except TokenError as exc:
        _fail(str(exc))
        return
    _show_secret(token, record.name, record.scopes)


@tokens_app.command("list")
def list_command(
    database_url: DatabaseOption = None,
    all_: Annotated[bool, typer.Option("--all", help="also revoked and expired secrets")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Tokens by name, key, scopes and status; never their secrets."""
    store = _store(database_url)
    now = datetime.now(UTC)
    records = [r for r in store.all() if all_ or r.active(now)]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "key": r.key,
                        "scopes": list(r.scopes),
                        "status": r.status(now),
                        "created_at": r.created_at.isoformat(),
                        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                        "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
        return
    if not records:
        console.print("no tokens" + ("" if all_ else " (--all shows revoked and expired)"))
        return
    table = Table("name", "key", "scopes", "status", "created", "expires")
    for r in records:
        table.add_row(
            r.name,
            r.key,
            " ".join(r.scopes),
            r.status(now),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.expires_at.strftime("%Y-%m-%d %H:%M") if r.expires_at else "",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_command(
    name: Annotated[str | None, typer.Argument(help="revoke every secret of this name")] = None,
    key: Annotated[str | None, typer.Option("--key", help="revoke one secret by its key")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a token (the services stop accepting it within TRUENORTH_AUTH_CACHE_SECONDS)."""
    from truenorth.auth import TokenError

    store = _store(database_url)
    try:
        count = store.revoke(name, key=key)
    except TokenError as exc:
        _fail(str(exc))
        return
    if count == 0:
        _fail(f"no active token {'named ' + repr(name) if name else 'with key ' + repr(key)}")
    console.print(f"revoked {count} secret{'s' if count != 1 else ''}")


@tokens_app.command("rotate")
def rotate_command(
    name: Annotated[str, typer.Argument(help="the token to rotate")],
    grace: Annotated[
        str,
        typer.Option(help="how long the old secret stays valid (0 revokes it now): 90s, 15m, 1h"),
    ] = "1h",
    database_url: DatabaseOption = None,
) -> None:
    """Issue a new secret with the same name and scopes; the old one keeps working for the
    grace period so clients can switch over."""
    from truenorth.auth import TokenError

    period = parse_duration(grace)
    store = _store(database_url)
    try:
        record, token, old = store.rotate(name, grace=period)
    except TokenError as exc:
        _fail(str(exc))
        return
    _show_secret(token, record.name, record.scopes)
    keys = ", ".join(f"tn_{r.key}_…" for r in old)
    if period:
        err.print(f"old secret {keys} stays valid for {grace}")
    else:
        err.print(f"old secret {keys} revoked: refused by every service from now on")
