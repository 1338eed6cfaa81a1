"""The target's checkpoints and reports, against a fake metrics service (httpx MockTransport)."""

import contextlib
import io
import json

import httpx
import pytest

from truenorth.client import MetricsClient, RetryPolicy
from truenorth.singer.target import StrictFailure, TargetTruenorth


class FakeMetrics:
    def __init__(self, fail_after: int | None = None) -> None:
        self.rows: list[dict] = []
        self.fail_after = fail_after

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail_after is not None and len(self.rows) >= self.fail_after:
            return httpx.Response(503, json={"detail": "JetStream unavailable"})
        body = request.content.decode()
        rows = (
            json.loads(body) if body.startswith("[") else [json.loads(x) for x in body.splitlines()]
        )
        self.rows.extend(rows)
        return httpx.Response(
            200,
            json={
                "accepted": len(rows),
                "duplicates": 0,
                "restated": 0,
                "rejected": 0,
                "errors": [],
            },
        )


def _target(service: FakeMetrics, **config) -> TargetTruenorth:
    target = TargetTruenorth(config=config)
    target._client = MetricsClient(
        "http://metrics",
        http=httpx.Client(base_url="http://metrics", transport=httpx.MockTransport(service)),
        retry=RetryPolicy(attempts=1),
    )
    return target


def _run(target: TargetTruenorth, lines: list[dict]) -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target.listen(io.StringIO("\n".join(json.dumps(line) for line in lines) + "\n"))
    return [json.loads(line) for line in out.getvalue().splitlines()]


SCHEMA = {
    "type": "SCHEMA",
    "stream": "campaign_performance_report",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {
            "campaign": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "segments": {"type": "object", "properties": {"date": {"type": "string"}}},
            "metrics": {"type": "object", "properties": {"clicks": {"type": "integer"}}},
        },
    },
}


def _record(day: int) -> dict:
    return {
        "type": "RECORD",
        "stream": "campaign_performance_report",
        "record": {
            "campaign": {"id": 17},
            "segments": {"date": f"2025-03-{day:02d}"},
            "metrics": {"clicks": day},
        },
    }


def _state(day: int) -> dict:
    return {"type": "STATE", "value": {"day": day}}


def test_each_state_is_emitted_after_the_rows_before_it_were_acknowledged():
    service = FakeMetrics()
    states = _run(
        _target(service), [SCHEMA, _record(1), _record(2), _state(2), _record(3), _state(3)]
    )
    assert states == [{"day": 2}, {"day": 3}]
    assert [r["value"] for r in service.rows] == [1, 2, 3]


def test_no_state_is_emitted_when_truenorth_did_not_take_the_rows():
    service = FakeMetrics(fail_after=2)
    out = io.StringIO()
    target = _target(service)
    with contextlib.redirect_stdout(out), pytest.raises(RuntimeError, match="did not take"):
        target.listen(
            io.StringIO(
                "\n".join(
                    json.dumps(m)
                    for m in [SCHEMA, _record(1), _record(2), _state(2), _record(3), _state(3)]
                )
            )
        )
    assert out.getvalue().splitlines() == ['{"day": 2}']


def test_unplaceable_records_are_counted_per_reason_and_reported(capsys):
    service = FakeMetrics()
    other = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    no_campaign = {
        "type": "RECORD",
        "stream": "campaign_performance_report",
        "record": {"segments": {"date": "2025-03-01"}, "metrics": {"clicks": 1}},
    }
    lines = [
        SCHEMA,
        other,
        _record(1),
        no_campaign,
        no_campaign,
        {"type": "RECORD", "stream": "users", "record": {"id": 1}},
    ]
    target = _target(service)
    _run(target, lines)
    assert dict(target.report.unplaced) == {
        "campaign_performance_report: missing campaign id (campaign.id)": 2,
        "users: stream 'users' is not mapped": 1,
    }
    report = capsys.readouterr().err
    assert "2 × campaign_performance_report: missing campaign id (campaign.id)" in report
    assert len(service.rows) == 1


def test_strict_stops_at_the_first_unplaceable_record_before_any_later_state():
    service = FakeMetrics()
    no_campaign = {
        "type": "RECORD",
        "stream": "campaign_performance_report",
        "record": {"segments": {"date": "2025-03-01"}},
    }
    target = _target(service, strict=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(StrictFailure, match="missing campaign id"):
        target.listen(
            io.StringIO(
                "\n".join(
                    json.dumps(m)
                    for m in [SCHEMA, _record(1), _state(1), no_campaign, _record(2), _state(2)]
                )
            )
        )
    assert out.getvalue().splitlines() == ['{"day": 1}']
