"""`target-truenorth`: the Singer target (singer-sdk) that sends tap records to truenorth's
metrics service as observations.

Checkpoints: singer-sdk emits a STATE only from `drain_all`, after every sink's batch was
processed; here `process_batch` returns only after truenorth acknowledged the batch (a 2xx
means JetStream stored every row), and every incoming STATE drains first. So a STATE on stdout
means every record before it is in truenorth, and a run interrupted at any point resumes from
its last STATE without loss; rows sent twice are duplicates (deterministic observation ids).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import click
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

from truenorth.client import (
    CampaignsClient,
    Conflict,
    IngestSummary,
    InvalidRequest,
    MetricsClient,
    NotFound,
    TruenorthError,
)
from truenorth.singer.mapping import (
    MappingError,
    MappingInvalid,
    StreamMap,
    load_mapping,
    mapping_from_data,
)
from truenorth.singer.placing import Unplaceable, launch_command, place

DEFAULT_URL = "http://127.0.0.1:8103"
DEFAULT_CAMPAIGNS_URL = "http://127.0.0.1:8102"


class StrictFailure(Exception):
    """`--strict`: a record could not be placed (or truenorth rejected a row)."""


class RunReport:
    """What happened to the run's records, per reason; printed at the end (stderr)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records = 0
        self.placed_records = 0
        self.sent = Counter[str]()
        self.unplaced = Counter[str]()
        self.unknown_campaigns: set[str] = set()
        self.launches = Counter[str]()

    def count_launch(self, outcome: str) -> None:
        with self._lock:
            self.launches[outcome] += 1

    def count_unplaced(self, stream: str, reason: str) -> None:
        with self._lock:
            self.unplaced[f"{stream}: {reason}"] += 1

    def count_answer(self, batch: IngestSummary) -> None:
        with self._lock:
            self.sent.update(
                accepted=batch.accepted,
                duplicates=batch.duplicates,
                restated=batch.restated,
                rejected=batch.rejected,
            )
            self.unknown_campaigns.update(batch.unknown_campaigns)

    def lines(self) -> list[str]:
        sent = ", ".join(
            f"{key} {self.sent[key]}" for key in ("accepted", "duplicates", "restated", "rejected")
        )
        lines = [
            f"target-truenorth: {self.records} records, {self.placed_records} placed; "
            f"observations: {sent}"
        ]
        if self.launches:
            lines.append(
                "campaigns: " + ", ".join(f"{k} {v}" for k, v in sorted(self.launches.items()))
            )
        if self.unplaced:
            lines.append(f"records or metrics not placed: {sum(self.unplaced.values())}")
            lines.extend(f"  {count} × {reason}" for reason, count in self.unplaced.most_common())
        if self.unknown_campaigns:
            names = ", ".join(sorted(self.unknown_campaigns))
            lines.append(
                f"observations for campaigns truenorth has not heard of (kept; they count once "
                f"the campaign is launched): {names}"
            )
        return lines


