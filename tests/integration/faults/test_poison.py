"""Fault 6: poison events straight onto the bus — bad JSON, an unknown type, an invalid field —
each in the DLQ with its error, the projection unchanged; then `truenorth dlq list / show /
replay` lets an operator fix one and replay it, and refuses the ones still invalid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.integration.faults.support import (
    caught_up,
    eventually,
    heads,
    publish_events,
    publish_raw,
    raw_messages,
    replay_digest,
    run,
    stored_digest_at,
)
from truenorth.alignment.app import build_app
from truenorth.bus.embedded import EmbeddedNats
from truenorth.cli import app as cli
from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, Observation
from truenorth.contract.strategy import ObjectiveAdded, ObjectiveSetData
from truenorth.settings import AlignmentSettings, SharedSettings

NOW = datetime.now(UTC)
WS = "poison"


def observation(oid: str, value: float) -> MetricObserved:
    day = NOW - timedelta(days=1)
    return MetricObserved(
        workspace=WS,
        aggregate_id="c-1",
        data=Observation(
            observation_id=oid,
            campaign_id="c-1",
            metric="leads",
            value=value,
            period_start=day,
            period_end=day + timedelta(hours=1),
            source="test",
        ),
    )


def scenario() -> list[EnvelopeFields]:
    spec = ObjectiveSpec(
        objective_id="leads",
        name="Leads",
        kpi="leads",
        target=1000,
        start=NOW - timedelta(days=30),
        deadline=NOW + timedelta(days=30),
    )
    return [
        ObjectiveAdded(workspace=WS, aggregate_id="acme", data=ObjectiveSetData(objective=spec)),
        CampaignLaunched(
            workspace=WS,
            aggregate_id="c-1",
            data=CampaignLaunchedData(
                campaign_id="c-1",
                objective_ids=("leads",),
                channel="search",
                segment="smb",
                budget=10_000,
                start=NOW - timedelta(days=30),
                end=NOW + timedelta(days=30),
            ),
        ),
        observation("o-1", 100),
    ]


def actual(client: TestClient) -> float | None:
    objectives = client.get(f"/v1/workspaces/{WS}/objectives").json()["objectives"]
    return float(objectives[0]["actual"]) if objectives else None


def shows(client: TestClient, value: float) -> bool:
    """The scrape snapshot is rebuilt asynchronously after a commit."""
    return bool(eventually(lambda: actual(client) == value, 10, 0.05, f"actual == {value}"))


@pytest.fixture
def alignment(own_nats: EmbeddedNats, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    database_url = f"sqlite:///{tmp_path / 'alignment.db'}"
    shared = SharedSettings(nats_url=own_nats.url, data_dir=tmp_path, workspace=WS)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=0.2, port=0)
    with TestClient(build_app(shared, settings)) as client:
        yield client, database_url


def dlq(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["dlq", *args, "--nats-url", url], env={"COLUMNS": "300"})


def test_poison_goes_to_the_dlq_and_an_operator_fixes_and_replays_it(
    own_nats: EmbeddedNats, alignment: tuple[TestClient, str], tmp_path: Path
) -> None:
    client, database_url = alignment
    url = own_nats.url
    run(publish_events(url, scenario()))
    eventually(lambda: caught_up(database_url, run(heads(url))), 15, what="caught up")
    before = stored_digest_at(database_url)
    assert shows(client, 100)

    good = json.loads(observation("o-2", 50).model_dump_json())
    invalid_field = {**good, "data": {**good["data"], "value": "lots"}}
    unknown_type = {**good, "type": "MetricTeleported"}
    bad_json = b'{"type": "ObjectiveAdded", "workspace": "poison", oops'
    poison = [
        (f"tn.{WS}.strategy.acme", bad_json),
        (f"tn.{WS}.campaigns.c-1", json.dumps(unknown_type).encode()),
        (f"tn.{WS}.metrics.c-1", json.dumps(invalid_field).encode()),
    ]
    sequences = run(publish_raw(url, poison))
    eventually(lambda: caught_up(database_url, run(heads(url))), 15, what="poison consumed")

    # all three in the DLQ, with their errors; the projection did not move
    letters = eventually(
        lambda: (m := run(raw_messages(url, "DLQ", f"tn.{WS}.dlq.alignment"))) and len(m) >= 3,
        10,
        what="three dead letters",
    )
    letters = run(raw_messages(url, "DLQ", f"tn.{WS}.dlq.alignment"))
    assert len(letters) == 3
    by_subject = {m.headers["Tn-Original-Subject"]: m for m in letters}
    for (subject, payload), (stream, sequence) in zip(
        poison, zip(("STRATEGY", "CAMPAIGNS", "METRICS"), sequences, strict=True), strict=True
    ):
        letter = by_subject[subject]
        assert letter.data == payload  # the original bytes
        assert letter.headers["Tn-Original-Stream"] == stream
        assert letter.headers["Tn-Original-Sequence"] == str(sequence)
        assert letter.headers["Tn-Attempts"] == "1"
        assert letter.headers["Tn-Error"]
    assert "json" in by_subject[poison[0][0]].headers["Tn-Error"].lower()
    assert "MetricTeleported" in by_subject[poison[1][0]].headers["Tn-Error"]
    assert "value" in by_subject[poison[2][0]].headers["Tn-Error"]
    assert stored_digest_at(database_url) == before == replay_digest(url)
    assert shows(client, 100)
    eventually(  # the gauge follows at the next tick
        lambda: "truenorth_dlq_messages 3.0" in client.get("/metrics").text, 5, 0.1, "DLQ gauge"
    )

    # list: sequence, original subject, error, attempts, time
    listed = dlq(url, "list", "--service", "alignment", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["original_subject"] for r in rows] == [s for s, _ in poison]
    assert all(r["error"] and r["attempts"] == 1 and r["time"] for r in rows)
    table = dlq(url, "list")
    assert table.exit_code == 0 and "MetricTeleported" in table.stdout
    bad_json_seq, unknown_seq, invalid_seq = (r["sequence"] for r in rows)

    # still invalid: refused with the error, nothing published
    head_before = run(heads(url))
    refused = dlq(url, "replay", str(bad_json_seq), str(unknown_seq))
    assert refused.exit_code == 1
    assert f"refused {bad_json_seq}" in refused.output and "still invalid" in refused.output
    wrong_subject = tmp_path / "wrong.json"
    wrong_subject.write_text(json.dumps({**good, "aggregate_id": "c-2"}))
    moved = dlq(url, "replay", str(invalid_seq), "--edit", str(wrong_subject))
    assert moved.exit_code == 1 and "belongs on" in moved.output
    assert run(heads(url)) == head_before

    # fix the invalid field, replay it: counted once, hidden from list, not replayable again
    shown = dlq(url, "show", str(invalid_seq), "--raw")
    assert json.loads(shown.stdout)["data"]["value"] == "lots"
    fixed = tmp_path / "fixed.json"
    fixed.write_text(shown.stdout.replace('"lots"', "50"))
    replayed = dlq(url, "replay", str(invalid_seq), "--edit", str(fixed))
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {invalid_seq} → tn.{WS}.metrics.c-1 (METRICS" in replayed.stdout
    assert shows(client, 150)
    again = dlq(url, "replay", str(invalid_seq), "--edit", str(fixed))
    assert again.exit_code == 1 and "already replayed" in again.output
    pending = dlq(url, "list", "--json")
    assert [json.loads(line)["sequence"] for line in pending.stdout.splitlines()] == [
        bad_json_seq,
        unknown_seq,
    ]
    everything = dlq(url, "list", "--json", "--all")
    notes = {r["sequence"]: r["replayed"] for r in map(json.loads, everything.stdout.splitlines())}
    assert notes[invalid_seq]["edited"] is True and notes[invalid_seq]["stream"] == "METRICS"
    assert notes[bad_json_seq] is None
    eventually(lambda: caught_up(database_url, run(heads(url))), 10, what="caught up again")
    assert stored_digest_at(database_url) == replay_digest(url)


def test_a_dead_letter_that_fails_to_publish_is_not_lost(
    own_nats: EmbeddedNats, alignment: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DLQ publish fails once (the bus hiccups): the batch is not committed, comes back,
    and its poison reaches the DLQ on the second delivery; the good event is folded once."""
    from truenorth.alignment import batches

    client, database_url = alignment
    url = own_nats.url
    run(publish_events(url, scenario()))
    eventually(lambda: caught_up(database_url, run(heads(url))), 15, what="caught up")
    real, failures = batches.dead_letter_poison, []

    async def flaky(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(args)
            raise TimeoutError("nats: timeout")
        await real(*args, **kwargs)

    monkeypatch.setattr(batches, "dead_letter_poison", flaky)
    good = observation("o-2", 50)
    run(publish_raw(url, [(f"tn.{WS}.metrics.c-1", b"{not json")]))
    run(publish_events(url, [good]))
    letters = eventually(
        lambda: run(raw_messages(url, "DLQ", f"tn.{WS}.dlq.alignment")), 20, what="dead letter"
    )
    assert failures, "the first publish was made to fail"
    assert [m.data for m in letters] == [b"{not json"]
    assert shows(client, 150)  # o-1 (100) + o-2 (50), counted once
    eventually(lambda: caught_up(database_url, run(heads(url))), 15, what="caught up again")
    assert stored_digest_at(database_url) == replay_digest(url)
