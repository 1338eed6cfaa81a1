"""Metric ingestion without I/O: body handling, per-row validation, restatements, ids and
the hand-built event encoding (checked against the contract's models)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.contract.envelope import deterministic_uuid7
from truenorth.contract.metrics import MetricObserved, MetricRestated, Observation
from truenorth.contract.registry import decode, encode
from truenorth.metrics.domain import (
    BodyError,
    Planned,
    body_format,
    classify,
    decompress,
    deterministic_uuid7_str,
    encode_event,
    split_rows,
    validate_rows,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def row(observation_id: str = "o1", value: Any = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "observation_id": observation_id,
        "campaign_id": "c1",
        "metric": "leads",
        "value": value,
        "period_start": "2025-03-01T00:00:00Z",
        "period_end": "2025-03-02T00:00:00Z",
        **extra,
    }


def obs(observation_id: str = "o1", value: float = 1.0) -> Observation:
    return Observation.model_validate(row(observation_id, value))


def test_decompress() -> None:
    body = b"[1,2,3]"
    assert decompress(body, None, 10) == body
    assert decompress(gzip.compress(body), "gzip", 100) == body
    with pytest.raises(BodyError) as bomb:
        decompress(gzip.compress(b" " * 10_000), "gzip", 1000)
    assert bomb.value.status == 413
    with pytest.raises(BodyError) as bad:
        decompress(b"not gzip", "gzip", 100)
    assert bad.value.status == 422
    with pytest.raises(BodyError) as truncated:
        decompress(gzip.compress(body)[:-6], "gzip", 100)
    assert truncated.value.status == 422
    with pytest.raises(BodyError) as unknown:
        decompress(body, "br", 100)
    assert unknown.value.status == 415


def test_body_format() -> None:
    assert body_format("application/json; charset=utf-8") == "json"
    assert body_format(None) == "json"
    assert body_format("application/x-ndjson") == "ndjson"
    assert body_format("application/jsonl") == "ndjson"
    with pytest.raises(BodyError):
        body_format("text/csv")


def test_rows_are_counted_before_validation() -> None:
    ndjson = b"\n".join(orjson.dumps(row(f"o{i}")) for i in range(5))
    with pytest.raises(BodyError) as caught:
        split_rows(ndjson + b"\n\n", "ndjson", 4)
    assert caught.value.status == 413
    assert len(split_rows(ndjson, "ndjson", 5)) == 5
    with pytest.raises(BodyError):
        split_rows(orjson.dumps([row()] * 3), "json", 2)
    assert len(split_rows(orjson.dumps(row()), "json", 1)) == 1  # one object is one row
    with pytest.raises(BodyError) as scalar:
        split_rows(b"42", "json", 10)
    assert scalar.value.status == 422


def test_validation_keeps_indices_lines_and_original_bytes() -> None:
    lines = [
        orjson.dumps(row("a")),
        b"",
        b"{broken",
        orjson.dumps(row("b", value="x")),
        orjson.dumps(row("c")),
    ]
    validated = validate_rows(split_rows(b"\n".join(lines), "ndjson", 10))
    assert [i for i, _ in validated.valid] == [0, 3]
    assert [(r.index, r.line) for r in validated.rejected] == [(1, 3), (2, 4)]
    assert validated.rejected[0].raw == b"{broken"
    assert validated.rejected[1].errors[0]["field"] == "value"
    assert validated.rejected[1].raw == lines[3]
    json_rows = validate_rows(
        split_rows(orjson.dumps([row("a"), 5, row("b", extra=1)]), "json", 10)
    )
    assert [i for i, _ in json_rows.valid] == [0]
    assert json_rows.rejected[0].errors[0]["field"] == "(row)"
    assert json_rows.rejected[1].errors[0]["field"] == "extra"
    assert orjson.loads(json_rows.rejected[1].raw)["extra"] == 1


def test_classify_observed_duplicate_restated_in_order() -> None:
    rows = [
        (0, obs("a", 1)),
        (1, obs("a", 1)),
        (2, obs("a", 2)),
        (3, obs("b", 5)),
        (4, obs("a", 1)),
    ]
    planned = classify("ws", rows, {"b": (5.0, "prior-id")})
    assert [p.kind for p in planned] == [
        "observed",
        "duplicate",
        "restated",
        "duplicate",
        "restated",
    ]
    assert planned[2].previous_value == 1 and planned[4].previous_value == 2
    ids = [p.event_id for p in planned if p.event_id]
    assert len(set(ids)) == 3  # A→B→A gets three distinct ids
    again = classify("ws", rows, {"b": (5.0, "prior-id")})
    assert [p.event_id for p in again] == [p.event_id for p in planned]  # retries: same ids
    assert planned[0].event_id == str(deterministic_uuid7(rows[0][1].period_end, "ws", "a", 1.0))


@settings(max_examples=100)
@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
    ),
    parts=st.lists(
        st.one_of(st.text(max_size=20), st.floats(allow_nan=False), st.integers()), max_size=4
    ),
)
def test_fast_id_matches_the_contract(moment: datetime, parts: list[object]) -> None:
    assert deterministic_uuid7_str(moment, *parts) == str(deterministic_uuid7(moment, *parts))


@settings(max_examples=60)
@given(
    value=st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    previous=st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    offset=st.integers(min_value=0, max_value=10**7),
    source=st.text(max_size=30),
    restated=st.booleans(),
)
def test_hand_built_events_decode_to_the_contract_models(
    value: float, previous: float, offset: int, source: str, restated: bool
) -> None:
    start = T0 + timedelta(seconds=offset)
    observation = Observation(
        observation_id="x:1",
        campaign_id="c-1",
        metric="leads",
        value=value,
        period_start=start,
        period_end=start + timedelta(hours=1),
        source=source,
    )
    planned = Planned(
        0, "restated" if restated else "observed", observation, "id", previous if restated else None
    )
    planned.event_id = deterministic_uuid7_str(observation.period_end, "ws", "x:1", value)
    payload = encode_event("ws", planned, T0, "tester")
    event = decode(payload)
    common = {
        "event_id": planned.event_id,
        "workspace": "ws",
        "aggregate_id": "c-1",
        "occurred_at": observation.period_end,
        "recorded_at": T0,
        "source": source,
        "actor": "tester",
    }
    if restated:
        expected: Any = MetricRestated(
            **common, data={**observation.model_dump(), "previous_value": previous}
        )
    else:
        expected = MetricObserved(**common, data=observation)
    assert event == expected
    assert decode(encode(expected)) == event


def test_joined_gzip_members_and_zero_padding_are_all_read() -> None:
    import gzip

    from truenorth.metrics.domain import inflate_members

    body = gzip.compress(b"a\n") + gzip.compress(b"b\n") + b"\x00" * 8
    assert inflate_members(body, 100) == b"a\nb\n"


def test_a_gzip_bomb_is_413_a_truncated_or_broken_body_422() -> None:
    import gzip

    from truenorth.metrics.domain import BodyError, inflate_members

    bomb = gzip.compress(b"0" * 1_000_000)
    for body, status in (
        (bomb, 413),
        (gzip.compress(b"a small body")[:-6], 422),
        (b"not gzip at all", 422),
        (gzip.compress(b"a") + b"trailing garbage", 422),
    ):
        with pytest.raises(BodyError) as refused:
            inflate_members(body, 1000)
        assert refused.value.status == status
