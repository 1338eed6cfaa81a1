"""The observation ledger: (workspace, observation_id) -> (value, event_id).

It is the metrics service's memory beyond JetStream's 2-minute duplicate window: it decides
whether a row is new, a duplicate or a restatement. It is written only after JetStream
acknowledged the events, so it never claims more than the log holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from truenorth.store.schema import observation_ledger

CHUNK = 500


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def lookup(self, workspace: str, observation_ids: Iterable[str]) -> dict[str, tuple[float, str]]:
        ids = list(dict.fromkeys(observation_ids))
        found: dict[str, tuple[float, str]] = {}
        table = observation_ledger
        with self.engine.connect() as connection:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                rows = connection.execute(
                    select(table.c.observation_id, table.c.value, table.c.event_id).where(
                        table.c.workspace == workspace, table.c.observation_id.in_(chunk)
                    )
                )
                for observation_id, value, event_id in rows:
                    found[observation_id] = (float(value), str(event_id))
        return found

    def record(self, workspace: str, entries: Sequence[tuple[str, float, str]]) -> None:
        """Upsert (observation_id, value, event_id); the last entry for an id wins."""
        latest = {obs_id: (value, event_id) for obs_id, value, event_id in entries}
        if not latest:
            return
        rows = [
            {"workspace": workspace, "observation_id": k, "value": v, "event_id": e}
            for k, (v, e) in latest.items()
        ]
        with self.engine.begin() as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(observation_ledger)
            statement = statement.on_conflict_do_update(
                index_elements=["workspace", "observation_id"],
                set_={"value": statement.excluded.value, "event_id": statement.excluded.event_id},
            )
            for start in range(0, len(rows), CHUNK * 4):
                connection.execute(statement, rows[start : start + CHUNK * 4])

    def get(self, workspace: str, observation_id: str) -> tuple[float, str] | None:
        return self.lookup(workspace, [observation_id]).get(observation_id)
