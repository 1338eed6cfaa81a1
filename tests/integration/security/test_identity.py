"""Identity and scope with HTTP auth required (issue 17, findings 4, 5 and 15's rotation and
file modes), against the real services and nats-server: the token's name is the actor, tokens
may be bound to workspaces, `/metrics` needs the `metrics` scope, a rotation with grace 0 is
refused at once, and the data files are the owner's only."""

from __future__ import annotations

import importlib
import json
import stat
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus, eventually
from tests.integration.metrics.conftest import row
from truenorth.auth import TokenStore, bindings
from truenorth.settings import SERVICE_SETTINGS, SharedSettings

CAMPAIGN = {
    "campaign_id": "c1",
    "objective_ids": [],
    "channel": "search",
    "segment": "smb",
    "budget": 100,
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-12-01T00:00:00Z",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Services:
    def __init__(self, nats_url: str, data_dir: Path, workspace: str) -> None:
        self.data_dir = data_dir
        self.tokens_url = f"sqlite:///{data_dir / 'tokens.db'}"
        self.store = TokenStore.open(self.tokens_url)
        self.shared = SharedSettings(
            nats_url=nats_url,
            data_dir=data_dir,
            workspace=workspace,
            auth="required",
            tokens_database_url=self.tokens_url,
        )
        self.clients: dict[str, TestClient] = {}

    def __enter__(self) -> Services:
        for service in ("campaigns", "metrics", "alignment"):
            module = importlib.import_module(f"truenorth.{service}.app")
            client = TestClient(module.build_app(self.shared, SERVICE_SETTINGS[service]()))
            client.__enter__()
            self.clients[service] = client
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self.clients.values():
            client.__exit__(None, None, None)

    def token(self, scopes: list[str], workspaces: tuple[str, ...] = ()) -> tuple[str, str]:
        name = "t-" + uuid.uuid4().hex[:8]
        return name, self.store.create(name, [*scopes, *bindings(workspaces)])[1]


@pytest.fixture
def services(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[Services]:
    Bus(nats_url).add_objective(workspace, "o1")  # the workspace has a strategy
    with Services(nats_url, tmp_path, workspace) as running:
        yield running


def test_metrics_exposition_needs_the_metrics_scope(services: Services) -> None:
    alignment = services.clients["alignment"]
    _, reader = services.token(["read"])
    _, scraper = services.token(["metrics"])
    assert alignment.get("/metrics").status_code == 401
    assert alignment.get("/metrics", headers=bearer(reader)).status_code == 403
    assert alignment.get("/metrics", headers=bearer(scraper)).status_code == 200
    assert alignment.get("/healthz").status_code == 200  # probes stay open


def test_the_token_name_is_the_actor_and_another_actor_is_refused(
    services: Services, nats_url: str, workspace: str
) -> None:
    name, token = services.token(["emit-campaigns", "emit-metrics"])
    campaigns = services.clients["campaigns"]
    url = f"/v1/workspaces/{workspace}/campaigns"
    forged = campaigns.post(url, json={**CAMPAIGN, "actor": "ceo@corp"}, headers=bearer(token))
    assert forged.status_code == 422, forged.text
    assert forged.json()["errors"][0]["field"] == "actor"
    assert campaigns.post(url, json=CAMPAIGN, headers=bearer(token)).status_code == 201
    metrics = services.clients["metrics"]
    murl = f"/v1/workspaces/{workspace}/metrics"
    spoofed = metrics.post(murl, json=[row("o1")], headers={**bearer(token), "X-Actor": "ceo"})
    assert spoofed.status_code == 422
    assert spoofed.json()["errors"][0]["field"] == "X-Actor"
    assert metrics.post(murl, json=[row("o1")], headers=bearer(token)).status_code == 200
    bus = Bus(nats_url)
    actors = [e.actor for e in bus.events(workspace, "campaigns")]
    actors += [e.actor for e in bus.events(workspace, "metrics")]
    assert actors == [name, name]


def test_a_token_bound_to_a_workspace_writes_nowhere_else(
    services: Services, nats_url: str, workspace: str
) -> None:
    _, token = services.token(["emit-metrics"], workspaces=(workspace,))
    metrics = services.clients["metrics"]
    other = "ws-" + uuid.uuid4().hex[:10]
    refused = metrics.post(
        f"/v1/workspaces/{other}/metrics", json=[row("o1")], headers=bearer(token)
    )
    assert refused.status_code == 403
    assert workspace in refused.json()["detail"]
    assert Bus(nats_url).events(other, "metrics") == []
    ok = metrics.post(
        f"/v1/workspaces/{workspace}/metrics", json=[row("o1")], headers=bearer(token)
    )
    assert ok.status_code == 200
    assert metrics.post("/v1/metrics", json=[row("o2")], headers=bearer(token)).status_code == 200


def test_rotation_with_grace_zero_refuses_the_old_secret_at_once(services: Services) -> None:
    alignment = services.clients["alignment"]
    name, old = services.token(["metrics"])
    assert alignment.get("/metrics", headers=bearer(old)).status_code == 200
    _, new, _ = services.store.rotate(name, grace=timedelta(0))
    assert alignment.get("/metrics", headers=bearer(old)).status_code == 401
    assert alignment.get("/metrics", headers=bearer(new)).status_code == 200


def test_data_files_are_readable_by_their_owner_only(services: Services) -> None:
    for name in ("metrics.db", "tokens.db"):
        mode = stat.S_IMODE((services.data_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))


def test_data_for_a_workspace_without_a_strategy_is_refused_naming_it(
    services: Services, nats_url: str
) -> None:
    _, token = services.token(["emit-campaigns", "emit-metrics"])
    invented = "ws-" + uuid.uuid4().hex[:10]
    metrics = services.clients["metrics"].post(
        f"/v1/workspaces/{invented}/metrics", json=[row("o1")], headers=bearer(token)
    )
    campaigns = services.clients["campaigns"].post(
        f"/v1/workspaces/{invented}/campaigns", json=CAMPAIGN, headers=bearer(token)
    )
    for response in (metrics, campaigns):
        assert response.status_code == 404, response.text
        assert invented in response.json()["detail"]
        assert "strategy" in response.json()["detail"]
    bus = Bus(nats_url)
    bus.publish(f"tn.{invented}.intake.metrics", b"[]")
    bus.publish(
        f"tn.{invented}.intake.campaigns", json.dumps({"command": "launch", **CAMPAIGN}).encode()
    )
    for door in ("metrics", "campaigns"):
        letters = eventually(lambda door=door: bus.dead_letters(invented, door))
        assert letters[0][0]["Tn-Reason"] == "unknown_workspace"
    assert bus.events(invented, "metrics") == [] and bus.events(invented, "campaigns") == []
    bus.add_objective(invented, "o1")  # now it has one
    accepted = services.clients["metrics"].post(
        f"/v1/workspaces/{invented}/metrics", json=[row("o1")], headers=bearer(token)
    )
    assert accepted.status_code == 200
