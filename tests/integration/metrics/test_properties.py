"""Property: whatever rows are thrown at POST /v1/metrics, the answer is never a 5xx, the
counts add up, and no bad row ever becomes an event on the bus."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.integration.campaigns.support import Bus
from tests.integration.metrics.conftest import make_client, row
from truenorth.contract.envelope import utcnow
from truenorth.contract.metrics import Observation
from truenorth.contract.thresholds import too_far_ahead

FIELDS = [
    "observation_id",
    "campaign_id",
    "metric",
    "value",
    "period_start",
    "period_end",
    "source",
]
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(
        [
            "",
            "2025-13-01",
            "2025-03-01T00:00:00",
            "a.b",
            "x" * 300,
            "spring sale",
            "1e999",
            "NaN",
            "2025-03-01T00:00:00+02:00",
        ]
    ),
)


@st.composite
def rows(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["valid", "corrupt", "drop", "extra", "junk"]))
    base = row(
        f"p{draw(st.integers(0, 30))}",
        float(draw(st.integers(0, 3))),
        campaign_id=draw(st.sampled_from(["c1", "c2"])),
    )
    if kind == "valid":
        return base
    if kind == "corrupt":
        return {**base, draw(st.sampled_from(FIELDS)): draw(junk)}
    if kind == "drop":
        base.pop(draw(st.sampled_from(FIELDS)))
        return base
    if kind == "extra":
        return {**base, draw(st.text(min_size=1, max_size=8)): draw(junk)}
    return draw(junk)


def is_valid(item: Any) -> bool:
    try:
        observation = Observation.model_validate(item)
    except ValidationError:
        return False
    return not too_far_ahead(observation.period_end, utcnow())  # a future period: refused


@pytest.fixture(scope="module")
def shared_client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(nats_url, tmp_path_factory.mktemp("prop"), "prop") as client:
        yield client


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(rows(), max_size=12), ndjson=st.booleans())
def test_malformed_rows_never_5xx_and_never_reach_the_bus(
    shared_client: TestClient, nats_url: str, batch: list[Any], ndjson: bool
) -> None:
    workspace = "prop-" + uuid.uuid4().hex[:10]
    if ndjson:
        content = b"\n".join(json.dumps(item).encode() for item in batch)
        headers = {"content-type": "application/x-ndjson"}
    else:
        content = json.dumps(batch).encode()
        headers = {"content-type": "application/json"}
    answer = shared_client.post(
        f"/v1/workspaces/{workspace}/metrics", content=content, headers=headers
    )
    assert answer.status_code < 500, answer.text
    events = Bus(nats_url).events(workspace, "metrics")
    if answer.status_code not in (200, 422) or "accepted" not in answer.json():
        assert events == []
        return
    body = answer.json()
    rows_sent = len(batch)
    assert body["accepted"] + body["duplicates"] + body["restated"] + body["rejected"] == (
        rows_sent
    )
    assert len(events) == body["accepted"] + body["restated"]
    valid_ids = {item["observation_id"] for item in batch if is_valid(item)}
    rejected = {e["index"] for e in body["errors"]}
    assert rejected == {i for i, item in enumerate(batch) if not is_valid(item)}
    assert {e.data.observation_id for e in events} <= valid_ids
