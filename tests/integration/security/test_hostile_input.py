"""Hostile input at the metrics doors (issue 17, findings 7, 8, 9, 11 and 14), against the real
nats-server: never a 5xx, never a loop, never a lost or silently truncated row."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats

from tests.integration.campaigns.support import Bus
from tests.integration.metrics.conftest import make_client, row
from truenorth.bus.deadletter import INVALID_WORKSPACE as INVALID
from truenorth.bus.eventstore import provision
from truenorth.bus.streams import intake_subject

NDJSON = {"content-type": "application/x-ndjson"}


def ndjson(*rows: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def test_every_joined_gzip_member_is_read(nats_url: str, tmp_path: Path, workspace: str) -> None:
    body = b"".join(gzip.compress(ndjson(row(f"o{i}", campaign_id="c1"))) for i in range(3))
    with make_client(nats_url, tmp_path, workspace) as client:
        response = client.post(
            f"/v1/workspaces/{workspace}/metrics",
            content=body,
            headers={**NDJSON, "content-encoding": "gzip"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert len(Bus(nats_url).events(workspace, "metrics")) == 3


def test_a_megabyte_invalid_row_is_answered_on_its_own_and_kept_as_an_excerpt(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    huge = row("bad", campaign_id="c1", source="x" * 2_000_000)
    with make_client(nats_url, tmp_path, workspace, max_request_bytes=4_000_000) as client:
        response = client.post(
            f"/v1/workspaces/{workspace}/metrics",
            content=ndjson(row("good", campaign_id="c1"), huge),
            headers=NDJSON,
        )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 1)
    letters = Bus(nats_url).raw("DLQ", f"tn.{workspace}.dlq.metrics")
    assert len(letters) == 1
    headers, data = letters[0]
    assert len(data) < 100_000
    assert headers["Tn-Body-Bytes"] == str(len(json.dumps(huge)))
    assert len(headers["Tn-Body-Sha256"]) == 64


def test_deep_nesting_is_422_over_http(nats_url: str, tmp_path: Path, workspace: str) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    nested_row = json.dumps({**row("o1"), "source": "s"})[:-1].encode() + b', "x": '
    nested_row += b"[" * 5000 + b"]" * 5000 + b"}"
    with make_client(nats_url, tmp_path, workspace) as client:
        url = f"/v1/workspaces/{workspace}/metrics"
        response = client.post(url, content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        response = client.post(url, content=nested_row + b"\n", headers=NDJSON)
        assert response.status_code == 422, response.text
        assert "nested too deep" in response.text
    assert Bus(nats_url).events(workspace, "metrics") == []


def test_deep_nesting_on_the_nats_intake_is_dead_lettered_once(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    with make_client(nats_url, tmp_path, workspace):

        async def send() -> None:
            nc = await nats.connect(nats_url)
            await provision(nc.jetstream())
            await nc.jetstream().publish(
                intake_subject(workspace, "metrics"), b"[" * 5000 + b"]" * 5000
            )
            await nc.close()

        asyncio.run(send())
        bus = Bus(nats_url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not bus.raw("DLQ", f"tn.{workspace}.dlq.metrics"):
            time.sleep(0.2)
        letters = bus.raw("DLQ", f"tn.{workspace}.dlq.metrics")
    assert len(letters) == 1
    assert "nest" in letters[0][0]["Tn-Error"]


def test_latin1_body_is_refused_naming_the_encoding(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    body = ndjson(row("o1", campaign_id="c1", source="café")).replace(
        "café".encode(), "café".encode("latin-1")
    )
    with make_client(nats_url, tmp_path, workspace) as client:
        response = client.post(f"/v1/workspaces/{workspace}/metrics", content=body, headers=NDJSON)
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.text
    assert Bus(nats_url).events(workspace, "metrics") == []


def test_ten_concurrent_identical_batches_all_get_an_answer(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    body = ndjson(*(row(f"o{i}", campaign_id="c1") for i in range(300)))
    with make_client(nats_url, tmp_path, workspace) as client:

        def post(_: int) -> int:
            response = client.post(
                f"/v1/workspaces/{workspace}/metrics", content=body, headers=NDJSON
            )
            return response.status_code

        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(post, range(10), timeout=60))
    assert statuses == [200] * 10
    assert len(Bus(nats_url).events(workspace, "metrics")) == 300


ALIAS_BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ["id: s1", "name: bomb"]
)


def strategy_client(nats_url: str, data_dir: Path) -> Any:
    from fastapi.testclient import TestClient

    from truenorth.settings import SharedSettings, StrategySettings
    from truenorth.strategy.app import build_app

    shared = SharedSettings(nats_url=nats_url, data_dir=data_dir)
    return TestClient(build_app(shared, StrategySettings(port=0)))


def test_a_yaml_alias_bomb_is_422_naming_the_line_within_a_second(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    with strategy_client(nats_url, tmp_path) as client:
        started = time.monotonic()
        response = client.post(
            f"/v1/workspaces/{workspace}/strategies/s1/apply",
            content=ALIAS_BOMB,
            headers={"content-type": "application/yaml"},
        )
        assert time.monotonic() - started < 5
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert "aliases" in error["message"]
    assert error["line"] >= 1


def test_a_latin1_strategy_document_is_refused_not_stored_as_mojibake(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    text = Path("examples/b2b-tech-c-level.yaml").read_text()
    text = text.replace("name:", "name: Café", 1)
    with strategy_client(nats_url, tmp_path) as client:
        strategy_id = next(
            line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("id:")
        )
        response = client.post(
            f"/v1/workspaces/{workspace}/strategies/{strategy_id}/apply",
            content=text.encode("latin-1", errors="replace"),
            headers={"content-type": "application/yaml"},
        )
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.json()["errors"][0]["message"]
    assert Bus(nats_url).events(workspace, "strategy") == []


def test_validate_refuses_alias_bombs_and_latin1_files_with_a_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from truenorth.cli import app

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("id: s1\nname: Café\n".encode("latin-1"))
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + Path("examples/b2b-tech-c-level.yaml").read_bytes())
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(bomb)])
    assert result.exit_code == 1 and "aliases" in result.output, result.output
    result = runner.invoke(app, ["validate", str(latin)])
    assert result.exit_code == 1 and "UTF-8" in result.output and "latin.yaml:2:" in result.output
    assert runner.invoke(app, ["validate", str(bom)]).exit_code == 0


def test_emit_metrics_names_the_line_of_a_latin1_csv_and_takes_encoding(
    nats_url: str, tmp_path: Path, workspace: str, monkeypatch: Any
) -> None:
    from typer.testing import CliRunner

    from truenorth.client import MetricsClient
    from truenorth.metrics import cli

    path = tmp_path / "export.csv"
    path.write_bytes(
        "observation_id,campaign_id,metric,value,period_start,period_end,source\n"
        "e1,spring,leads,3,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,crème\n".encode("latin-1")
    )
    runner = CliRunner()
    result = runner.invoke(cli.emit_app, ["metrics", str(path), "--workspace", workspace])
    assert result.exit_code == 2, result.output
    assert "line 2" in result.output and "--encoding" in result.output
    with make_client(nats_url, tmp_path, workspace) as client:
        monkeypatch.setattr(
            cli, "MetricsClient", lambda url, **kw: MetricsClient(url, http=client, **kw)
        )
        result = runner.invoke(
            cli.emit_app,
            ["metrics", str(path), "--workspace", workspace, "--encoding", "latin-1"],
        )
    assert result.exit_code == 0, result.output
    assert Bus(nats_url).events(workspace, "metrics")[0].data.source == "crème"


def test_wildcard_subjects_at_the_intake_are_dead_lettered_under_a_literal_subject(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    with make_client(nats_url, tmp_path, workspace):
        bus = Bus(nats_url)
        for subject in ("tn.*.intake.metrics", "tn.>.intake.metrics"):
            bus.publish(subject, ndjson(row("o1")))

        def stored_subjects() -> list[str]:
            async def work() -> list[str]:
                nc = await nats.connect(nats_url)
                info = await nc.jetstream().stream_info("DLQ", subjects_filter=">")
                await nc.close()
                return list((info.state.subjects or {}).keys())

            return asyncio.run(work())

        def originals() -> set[str]:
            return {h["Tn-Original-Subject"] for h, _ in bus.dead_letters(INVALID, "metrics")}

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "tn.*.intake.metrics" not in originals():
            time.sleep(0.2)
        assert "tn.*.intake.metrics" in originals()
    assert not [s for s in stored_subjects() if "*" in s or ">" in s]


def test_campaigns_and_strategy_name_deep_or_non_utf8_json_bodies(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    from fastapi.testclient import TestClient

    from truenorth.campaigns.app import build_app as campaigns_app
    from truenorth.settings import CampaignsSettings, SharedSettings

    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    json_type = {"content-type": "application/json"}
    with (
        TestClient(campaigns_app(shared, CampaignsSettings())) as campaigns,
        strategy_client(nats_url, tmp_path / "s") as strategy,
    ):
        for call in (
            lambda body: campaigns.post(
                f"/v1/workspaces/{workspace}/campaigns", content=body, headers=json_type
            ),
            lambda body: strategy.put(
                f"/v1/workspaces/{workspace}/strategies/s1", content=body, headers=json_type
            ),
        ):
            deep = call(b"[" * 1000 + b"]" * 1000)
            assert deep.status_code == 422, deep.text
            assert "nests deeper" in deep.json()["errors"][0]["message"]
            latin = call('{"name": "Café"}'.encode("latin-1"))
            assert latin.status_code == 422, latin.text
            assert "UTF-8" in latin.json()["errors"][0]["message"]
    assert Bus(nats_url).events(workspace, "campaigns") == []
    assert Bus(nats_url).events(workspace, "strategy") == []
