"""`truenorth dlq`: look at dead letters, fix them and replay them.

Dead letters carry one header dialect, ``Tn-*`` (`truenorth.bus.deadletter.dead_letter_headers`:
the intake doors of campaigns and metrics and the alignment projector's poison events).
`list` also reads the ``Truenorth-*`` headers older projector dead letters were stored with
(the DLQ keeps what it was given). `replay` re-publishes a dead letter's bytes (or an
operator's edited bytes) to where they came from, after the same validation the receiver
applies, and refuses with that validation's error while they are still invalid:

- an event subject ``tn.<ws>.<context>.<aggregate>`` (a projector dead letter): the bytes must
  decode as a current event whose workspace, context and aggregate give that same subject;
- an intake subject ``tn.<ws>.intake.<campaigns|metrics>`` (NATS door): the bytes must pass
  that door's own validation, registered by the service (`register_intake_validator`, wired
  in `truenorth.cli`: this module imports no service);
- ``http:<path>`` (HTTP door of metrics, one row per dead letter): re-sent through the NATS
  door of the same service and workspace, validated as above.

`purge --before T` drops dead letters stored before T (the DLQ's byte and age limits bound it
anyway); it needs the stream administrator's NATS credentials (the provisioner: from
TRUENORTH_NATS_PROVISIONER_USER/_PASSWORD or the data dir of `truenorth up`).

The DLQ stream denies deletes of single messages, so a replay is recorded by a note on
``tn.<ws>.dlq.replayed`` (JSON: the DLQ sequence, where it went, the stored sequence, whether
it was edited, a hash of the bytes); `list` hides replayed dead letters unless ``--all``, and
`replay` refuses to replay one twice. The re-publish carries
``Nats-Msg-Id: dlq-replay-<dlq sequence>`` — not the event id, which JetStream may still hold
for the original poison bytes inside the duplicate window.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from truenorth.timeparse import parse_instant

dlq_app = typer.Typer(
    help="Dead letters: list them, show one, fix and replay them.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

REPLAYED_SERVICE = "replayed"
"""`tn.<ws>.dlq.replayed`: the notes recording which dead letters were replayed."""
REPLAYED_HEADER = "Tn-Replayed-Sequence"
"""On a replay note: the dead letter it replayed (notes stored before carry
``Truenorth-Replayed-Sequence``)."""
INTAKE_SERVICES = ("campaigns", "metrics")


class Refused(Exception):
    """The bytes would be rejected again: nothing was published."""


IntakeValidator = Callable[[bytes], None]
"""A door's validation of one intake message: raises ValueError with the door's message."""
INTAKE_VALIDATORS: dict[str, IntakeValidator] = {}


def register_intake_validator(service: str, validator: IntakeValidator) -> None:
    INTAKE_VALIDATORS[service] = validator


@dataclass
class DeadLetter:
    sequence: int
    subject: str
    """The DLQ subject, ``tn.<ws>.dlq.<service>``."""
    time: datetime
    payload: bytes
    headers: dict[str, str]
    replayed: dict[str, Any] | None = None

    @property
    def workspace(self) -> str:
        return self.subject.split(".")[1]

    @property
    def service(self) -> str:
        return self.subject.split(".", 3)[3]

    def header(self, name: str) -> str:
        for prefix in ("Tn-", "Truenorth-"):  # Truenorth-*: older projector dead letters
            value = self.headers.get(prefix + name)
            if value is not None:
                return value
        return ""

    @property
    def original_subject(self) -> str:
        return self.header("Original-Subject")

    @property
    def error(self) -> str:
        return self.header("Error")

    @property
    def attempts(self) -> int:
        try:
            return int(self.header("Attempts") or 1)
        except ValueError:
            return 1

    @property
    def reason(self) -> str:
        return self.header("Reason")

    @property
    def field_errors(self) -> list[dict[str, Any]]:
        try:
            errors = json.loads(self.header("Errors") or "[]")
        except ValueError:
            return []
        return errors if isinstance(errors, list) else []

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "subject": self.subject,
            "service": self.service,
            "workspace": self.workspace,
            "time": self.time.isoformat(),
            "original_subject": self.original_subject,
            "original_stream": self.header("Original-Stream") or None,
            "original_sequence": int(self.header("Original-Sequence") or 0) or None,
            "reason": self.reason or None,
            "error": self.error,
            "errors": self.field_errors,
            "attempts": self.attempts,
            "bytes": len(self.payload),
            "replayed": self.replayed,
        }


@dataclass
class Replayed:
    dead_letter: int
    subject: str
    stream: str
    sequence: int
    duplicate: bool
    edited: bool
    note: dict[str, Any] = field(default_factory=dict)


# -- reading ------------------------------------------------------------------------------


async def read_dead_letters(
    js: Any, stream: str = "DLQ", service: str | None = None, include_replayed: bool = False
) -> list[DeadLetter]:
    """Every dead letter of `stream` (optionally of one service), oldest first, with the
    replay note of those that were replayed (hidden unless `include_replayed`)."""
    from nats.js.errors import NotFoundError

    from truenorth.bus.eventstore import EventStore
    from truenorth.bus.streams import SUBJECT_ROOT

    store = EventStore(js)
    try:
        await js.stream_info(stream)
    except NotFoundError:
        raise Refused(f"stream {stream} not found") from None
    replayed: dict[int, dict[str, Any]] = {}
    letters: list[DeadLetter] = []
    async for msg in store.read_raw(stream):
        parts = msg.subject.split(".", 3)
        if len(parts) < 4 or parts[0] != SUBJECT_ROOT:
            continue
        if parts[3] == REPLAYED_SERVICE:
            note = _note(msg)
            if note is not None:
                replayed.setdefault(int(note["dlq_sequence"]), note)
            continue
        if service is not None and parts[3] != service:
            continue
        letters.append(
            DeadLetter(
                sequence=msg.metadata.sequence.stream,
                subject=msg.subject,
                time=msg.metadata.timestamp,
                payload=bytes(msg.data),
                headers=dict(msg.headers or {}),
            )
        )
    for letter in letters:
        letter.replayed = replayed.get(letter.sequence)
    if include_replayed:
        return letters
    return [letter for letter in letters if letter.replayed is None]


def _note(msg: Any) -> dict[str, Any] | None:
    try:
        note = json.loads(msg.data)
        int(note["dlq_sequence"])
    except (ValueError, KeyError, TypeError):
        headers = msg.headers or {}
        header = headers.get(REPLAYED_HEADER) or headers.get("Truenorth-Replayed-Sequence")
        return {"dlq_sequence": int(header)} if header and header.isdigit() else None
    return note if isinstance(note, dict) else None


# -- validation ---------------------------------------------------------------------------


def target_of(letter: DeadLetter) -> str:
    """Where a replay of this dead letter goes."""
    from truenorth.bus.streams import intake_subject

    original = letter.original_subject
    if original.startswith("http:"):
        if letter.service not in INTAKE_SERVICES:
            raise Refused(f"no NATS door to replay {original!r} through")
        return intake_subject(letter.workspace, letter.service)
    if not original.startswith("tn."):
        raise Refused(f"dead letter {letter.sequence} has no original subject to replay to")
    return original


def validate_for(subject: str, payload: bytes) -> None:
    """Raise Refused with the receiver's own error if `payload` would be rejected again."""
    from truenorth.bus.streams import STREAM_OF_CONTEXT, literal_token

    parts = subject.split(".", 3)
    if len(parts) != 4 or not all(literal_token(t) for t in subject.split(".")):
        raise Refused(f"cannot replay to {subject!r}: not a literal truenorth subject")
    _root, workspace, context, _rest = parts
    if context == "intake":
        _validate_intake(workspace, parts[3], payload)
    elif context in STREAM_OF_CONTEXT:
        _validate_event(subject, payload)
    else:
        raise Refused(f"cannot replay to {subject!r}: neither an event nor an intake subject")


