"""NATS users and what each may publish and subscribe (issue 7, "Security").

One user per service, plus:

- ``provisioner``: the only user that may create, update, delete or purge streams (the JetStream
  API subjects ``$JS.API.STREAM.{CREATE,UPDATE,DELETE,PURGE}.>``). It can do nothing else: no
  event subject, no consumer.
- ``intake``: tools that speak NATS; may only publish to the intake doors ``tn.*.intake.>`` and
  receive the replies to them (JetStream's publish acks) on its own inbox prefix.
- ``local`` (embedded server only): the operator (`apply`, `rebuild`, `digest --replay`,
  `review`, `dlq`). It may publish and read every subject but may not create, update, delete
  or purge streams. Its password is in ``nats-credentials.json`` (0600) in the data dir, where
  the operator commands find it; only with HTTP auth off (`truenorth up` on loopback) is it
  also what a connection *without* credentials becomes (``no_auth_user``).

Isolation (issue 17): every user but ``local`` receives only on its own inbox prefix
``_INBOX_<user>.>`` (nats-py's ``inbox_prefix``, set from the user by
`truenorth.runtime.connect_options`): every reply and every consumer delivery arrives on the
inbox of whoever asked, so nobody can read another's deliveries by subscribing to ``_INBOX.>``.
The durable consumers are named in `DURABLES`: each service may create, bind, pull from, ack
and delete only its own; the others' are denied. Ephemeral consumers (replays, reads) get
server-chosen random names, and listing consumer names is denied, so they cannot be found.

Each service may publish its own context's subjects (and its own dead letters) plus the
JetStream API calls its consumers need. The set is the minimum measured against the real server
(the e2e slice and demo under `truenorth up` log no permission violation with it; without
``STREAM.MSG.GET`` the strategy service fails), checked in
``tests/integration/security/test_nats_permissions.py``:

- ``$JS.API.STREAM.INFO.*``: provision's check, health, stream heads;
- ``$JS.API.STREAM.MSG.GET.*``: the last event of an aggregate (optimistic concurrency);
- ``$JS.API.CONSUMER.>``: create, info, delete and ``MSG.NEXT`` pull requests (consumers are
  views: deleting one loses no event);
- ``$JS.ACK.>``: acks, naks, in-progress.

Not granted, add when a feature needs it: ``$JS.FC.>`` (flow control of push consumers created
with ``flow_control=True``; none is today), ``$JS.API.DIRECT.GET.>``, ``$JS.API.STREAM.NAMES``
(a subscription naming only a subject, no stream), ``$JS.API.INFO``.

No service can read a subject directly with a core subscription. Reading through an ephemeral
consumer is not otherwise restricted (alignment reads every stream by design).

The rendered blocks below are pasted into ``deploy/nats/nats-*.conf`` (a unit test keeps the
files and this module in step) and written into the embedded server's config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from truenorth.bus.streams import SUBJECT_ROOT

PROVISIONER = "provisioner"
INTAKE = "intake"
LOCAL = "local"
SERVICE_USERS = ("strategy", "campaigns", "metrics", "alignment")
ALL_USERS = (PROVISIONER, *SERVICE_USERS, INTAKE, LOCAL)

STREAM_ADMIN = (
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.STREAM.RESTORE.>",
)
"""What only the provisioner may call (streams deny message delete and purge anyway)."""

CONSUMER_API = (
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.CONSUMER.>",
    "$JS.ACK.>",
)
CONSUMER_DISCOVERY = ("$JS.API.CONSUMER.LIST.*", "$JS.API.CONSUMER.NAMES.*")
"""Denied to services: ephemeral consumer names stay unguessable."""

DURABLES: dict[tuple[str, str], str] = {
    ("INTAKE", "metrics-intake"): "metrics",
    ("INTAKE", "campaigns-intake"): "campaigns",
    ("STRATEGY", "alignment-strategy"): "alignment",
    ("CAMPAIGNS", "alignment-campaigns"): "alignment",
    ("METRICS", "alignment-metrics"): "alignment",
}
"""(stream, durable consumer) -> the service that owns it. A service renaming or adding a
durable adds it here (`tests/unit/security/test_nats_config.py` checks the services' names)."""


def inbox_prefix(user: str) -> str:
    """Where `user` receives replies and deliveries (a subject token: letters, digits, _ -)."""
    return f"_INBOX_{user}"


def replies(user: str) -> tuple[str, ...]:
    return (f"{inbox_prefix(user)}.>",)


def foreign_consumers(service: str) -> tuple[str, ...]:
    """The consumer API and ack subjects of every durable `service` does not own."""
    denied: list[str] = []
    for (stream, durable), owner in DURABLES.items():
        if owner == service:
            continue
        denied += [
            f"$JS.API.CONSUMER.*.{stream}.{durable}",
            f"$JS.API.CONSUMER.*.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.*.*.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return tuple(denied)


PARTITIONED_MIRRORS = ("STRATEGY_PARTITIONED", "CAMPAIGNS_PARTITIONED", "METRICS_PARTITIONED")
"""Alignment's own streams (`truenorth.bus.partitions`): its partition consumers there are
named per partition, so the others are denied every consumer of these streams."""
LEASE_BUCKETS = ("truenorth_leases", "truenorth_workers")
"""Alignment's workers' leases and heartbeats (`truenorth.bus.lease`)."""


def alignment_only() -> tuple[str, ...]:
    """What every other service is denied: alignment's mirrors' consumers and its leases."""
    denied: list[str] = []
    for stream in PARTITIONED_MIRRORS:
        denied += [
            f"$JS.API.CONSUMER.*.{stream}",
            f"$JS.API.CONSUMER.*.{stream}.>",
            f"$JS.API.CONSUMER.*.*.{stream}.>",
            f"$JS.ACK.{stream}.>",
        ]
    return tuple(denied)


OWN_DLQ = {"campaigns", "metrics", "alignment"}
"""Services that dead-letter what they consume (strategy's inbox ignores poison)."""


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...] = ()
    deny_subscribe: tuple[str, ...] = ()

    def render(self) -> str:
        """The NATS config value: ``{ publish: {allow: [...], deny: [...]}, subscribe: ... }``."""

        def block(allow: tuple[str, ...], deny: tuple[str, ...]) -> str:
            parts = [f"allow: {_list(allow)}"]
            if deny:
                parts.append(f"deny: {_list(deny)}")
            return "{ " + ", ".join(parts) + " }"

        return (
            "{\n"
            f"    publish: {block(self.publish, self.deny_publish)}\n"
            f"    subscribe: {block(self.subscribe, self.deny_subscribe)}\n"
            "  }"
        )


def _list(subjects: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(s) for s in subjects) + "]"


def service_subjects(service: str) -> tuple[str, ...]:
    own = [f"{SUBJECT_ROOT}.*.{service}.>"]
    if service in OWN_DLQ:
        own.append(f"{SUBJECT_ROOT}.*.dlq.{service}")
    return tuple(own)


@dataclass(frozen=True)
class UserTable:
    permissions: Mapping[str, Permissions] = field(default_factory=dict)

    @classmethod
    def default(cls) -> UserTable:
        table: dict[str, Permissions] = {
            PROVISIONER: Permissions(publish=("$JS.API.>",), subscribe=replies(PROVISIONER)),
            INTAKE: Permissions(publish=(f"{SUBJECT_ROOT}.*.intake.>",), subscribe=replies(INTAKE)),
            LOCAL: Permissions(publish=(">",), subscribe=(">",), deny_publish=STREAM_ADMIN),
        }
        for service in SERVICE_USERS:
            leases = tuple(f"$KV.{b}.>" for b in LEASE_BUCKETS) if service == "alignment" else ()
            foreign = foreign_consumers(service)
            if service != "alignment":
                foreign += alignment_only()
            table[service] = Permissions(
                publish=(*service_subjects(service), *leases, *CONSUMER_API),
                subscribe=replies(service),
                deny_publish=(*STREAM_ADMIN, *CONSUMER_DISCOVERY, *foreign),
            )
        return cls(table)


USERS = UserTable.default().permissions


def variable_name(user: str) -> str:
    """The config variable holding a user's permissions, e.g. ``PERMISSIONS_STRATEGY``."""
    return f"PERMISSIONS_{user.upper()}"


def render_permission_variables(users: tuple[str, ...] = ALL_USERS) -> str:
    """``PERMISSIONS_<USER> = {...}`` lines, defined before the authorization block."""
    return "\n".join(f"{variable_name(u)} = {USERS[u].render()}" for u in users) + "\n"


def render_authorization(passwords: Mapping[str, str], *, no_auth_user: str | None = None) -> str:
    # a user without a password would be a credential-less user: there is none
    assert all(passwords.values()), "every NATS user needs a password"
    """The embedded server's permission variables and ``authorization`` block."""
    lines = [render_permission_variables(tuple(passwords)), "authorization {", "  users: ["]
    for user, password in passwords.items():
        lines.append(
            f"    {{ user: {json.dumps(user)}, password: {json.dumps(password)}, "
            f"permissions: ${variable_name(user)} }}"
        )
    lines.append("  ]")
    lines.append("}")
    if no_auth_user is not None:
        lines.append(f"no_auth_user: {json.dumps(no_auth_user)}")
    return "\n".join(lines) + "\n"
