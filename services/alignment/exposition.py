"""The Prometheus exposition of a snapshot (docs/design.md, "What leadership and alerting
see"), rendered once per snapshot, off the event loop, so a scrape only joins bytes.

Why not a prometheus-client `Collector`: `generate_latest` costs 5-10 µs per sample, and 1 000
objectives are ~17 000 samples, i.e. 100-170 ms on the event loop per scrape against a 50 ms
target. The text format is the one `generate_latest` writes (version 0.0.4);
`tests/unit/alignment/test_exposition.py` checks it byte for byte against prometheus-client
rendering the same families.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Protocol

from prometheus_client.utils import floatToGoString

from truenorth import metric_names as m
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, Snapshot

OBJECTIVE_LABELS = ("workspace", "strategy", "objective", "kpi")
CHANNEL_LABELS = ("workspace", "strategy", "channel")
DRIFT_LABELS = ("workspace", "strategy", "objective", "kind", "severity")
INCIDENT_LABELS = ("workspace", "strategy", "incident", "severity")
STRATEGY_LABELS = ("workspace", "strategy")

OBJECTIVE_GAUGES: tuple[tuple[str, str, str], ...] = (
    # (metric name, help text, ObjectiveSnapshot attribute)
    (m.OBJECTIVE_PROGRESS, "(actual - baseline) / (target - baseline), not clipped", "progress"),
    (m.OBJECTIVE_EXPECTED, "Expected progress by now (elapsed share or phasing)", "expected"),
    (m.OBJECTIVE_PACE, "progress / expected progress", "pace"),
    (m.OBJECTIVE_ACTUAL, "Actual KPI value over the objective's window", "actual"),
    (m.OBJECTIVE_TARGET, "Target KPI value", "target"),
    (m.OBJECTIVE_BASELINE, "Baseline KPI value", "baseline"),
    (
        m.OBJECTIVE_FORECAST_ATTAINMENT,
        "Forecast progress at the deadline",
        "forecast_attainment",
    ),
    (
        m.OBJECTIVE_FORECAST_ATTAINMENT_LOW,
        "Low end of the forecast attainment's 80 % interval",
        "forecast_attainment_low",
    ),
    (
        m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH,
        "High end of the forecast attainment's 80 % interval",
        "forecast_attainment_high",
    ),
    (
        m.OBJECTIVE_HIT_PROBABILITY,
        "Probability of reaching the target by the deadline (0-1)",
        "hit_probability",
    ),
    (
        m.OBJECTIVE_REQUIRED_RATE,
        "KPI units per day still needed to reach target",
        "required_rate_per_day",
    ),
    (m.OBJECTIVE_DEADLINE, "Deadline as a Unix timestamp", "deadline_seconds"),
    (m.OBJECTIVE_SPEND, "Spend of the objective's linked campaigns in its window", "spend"),
    (
        m.OBJECTIVE_CHECKIN_CONFIDENCE,
        "The owner's confidence at the latest check-in: 0 low, 1 medium, 2 high",
        "checkin_confidence",
    ),
    (
        m.OBJECTIVE_CHECKIN_CORRECTED,
        "The KPI value the owner gave at the latest check-in (with its source)",
        "checkin_corrected_value",
    ),
    (m.OBJECTIVE_CHECKIN_TIME, "Unix time of the latest check-in", "checkin_seconds"),
)


def render(snapshot: Snapshot) -> bytes:
    """The snapshot's samples in the Prometheus text format."""
    return b"".join(_lines(snapshot, _Plain).values())


def render_exposition(snapshot: Snapshot) -> dict[str, bytes]:
    """The text of each metric family by name, in exposition order (for `name[]` filters),
    zlib-compressed: what the service holds between snapshots. Held as text it was 22 MB at
    10 000 objectives, twice during a swap; compressed ~1/8 of that, and a scrape
    decompresses it in ~2 ms per MB of text (benchmarks/README.md, seventh session)."""
    return _lines(snapshot, lambda: zlib.compressobj(1))


def select(families: Mapping[str, bytes], names: Collection[str] | None) -> list[bytes]:
    """The text of the named families (all when `names` is None), in exposition order."""
    return [
        zlib.decompress(packed)
        for name, packed in families.items()
        if names is None or name in names
    ]


def _lines(snapshot: Snapshot, packer: Callable[[], _Packer]) -> dict[str, bytes]:
    parts = _Families(packer)
    _objectives(parts, snapshot.objectives)
    _channels(parts, snapshot)
    _drifts(parts, snapshot)
    _incidents(parts, snapshot)
    _strategy_changes(parts, snapshot)
    return parts.packed()