def _validate_event(subject: str, payload: bytes) -> None:
    from truenorth.bus.eventstore import subject_of
    from truenorth.contract.registry import decode

    try:
        event = decode(payload)
    except ValueError as exc:
        raise Refused(f"still invalid: {short_error(str(exc), 600)}") from None
    expected = subject_of(event)
    if expected != subject:
        raise Refused(f"the event belongs on {expected!r}, not on the original subject {subject!r}")


def _validate_intake(workspace: str, service: str, payload: bytes) -> None:
    from pydantic import TypeAdapter, ValidationError

    from truenorth.contract.envelope import Slug

    try:
        TypeAdapter(Slug).validate_python(workspace)
    except ValidationError:
        raise Refused(f"invalid workspace {workspace!r} in the subject") from None
    validator = INTAKE_VALIDATORS.get(service)
    if validator is None:
        raise Refused(f"no intake door for {service!r}")
    try:
        validator(payload)
    except ValueError as exc:
        raise Refused(f"still invalid: {_one_line(str(exc))}") from None


def short_error(text: str, limit: int = 300) -> str:
    """pydantic names the whole event union in its title: name it `event` instead."""
    return _one_line(re.sub(r"tagged-union\[[^\]]*\]", "event", text), limit)


def _one_line(text: str, limit: int = 600) -> str:
    return " ".join(text.split())[:limit]


# -- replaying ----------------------------------------------------------------------------


