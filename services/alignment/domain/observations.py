"""Where the projection remembers each observation's last value: the port a fold asks "have I
counted this observation before, and as what?" (restatements replace, duplicates count once).

The projection itself only keeps per-period totals (`series`). The observations are kept by
an `ObservationLog`:
- `InMemoryObservations` keeps them all, compactly: for folds with no store behind them (as-of
  replays, tests, benchmarks of the pure fold);
- the live service and the rebuild use the store's observation rows instead
  (`truenorth.alignment.folding.StoredObservations`), fetched per batch, so that the service's
  memory does not grow with the number of observations (DESIGN §9: idempotency beyond the
  duplicate window is the store's job).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple, Protocol

from truenorth.alignment.domain.idindex import IdIndex
from truenorth.alignment.domain.series import ObservationArrays


class ObservationRecord(NamedTuple):
    """An observation as last counted (times in microseconds)."""

    campaign_id: str
    metric: str
    value: float
    start: int
    end: int
    recorded: int

    def payload(self) -> dict[str, object]:
        """Its projection row's payload (the store's format)."""
        return {
            "c": self.campaign_id,
            "m": self.metric,
            "v": self.value,
            "s": self.start,
            "e": self.end,
            "r": self.recorded,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> ObservationRecord:
        return cls(
            str(payload["c"]),
            str(payload["m"]),
            float(payload["v"]),  # type: ignore[arg-type]
            int(payload["s"]),  # type: ignore[call-overload]
            int(payload["e"]),  # type: ignore[call-overload]
            int(payload["r"]),  # type: ignore[call-overload]
        )


class ObservationLog(Protocol):
    def get(self, workspace: str, observation_id: str) -> ObservationRecord | None:
        """The observation as last counted, None if never seen."""

    def put(
        self, workspace: str, observation_id: str, record: ObservationRecord, series: int
    ) -> None:
        """Remember the observation as now counted (`series`: the one it is counted in)."""

    def restored(
        self, workspace: str, observation_id: str, record: ObservationRecord, series: int
    ) -> None:
        """An observation read back from the store on start-up."""

    def everything(self) -> Iterator[tuple[str, str, ObservationRecord]] | None:
        """Every observation remembered, or None when the log only holds a window of them
        (then the store has the full set)."""

    def fetch(self, keys: set[str]) -> None:
        """Before a batch is folded: get ready to answer `get` for these observations
        ("workspace/observation_id")."""

    def committed(self) -> None:
        """What was folded so far has been handed to a commit."""


class InMemoryObservations:
    """Every observation in a few flat arrays, found through one `IdIndex` per workspace:
    ~36 bytes plus the id's length + 20 per observation."""

    __slots__ = ("_arrays", "_ends", "_indexes", "_recorded", "_series", "_starts", "_values")

    def __init__(self, arrays: ObservationArrays) -> None:
        self._arrays = arrays
        """The projection's: a series number names (campaign, metric)."""
        self._indexes: dict[str, IdIndex] = {}
        self._series = array("I")
        self._values = array("d")
        self._starts = array("q")
        self._ends = array("q")
        self._recorded = array("q")

    def __len__(self) -> int:
        return len(self._values)

    def get(self, workspace: str, observation_id: str) -> ObservationRecord | None:
        index = self._indexes.get(workspace)
        row = None if index is None else index.get(observation_id)
        return None if row is None else self._record(row)

    def _record(self, row: int) -> ObservationRecord:
        series, arrays = self._series[row], self._arrays
        return ObservationRecord(
            arrays.series_campaigns[series],
            arrays.series_metrics[series],
            self._values[row],
            self._starts[row],
            self._ends[row],
            self._recorded[row],
        )

    def put(
        self, workspace: str, observation_id: str, record: ObservationRecord, series: int
    ) -> None:
        index = self._indexes.get(workspace)
        if index is None:
            index = self._indexes[workspace] = IdIndex()
        new_row = len(self._values)
        row = index.setdefault(observation_id, new_row)
        if row == new_row:
            self._series.append(series)
            self._values.append(record.value)
            self._starts.append(record.start)
            self._ends.append(record.end)
            self._recorded.append(record.recorded)
        else:
            self._series[row] = series
            self._values[row] = record.value
            self._starts[row] = record.start
            self._ends[row] = record.end
            self._recorded[row] = record.recorded

    restored = put

    def fetch(self, keys: set[str]) -> None:
        """Nothing to fetch: every observation is here."""

    def committed(self) -> None:
        """Nothing to let go of."""

    def everything(self) -> Iterator[tuple[str, str, ObservationRecord]]:
        for workspace, index in self._indexes.items():
            for observation_id, row in index.items():
                yield workspace, observation_id, self._record(row)
