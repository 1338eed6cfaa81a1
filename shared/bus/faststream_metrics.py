"""faststream's Prometheus middleware, with bounded labels.

faststream labels consumed messages with their concrete subject, e.g.
`tn.acme.alignment.<drift id>`: every drift id or campaign id would become new series.
docs/design.md#what-leadership-and-alerting-see
allows labels only from bounded sets, so subjects are reported as their pattern
(`tn.*.<context>.>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.nats.prometheus.provider import (
    BatchNatsMetricsSettingsProvider,
    NatsMetricsSettingsProvider,
)
from faststream.prometheus.middleware import PrometheusMiddleware
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from truenorth.bus.streams import SUBJECT_ROOT


def subject_pattern(subject: str) -> str:
    parts = subject.split(".")
    if len(parts) >= 3 and parts[0] == SUBJECT_ROOT:
        return f"{SUBJECT_ROOT}.*.{parts[2]}.>"
    return "other"


class _Bounded(NatsMetricsSettingsProvider):
    def get_consume_attrs_from_message(self, msg: Any) -> Any:
        attrs = super().get_consume_attrs_from_message(msg)
        return {**attrs, "destination_name": subject_pattern(attrs["destination_name"])}

    def get_publish_destination_name_from_cmd(self, cmd: Any) -> str:
        return subject_pattern(cmd.destination)


class _BoundedBatch(BatchNatsMetricsSettingsProvider):
    def get_consume_attrs_from_message(self, msg: Any) -> Any:
        attrs = super().get_consume_attrs_from_message(msg)
        return {**attrs, "destination_name": subject_pattern(attrs["destination_name"])}

    def get_publish_destination_name_from_cmd(self, cmd: Any) -> str:
        return subject_pattern(cmd.destination)


def _provider(msg: Msg | Sequence[Msg] | None) -> Any:
    if isinstance(msg, Sequence):
        return _BoundedBatch()
    if isinstance(msg, Msg) or msg is None:
        return _Bounded()
    return None


def bounded_prometheus_middleware(registry: CollectorRegistry, app_name: str) -> Any:
    return PrometheusMiddleware(
        settings_provider_factory=_provider, registry=registry, app_name=app_name
    )