async def replay_one(
    js: Any, letter: DeadLetter, payload: bytes | None = None, actor: str = "operator"
) -> Replayed:
    """Validate, re-publish to the original subject, then record the replay note."""
    from truenorth.bus.streams import dlq_subject

    if letter.replayed is not None:
        raise Refused(f"dead letter {letter.sequence} was already replayed")
    edited = payload is not None and payload != letter.payload
    data = letter.payload if payload is None else payload
    subject = target_of(letter)
    validate_for(subject, data)
    ack = await js.publish(
        subject, data, headers={"Nats-Msg-Id": f"dlq-replay-{letter.sequence}"}, timeout=5
    )
    note = {
        "dlq_sequence": letter.sequence,
        "dlq_subject": letter.subject,
        "replayed_to": subject,
        "stream": ack.stream,
        "sequence": ack.seq,
        "duplicate": bool(ack.duplicate),
        "edited": edited,
        "sha256": hashlib.sha256(data).hexdigest(),
        "at": datetime.now(UTC).isoformat(),
        "actor": actor,
    }
    await js.publish(
        dlq_subject(letter.workspace, REPLAYED_SERVICE),
        json.dumps(note).encode(),
        headers={
            "Nats-Msg-Id": f"dlq-replayed-{letter.sequence}",
            REPLAYED_HEADER: str(letter.sequence),
        },
        timeout=5,
    )
    letter.replayed = note
    return Replayed(
        letter.sequence, subject, ack.stream, ack.seq, bool(ack.duplicate), edited, note
    )


# -- commands -----------------------------------------------------------------------------


def _run(work: Callable[[Any], Any], nats_url: str | None, *, admin: bool = False) -> Any:
    from truenorth.runtime import admin_credentials, connect_client
    from truenorth.settings import SettingsError, SharedSettings, load

    try:
        shared = load(SharedSettings)
    except SettingsError as exc:
        _fail(str(exc))
        raise
    url = nats_url or shared.nats_url
    if admin:
        try:
            shared = admin_credentials(shared.model_copy(update={"nats_url": url}))
        except PermissionError as exc:
            _fail(str(exc))

    async def main() -> Any:
        try:
            nc = await asyncio.wait_for(
                connect_client(shared, name="truenorth-dlq", url=url),
                10,
            )
        except ConnectionError as exc:  # already says which server and why
            raise Refused(str(exc)) from None
        except Exception as exc:
            raise Refused(f"cannot reach NATS at {url}: {exc!r}") from None
        try:
            return await work(nc.jetstream())
        finally:
            await nc.drain()

    try:
        return asyncio.run(main())
    except Refused as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


NatsUrl = Annotated[
    str | None, typer.Option("--nats-url", help="default: TRUENORTH_NATS_URL", show_default=False)
]
Stream = Annotated[str, typer.Option("--stream", help="the dead-letter stream")]


@dlq_app.command("list")
def list_command(
    stream: Stream = "DLQ",
    service: Annotated[
        str | None, typer.Option("--service", help="alignment | campaigns | metrics")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="oldest N shown")] = 50,
    show_all: Annotated[
        bool, typer.Option("--all", help="include dead letters already replayed")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    nats_url: NatsUrl = None,
) -> None:
    """Dead letters not yet replayed, oldest first (sequence, subject, error, attempts, time)."""

    async def work(js: Any) -> list[DeadLetter]:
        return await read_dead_letters(js, stream, service, include_replayed=show_all)

    letters: list[DeadLetter] = _run(work, nats_url)
    shown = letters[:limit]
    if as_json:
        for letter in shown:
            sys.stdout.write(json.dumps(letter.as_dict()) + "\n")
        return
    if not letters:
        console.print("no dead letters" + ("" if show_all else " waiting for a replay"))
        return
    table = Table(show_lines=False)
    for column in ("seq", "service", "original subject", "error", "attempts", "time"):
        table.add_column(column, overflow="fold")
    if show_all:
        table.add_column("replayed")
    for letter in shown:
        row = [
            str(letter.sequence),
            letter.service,
            letter.original_subject,
            (f"[{letter.reason}] " if letter.reason else "") + short_error(letter.error),
            str(letter.attempts),
            letter.time.strftime("%Y-%m-%d %H:%M:%S"),
        ]
        if show_all:
            note = letter.replayed
            row.append(f"→ {note.get('stream', '?')} #{note.get('sequence', '?')}" if note else "")
        table.add_row(*row)
    Console(soft_wrap=True).print(table)  # sized to the terminal at the time of the call
    if len(letters) > len(shown):
        console.print(f"{len(letters) - len(shown)} more (use --limit)")