class TruenorthSink(BatchSink):
    """Records of one stream → observations, POSTed per batch to the metrics service."""

    MAX_SIZE_DEFAULT = 10_000

    def __init__(self, target: Target, stream_name: str, schema: dict, key_properties: Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        assert isinstance(target, TargetTruenorth)
        self.owner = target
        self.mapping = target.stream_map.for_stream(stream_name)

    def process_record(self, record: dict, context: dict) -> None:
        report = self.owner.report
        report.records += 1
        if self.mapping is None:
            self._unplaced(f"stream {self.stream_name!r} is not mapped")
            return
        if self.mapping.kind == "campaigns":
            self._place_launch(record, context)
            return
        try:
            placement = place(self.stream_name, self.mapping, record, self.key_properties or ())
        except Unplaceable as exc:
            self._unplaced(str(exc))
            return
        for problem in placement.problems:
            self._unplaced(problem)
        report.placed_records += 1
        context.setdefault("rows", []).extend(placement.observations)

    def _place_launch(self, record: dict, context: dict) -> None:
        assert self.mapping is not None
        try:
            command = launch_command(self.stream_name, self.mapping, record)
        except Unplaceable as exc:
            self._unplaced(str(exc))
            return
        self.owner.report.placed_records += 1
        context.setdefault("launches", []).append(command)

    def _unplaced(self, reason: str) -> None:
        self.owner.report.count_unplaced(self.stream_name, reason)
        if self.owner.strict:
            raise StrictFailure(f"--strict: a record of {self.stream_name!r} not placed: {reason}")

    def process_batch(self, context: dict) -> None:
        launches = context.get("launches")
        if launches:
            self.owner.launch(launches)
        rows = context.get("rows")
        if rows:
            self.owner.send(rows)


class TargetTruenorth(Target):
    """Singer target for truenorth: tap records → metric observations."""

    name = "target-truenorth"
    default_sink_class = TruenorthSink

    config_jsonschema: ClassVar[dict] = th.PropertiesList(
        th.Property(
            "url",
            th.StringType,
            description="metrics service base URL (default: the one `truenorth up` recorded, "
            f"else {DEFAULT_URL})",
        ),
        th.Property("workspace", th.StringType, description="default: the service's"),
        th.Property("token", th.StringType, secret=True, description="API token (emit-metrics)"),
        th.Property("mapping_file", th.StringType, description="YAML mapping file"),
        th.Property("mapping", th.ObjectType(), description="the mapping, inline"),
        th.Property(
            "strict", th.BooleanType, default=False, description="fail on any unplaced record"
        ),
        th.Property("data_dir", th.StringType, description="truenorth data dir (finds the URL)"),
        th.Property(
            "campaigns_url",
            th.StringType,
            description="campaigns service base URL, for streams of kind campaigns",
        ),
        th.Property("request_rows", th.IntegerType, default=5000, description="rows per request"),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report = RunReport()
        self.strict = bool(self.config.get("strict"))
        self.stream_map = self._load_mapping()
        self._client: MetricsClient | None = None
        self._send_lock = threading.Lock()
        self._written_state: dict | None = None
        self._campaigns: CampaignsClient | None = None

    def _load_mapping(self) -> StreamMap:
        path = self.config.get("mapping_file")
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise MappingInvalid(
                    str(path), [MappingError("", f"cannot read: {reason}")]
                ) from None
            return load_mapping(text, str(path))
        return mapping_from_data(self.config.get("mapping"), "config.mapping")

    @property
    def client(self) -> MetricsClient:
        if self._client is None:
            self._client = MetricsClient(
                self.config.get("url")
                or recorded_url("metrics", self.config.get("data_dir"), DEFAULT_URL),
                workspace=self.config.get("workspace"),
                batch_size=int(self.config.get("request_rows") or 5000),
                token=self.config.get("token"),
                timeout=60.0,
            )
        return self._client

    def send(self, rows: list[dict[str, Any]]) -> None:
        """Return only once truenorth acknowledged every row (raises otherwise: no STATE)."""
        with self._send_lock:
            try:
                summary = self.client.send(rows, raise_on_rejected=False, on_batch=self._answered)
            except TruenorthError as exc:
                raise RuntimeError(f"truenorth did not take the batch: {exc}") from exc
        if summary.rejected:
            for error in summary.errors:
                detail = "; ".join(f"{e['field']}: {e['message']}" for e in error.get("errors", []))
                self.report.count_unplaced("truenorth", f"rejected row: {detail}")
            if self.strict:
                raise StrictFailure(f"--strict: truenorth rejected {summary.rejected} rows")

    def launch(self, commands: list[dict[str, Any]]) -> None:
        """Launch each campaign (idempotent: a re-run is a duplicate, a campaign launched by
        someone else is counted as already there); raises when truenorth is unavailable."""
        for command in commands:
            fields = dict(command)
            campaign_id = fields.pop("campaign_id")
            try:
                answer = self.campaigns_client.launch(campaign_id, **fields)
            except Conflict:
                self.report.count_launch("already there")
                continue
            except (InvalidRequest, NotFound) as exc:
                fields_at_fault = ", ".join(e.get("field", "") for e in getattr(exc, "errors", []))
                reason = f"launch refused: {exc.message}" + (
                    f" ({fields_at_fault})" if fields_at_fault else ""
                )
                self.report.count_unplaced("truenorth", reason)
                if self.strict:
                    raise StrictFailure(f"--strict: {campaign_id}: {reason}") from exc
                continue
            except TruenorthError as exc:
                raise RuntimeError(f"truenorth did not take the launch: {exc}") from exc
            self.report.count_launch("duplicate" if answer.get("duplicate") else "launched")

    @property
    def campaigns_client(self) -> CampaignsClient:
        if self._campaigns is None:
            url = self.config.get("campaigns_url") or recorded_url(
                "campaigns", self.config.get("data_dir"), DEFAULT_CAMPAIGNS_URL
            )
            self._campaigns = CampaignsClient(
                url,
                workspace=self.config.get("workspace") or "default",
                token=self.config.get("token"),
            )
        return self._campaigns

    def _answered(self, batch: IngestSummary, _total: IngestSummary) -> None:
        self.report.count_answer(batch)

    def _process_state_message(self, message_dict: dict) -> None:
        previous = self._latest_state
        super()._process_state_message(message_dict)
        if self._latest_state != previous:
            self.drain_all()  # writes the STATE once everything before it is acknowledged

    def _write_state_message(self, state: dict) -> None:
        if state != self._written_state:  # drain_all at the end repeats the last one
            super()._write_state_message(state)
            self._written_state = state

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        for line in self.report.lines():
            print(line, file=sys.stderr, flush=True)
        if self._client is not None:
            self._client.close()

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: Any = None,
        strict: bool = False,
    ) -> None:
        from singer_sdk.plugin_base import _ConfigInput

        if about:
            cls.print_about(about_format)
            sys.exit(0)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config, validate_config=True, parse_env_config=config.parse_env
            )
        except MappingInvalid as exc:
            print(exc.render(), file=sys.stderr)
            sys.exit(2)
        target.strict = target.strict or strict
        try:
            target.listen(file_input)
        except StrictFailure as exc:
            for line in [str(exc), *target.report.lines()]:
                print(line, file=sys.stderr, flush=True)
            sys.exit(1)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--strict"],
                is_flag=True,
                help="fail the run at the first record the mapping cannot place "
                "(no STATE after it), or when truenorth rejects a row",
            )
        )
        return command


def recorded_url(service: str, data_dir: str | None, default: str) -> str:
    """The service URL `truenorth up` recorded in the data dir, else the default."""
    from truenorth.endpoints import recorded_endpoints

    endpoints = recorded_endpoints(Path(data_dir) if data_dir else None)
    return str(endpoints.get(service) or default)


cli = TargetTruenorth.cli