class _Packer(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


class _Plain:
    """A packer that keeps the text as it is."""

    def compress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Families:
    """Lines grouped by the metric family they belong to, each family's text packed as it is
    written, `LINES_PER_PACK` lines at a time. Joined whole and then compressed, the text of
    every family was held at once, twice: at 10 000 objectives and 111 000 open incidents a
    rendering peaked at ~100 MB above what it kept (benchmarks/README.md, fifteenth
    session)."""

    def __init__(self, packer: Callable[[], _Packer]) -> None:
        self._new_packer = packer
        self._packed: dict[str, bytes] = {}
        self._name: str | None = None
        self._packer: _Packer = _Plain()
        self._chunks: list[bytes] = []
        self._lines: list[str] = []

    def start(self, name: str, help_text: str, kind: str = "gauge") -> None:
        self._finish()
        self._name, self._packer = name, self._new_packer()
        self.append(f"# HELP {name} {_escape_help(help_text)}\n# TYPE {name} {kind}\n")

    def append(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= LINES_PER_PACK:
            self._pack()

    def packed(self) -> dict[str, bytes]:
        self._finish()
        return self._packed

    def _pack(self) -> None:
        self._chunks.append(self._packer.compress("".join(self._lines).encode()))
        self._lines = []

    def _finish(self) -> None:
        if self._name is not None:
            self._pack()
            self._chunks.append(self._packer.flush())
            self._packed[self._name] = b"".join(self._chunks)
            self._name, self._chunks = None, []


LINES_PER_PACK = 1_000


def _objectives(parts: _Families, objectives: Sequence[ObjectiveSnapshot]) -> None:
    labels = [_labels(OBJECTIVE_LABELS, _objective_label_values(o)) for o in objectives]
    for name, help_text, attribute in OBJECTIVE_GAUGES:
        parts.start(name, help_text)
        for objective, label_text in zip(objectives, labels, strict=True):
            value = getattr(objective, attribute)
            if value is not None:
                parts.append(f"{name}{{{label_text}}} {_number(value)}\n")
    parts.start(m.OBJECTIVE_STATUS, "1 for the objective's current status")
    for objective in objectives:
        before, after = _labels_around(
            OBJECTIVE_LABELS, _objective_label_values(objective), "status"
        )
        for candidate in m.STATUSES:
            value = "1.0" if objective.status == candidate else "0.0"
            parts.append(f'{m.OBJECTIVE_STATUS}{{{before}status="{candidate}"{after}}} {value}\n')


def _objective_label_values(o: ObjectiveSnapshot) -> tuple[str, ...]:
    return (o.workspace, o.strategy_id, o.objective_id, o.kpi)


OTHER_CHANNEL = "other"
"""The label of every channel a strategy does not name (the drift text names the real one)."""


def _channels(parts: _Families, snapshot: Snapshot) -> None:
    parts.start(m.CHANNEL_SPEND_SHARE, "Share of period spend per channel (0-1)")
    shares: dict[tuple[str, str, str], float] = {}
    for c in snapshot.channels:
        key = (c.workspace, c.strategy_id, c.channel if c.declared else OTHER_CHANNEL)
        shares[key] = shares.get(key, 0.0) + c.actual_share
    for key, share in shares.items():
        parts.append(
            f"{m.CHANNEL_SPEND_SHARE}{{{_labels(CHANNEL_LABELS, key)}}} {_number(share)}\n"
        )
    parts.start(m.CHANNEL_PLANNED_SHARE, "Planned share of period budget per channel (0-1)")
    for c in snapshot.channels:
        if c.planned_share is not None:
            labels = _labels(CHANNEL_LABELS, (c.workspace, c.strategy_id, c.channel))
            parts.append(f"{m.CHANNEL_PLANNED_SHARE}{{{labels}}} {_number(c.planned_share)}\n")
    parts.start(m.ALIGNED_SPEND_RATIO, "Spend on campaigns tied to active objectives / all spend")
    for a in snapshot.aligned_spend:
        if a.ratio is not None:
            labels = _labels(STRATEGY_LABELS, (a.workspace, a.strategy_id or ""))
            parts.append(f"{m.ALIGNED_SPEND_RATIO}{{{labels}}} {_number(a.ratio)}\n")


def _drifts(parts: _Families, snapshot: Snapshot) -> None:
    parts.start(m.DRIFT_OPEN, "Open drifts")
    for c in snapshot.drifts.counts:
        labels = _labels(
            DRIFT_LABELS, (c.workspace, c.strategy_id, c.objective_id, c.kind, c.severity)
        )
        parts.append(f"{m.DRIFT_OPEN}{{{labels}}} {_number(c.count)}\n")


def _incidents(parts: _Families, snapshot: Snapshot) -> None:
    """One series per open incident (its facets grouped in `OpenDrifts.of`), labelled with
    the highest severity among them, so an alert fires once per cause."""
    parts.start(m.INCIDENT_OPEN, "Open incidents (drifts with one cause), by highest severity")
    for i in snapshot.drifts.incidents:
        labels = _labels(INCIDENT_LABELS, (i.workspace, i.strategy_id, i.incident, i.severity))
        parts.append(f"{m.INCIDENT_OPEN}{{{labels}}} 1.0\n")


def _strategy_changes(parts: _Families, snapshot: Snapshot) -> None:
    parts.start(
        m.STRATEGY_CHANGES,
        "Strategy change events by type (for Grafana annotations)",
        kind="counter",
    )
    for s in snapshot.strategies:
        for kind, count in s.counts:
            labels = _labels((*STRATEGY_LABELS, "kind"), (s.workspace, s.strategy_id, kind))
            parts.append(f"{m.STRATEGY_CHANGES}{{{labels}}} {_number(count)}\n")
    parts.start(m.STRATEGY_LAST_CHANGE, "Unix time of the last strategy change")
    for s in snapshot.strategies:
        if s.last_change_seconds:
            labels = _labels(STRATEGY_LABELS, (s.workspace, s.strategy_id))
            parts.append(f"{m.STRATEGY_LAST_CHANGE}{{{labels}}} {_number(s.last_change_seconds)}\n")


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    """`name="value"` pairs sorted by name, as prometheus-client writes them."""
    pairs = sorted(zip(names, values, strict=True))
    return ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs)


def _labels_around(names: Sequence[str], values: Sequence[str], extra: str) -> tuple[str, str]:
    """The label text before and after where the label `extra` sorts in, each with its comma:
    the status series of one objective differ in that label only."""
    pairs = sorted(zip(names, values, strict=True))
    before = [pair for pair in pairs if pair[0] < extra]
    after = [pair for pair in pairs if pair[0] > extra]
    return (
        "".join(f'{name}="{_escape_label(value)}",' for name, value in before),
        "".join(f',{name}="{_escape_label(value)}"' for name, value in after),
    )


def _number(value: float) -> str:
    return floatToGoString(value)


def _escape_label(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
