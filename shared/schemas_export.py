"""JSON Schema for every event and an AsyncAPI document, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Union

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from truenorth import __version__
from truenorth.bus.streams import STREAM_OF_CONTEXT, intake_subject
from truenorth.contract.metrics import Observation
from truenorth.contract.registry import CONTEXT_EVENTS, EVENT_TYPES


def event_schemas() -> dict[str, dict[str, Any]]:
    return {name: cls.model_json_schema() for name, cls in sorted(EVENT_TYPES.items())}


def asyncapi_document() -> dict[str, Any]:
    broker = NatsBroker()
    for context, events in CONTEXT_EVENTS.items():
        stream = STREAM_OF_CONTEXT[context].name
        broker.publisher(
            f"tn.{{workspace}}.{context}.{{aggregate_id}}",
            schema=Union[events],  # noqa: UP007 - a runtime union of the context's events
            title=f"{stream}: {context} events",
            description=f"Events of the {context} context, stored in the {stream} stream.",
        )
    broker.publisher(
        intake_subject("{workspace}", "metrics"),
        schema=list[Observation],
        title="INTAKE: metric observations from ops tools",
    )
    spec = AsyncAPI(broker, title="truenorth events", version=__version__, schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in event_schemas().items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    path = out_dir / "asyncapi.json"
    path.write_text(json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n")
    written.append(path)
    return written
