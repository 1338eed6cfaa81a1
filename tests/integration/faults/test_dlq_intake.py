"""`truenorth dlq` on the intake doors' dead letters (the `Tn-*` header dialect of campaigns
and metrics): a NATS-door message and an HTTP-door row, each fixed and replayed through the
metrics NATS door, refused while still invalid."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from tests.integration.faults.support import eventually, publish_raw, run
from tests.integration.metrics.conftest import make_client, row
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.streams import intake_subject
from truenorth.cli import app as cli


def dlq(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["dlq", *args, "--nats-url", url], env={"COLUMNS": "300"})


def pending(url: str) -> list[dict[str, Any]]:
    listed = dlq(url, "list", "--service", "metrics", "--json")
    assert listed.exit_code == 0, listed.output
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_intake_dead_letters_fixed_and_replayed(
    own_nats: EmbeddedNats, tmp_path: Path, workspace: str
) -> None:
    url = own_nats.url
    with make_client(url, tmp_path, workspace) as client:
        base = f"/v1/workspaces/{workspace}/metrics"
        # NATS door: a batch with one bad row is dead-lettered whole (its good row is stored)
        half = [row("n1", 1), {**row("n2", 2), "metric": "Not A Kpi"}]
        run(publish_raw(url, [(intake_subject(workspace, "metrics"), orjson.dumps(half))]))
        # HTTP door: the bad row alone is dead-lettered
        answer = client.post(base, json=[row("h1", 1), {**row("h2", 5), "value": "five"}])
        assert answer.status_code == 200 and answer.json()["rejected"] == 1
        letters = eventually(lambda: len(p := pending(url)) == 2 and p, 10, what="dead letters")
        by_door = {r["original_subject"].split(":")[0]: r for r in letters}
        nats_letter = by_door[intake_subject(workspace, "metrics")]
        http_letter = by_door["http"]
        assert nats_letter["reason"] == "invalid_row"
        assert nats_letter["errors"][0]["field"] == "metric"
        assert http_letter["errors"]

        refused = dlq(url, "replay", "--all", "--service", "metrics")
        assert refused.exit_code == 1
        assert refused.output.count("still invalid") == 2
        assert len(pending(url)) == 2

        fixed = tmp_path / "fixed.json"
        fixed.write_bytes(orjson.dumps([row("n1", 1), row("n2", 2)]))
        done = dlq(url, "replay", str(nats_letter["sequence"]), "--edit", str(fixed))
        assert done.exit_code == 0, done.output
        fixed.write_bytes(orjson.dumps(row("h2", 5)))
        done = dlq(url, "replay", str(http_letter["sequence"]), "--edit", str(fixed))
        assert done.exit_code == 0, done.output
        assert f"→ tn.{workspace}.intake.metrics (INTAKE" in done.stdout

        for oid, value in (("n2", 2), ("h2", 5)):
            found = functools.partial(
                lambda u: client.get(u).status_code == 200, f"{base}/observations/{oid}"
            )
            eventually(found, 10, what=f"{oid} stored")
            assert client.get(f"{base}/observations/{oid}").json()["value"] == value
        assert pending(url) == []
        nothing = dlq(url, "list")
        assert "no dead letters waiting" in nothing.stdout
