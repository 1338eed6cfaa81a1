"""Campaign–objective links of a batch: the link rows of the batch's campaigns read once
(`prefetch`), each link change applied to them in order in plain dicts, and the rows made or
changed written at the end of the batch (`write`).

A link holds from `linked_from` until `linked_until` (NULL: still linked). A change closes the
links no longer wanted at the event's instant and opens the new ones; a link dropped and made
again at the instant it was first made reopens its row instead of adding a second one.

Read and written per link event (up to four statements each), links made most of the ~500 µs
CPU an event of the CAMPAIGNS stream; read per batch it is ~75 µs (`benchmarks/fold_cpu.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.store import tables as t
from truenorth.store.db import insert_rows

Campaign = tuple[str, str]
"""(workspace, campaign_id)"""
LinkKey = tuple[str, int]
"""(objective_id, linked_from)"""


class LinkWriter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.rows: dict[Campaign, dict[LinkKey, dict[str, Any]]] = {}
        """Every link row of the campaigns read or changed: open and closed."""
        self.stored: set[tuple[str, str, str, int]] = set()
        """Primary keys of the rows read from the store (the others are new)."""
        self.changed: set[tuple[str, str, str, int]] = set()

    def prefetch(self, campaigns: Iterable[Campaign]) -> None:
        by_workspace: dict[str, list[str]] = {}
        for workspace, campaign_id in campaigns:
            if (workspace, campaign_id) not in self.rows:
                self.rows[(workspace, campaign_id)] = {}
                by_workspace.setdefault(workspace, []).append(campaign_id)
        if not by_workspace:  # a metric batch: no query to build (writer.py)
            return
        links = t.campaign_links
        query = select(links).where(
            links.c.workspace == bindparam("w"),
            links.c.campaign_id.in_(bindparam("ids", expanding=True)),
        )
        for workspace, ids in by_workspace.items():
            for chunk in batched(ids, t.IDS_PER_QUERY):
                for row in self.connection.execute(query, {"w": workspace, "ids": chunk}):
                    record = row._asdict()
                    key = (row.objective_id, row.linked_from)
                    self.rows[(workspace, row.campaign_id)][key] = record
                    self.stored.add((workspace, row.campaign_id, *key))

    def held(self, workspace: str, campaign_id: str) -> tuple[str, ...]:
        """The objectives the campaign is linked to now, sorted."""
        rows = self._rows_of(workspace, campaign_id)
        return tuple(sorted(o for (o, _), row in rows.items() if row["linked_until"] is None))

    def change(
        self,
        workspace: str,
        campaign_id: str,
        wanted: Iterable[str],
        at: int,
        recorded: int,
    ) -> None:
        """Link the campaign to exactly `wanted` from `at` (recorded at `recorded`)."""
        rows = self._rows_of(workspace, campaign_id)
        wanted_set = set(wanted)
        held = set(self.held(workspace, campaign_id))
        for (objective_id, since), row in rows.items():
            if row["linked_until"] is None and objective_id not in wanted_set:
                row["linked_until"], row["recorded_until"] = at, recorded
                self.changed.add((workspace, campaign_id, objective_id, since))
        for objective_id in sorted(wanted_set - held):
            earlier = rows.get((objective_id, at))
            if earlier is None:
                rows[(objective_id, at)] = {
                    "workspace": workspace,
                    "campaign_id": campaign_id,
                    "objective_id": objective_id,
                    "linked_from": at,
                    "linked_until": None,
                    "recorded_from": recorded,
                    "recorded_until": None,
                }
            else:  # dropped and made again at the instant it was first made
                earlier["linked_until"], earlier["recorded_until"] = None, None
            self.changed.add((workspace, campaign_id, objective_id, at))

    def write(self) -> None:
        links = t.campaign_links
        new, updated = [], []
        for workspace, campaign_id, objective_id, since in sorted(self.changed):
            row = self.rows[(workspace, campaign_id)][(objective_id, since)]
            if (workspace, campaign_id, objective_id, since) in self.stored:
                updated.append(row)
            else:
                new.append(row)
        if updated:
            self.connection.execute(
                update(links)
                .where(
                    links.c.workspace == bindparam("w"),
                    links.c.campaign_id == bindparam("c"),
                    links.c.objective_id == bindparam("o"),
                    links.c.linked_from == bindparam("f"),
                )
                .values(linked_until=bindparam("u"), recorded_until=bindparam("r")),
                [
                    {
                        "w": row["workspace"],
                        "c": row["campaign_id"],
                        "o": row["objective_id"],
                        "f": row["linked_from"],
                        "u": row["linked_until"],
                        "r": row["recorded_until"],
                    }
                    for row in updated
                ],
            )
        insert_rows(self.connection, links, new)
        self.stored.update(self.changed)
        self.changed.clear()

    def _rows_of(self, workspace: str, campaign_id: str) -> dict[LinkKey, dict[str, Any]]:
        if (workspace, campaign_id) not in self.rows:
            self.prefetch([(workspace, campaign_id)])
        return self.rows[(workspace, campaign_id)]