@dlq_app.command("show")
def show_command(
    sequence: Annotated[int, typer.Argument(help="DLQ sequence")],
    stream: Stream = "DLQ",
    raw: Annotated[
        bool, typer.Option("--raw", help="only the original bytes (to edit, then replay)")
    ] = False,
    nats_url: NatsUrl = None,
) -> None:
    """One dead letter: headers and bytes (`--raw > fix.json`, edit, then
    `truenorth dlq replay SEQ --edit fix.json`)."""

    async def work(js: Any) -> DeadLetter:
        for letter in await read_dead_letters(js, stream, include_replayed=True):
            if letter.sequence == sequence:
                return letter
        raise Refused(f"no dead letter {sequence} in {stream}")

    letter: DeadLetter = _run(work, nats_url)
    if raw:
        sys.stdout.buffer.write(letter.payload)
        sys.stdout.flush()
        return
    sys.stdout.write(json.dumps(letter.as_dict(), indent=2) + "\n")
    sys.stdout.write(letter.payload.decode(errors="replace") + "\n")


@dlq_app.command("replay")
def replay_command(
    sequences: Annotated[
        list[int] | None, typer.Argument(help="DLQ sequences (see `truenorth dlq list`)")
    ] = None,
    edit: Annotated[
        Path | None,
        typer.Option(
            "--edit",
            exists=True,
            dir_okay=False,
            help="replay the bytes of FILE instead (one sequence only)",
        ),
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="every dead letter not yet replayed (see --service)")
    ] = False,
    service: Annotated[str | None, typer.Option("--service", help="with --all")] = None,
    stream: Stream = "DLQ",
    actor: Annotated[str, typer.Option(help="recorded in the replay note")] = "operator",
    nats_url: NatsUrl = None,
) -> None:
    """Re-publish dead letters (optionally edited) to their original subject.

    The bytes go through the receiver's validation first: refused with its error while still
    invalid. Each replay is recorded on `tn.<ws>.dlq.replayed` and hidden from `list`."""
    wanted = list(sequences or [])
    if replay_all and (wanted or edit is not None):
        _fail("--all replays every pending dead letter: give no sequence and no --edit")
    if not replay_all and not wanted:
        _fail("give the DLQ sequences to replay (or --all)")
    if edit is not None and len(wanted) != 1:
        _fail("--edit replaces the bytes of exactly one dead letter")
    payload = edit.read_bytes() if edit is not None else None

    async def work(js: Any) -> tuple[list[Replayed], list[tuple[int, str]]]:
        letters = await read_dead_letters(js, stream, service, include_replayed=True)
        by_sequence = {letter.sequence: letter for letter in letters}
        chosen = (
            [letter.sequence for letter in letters if letter.replayed is None]
            if replay_all
            else wanted
        )
        done: list[Replayed] = []
        refused: list[tuple[int, str]] = []
        for sequence in chosen:
            letter = by_sequence.get(sequence)
            if letter is None:
                refused.append((sequence, f"no dead letter {sequence} in {stream}"))
                continue
            try:
                done.append(await replay_one(js, letter, payload, actor))
            except Refused as exc:
                refused.append((sequence, str(exc)))
        return done, refused

    done, refused = _run(work, nats_url)
    for r in done:
        dup = " (duplicate: already stored)" if r.duplicate else ""
        console.print(
            f"replayed {r.dead_letter} → {r.subject} ({r.stream} #{r.sequence})"
            + (" edited" if r.edited else "")
            + dup,
            highlight=False,
        )
    for sequence, reason in refused:
        err.print(f"[red]refused[/red] {sequence}: {reason}", highlight=False)
    if not done and not refused:
        console.print("nothing to replay")
    if refused:
        raise typer.Exit(1)


@dlq_app.command("purge")
def purge_command(
    before: Annotated[
        str,
        typer.Option(
            "--before",
            help="drop dead letters stored before this time (ISO 8601, UTC unless an offset "
            "is given; a bare date means the end of that day)",
        ),
    ],
    stream: Stream = "DLQ",
    nats_url: NatsUrl = None,
) -> None:
    """Drop dead letters stored before a time (admin: needs the stream administrator's NATS
    credentials, the provisioner's). Replay notes go with them."""
    try:
        cutoff = parse_instant(before)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--before'") from None

    async def work(js: Any) -> int:
        return await purge_before(js, stream, cutoff)

    purged = _run(work, nats_url, admin=True)
    console.print(
        f"purged {purged} dead letter{'s' if purged != 1 else ''} stored before "
        f"{cutoff.isoformat()}"
    )


async def purge_before(js: Any, stream: str, cutoff: datetime) -> int:
    """Purge every message of `stream` stored before `cutoff`; how many went."""
    from nats.js.errors import APIError

    from truenorth.bus.eventstore import EventStore

    info = await js.stream_info(stream)
    first_kept = info.state.last_seq + 1
    async for msg in EventStore(js).read_raw(stream, from_time=cutoff, batch=1):
        first_kept = msg.metadata.sequence.stream
        break
    before = info.state.messages
    try:
        await js.purge_stream(stream, seq=first_kept)
    except APIError as exc:
        raise Refused(f"the {stream} stream refuses purges ({exc.description})") from None
    return before - (await js.stream_info(stream)).state.messages
