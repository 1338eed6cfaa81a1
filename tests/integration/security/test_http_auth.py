"""Bearer tokens on the four real services (TRUENORTH_AUTH=required): 401 without or with a
bad token, 403 without the route's scope, the call goes through with it; /metrics needs the
`metrics` scope; health and the docs stay open and read-only."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from truenorth.auth import SCOPES, TokenStore
from truenorth.settings import SERVICE_SETTINGS, SharedSettings

WS = "ws-" + uuid.uuid4().hex[:10]
START, END = "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    ok: tuple[int, ...] = (200,)


def campaign_body() -> dict[str, Any]:
    return {
        "campaign_id": "c-" + uuid.uuid4().hex[:8],
        "objective_ids": [],
        "channel": "search",
        "segment": "smb",
        "budget": 100,
        "start": START,
        "end": END,
    }


def observation() -> list[dict[str, Any]]:
    return [
        {
            "observation_id": "o-" + uuid.uuid4().hex[:8],
            "campaign_id": "c1",
            "metric": "leads",
            "value": 1,
            "period_start": "2026-03-01T00:00:00Z",
            "period_end": "2026-03-02T00:00:00Z",
            "source": "crm",
        }
    ]


STRATEGY_BODY = {"name": "Acme", "target_segments": ["smb"], "allowed_channels": ["search"]}

ROUTES: dict[str, dict[str, Any]] = {
    "strategy": {
        "write_scope": "strategy-write",
        "read": Call("GET", f"/v1/workspaces/{WS}/strategies/s-read", ok=(200, 404)),
        "write": lambda: Call(
            "PUT",
            f"/v1/workspaces/{WS}/strategies/s-{uuid.uuid4().hex[:8]}",
            STRATEGY_BODY,
            ok=(200, 201),
        ),
    },
    "campaigns": {
        "write_scope": "emit-campaigns",
        "read": Call("GET", f"/v1/workspaces/{WS}/campaigns/nope", ok=(404,)),
        "write": lambda: Call("POST", f"/v1/workspaces/{WS}/campaigns", campaign_body(), (201,)),
    },
    "metrics": {
        "write_scope": "emit-metrics",
        "read": Call("GET", f"/v1/workspaces/{WS}/metrics/observations/nope", ok=(404,)),
        "write": lambda: Call("POST", f"/v1/workspaces/{WS}/metrics", observation()),
    },
    "alignment": {
        "write_scope": "admin",
        "read": Call("GET", f"/v1/workspaces/{WS}/objectives"),
        "write": None,
    },
}


@dataclass
class Secured:
    clients: dict[str, TestClient]
    store: TokenStore
    tokens: dict[str, str]
    """scope -> a token holding only that scope."""


@pytest.fixture(scope="module")
def secured(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    data_dir = Path(tmp_path_factory.mktemp("auth"))
    tokens_url = f"sqlite:///{data_dir / 'tokens.db'}"
    store = TokenStore.open(tokens_url)
    tokens = {scope: store.create(f"only-{scope}", [scope])[1] for scope in SCOPES}
    shared = SharedSettings(
        nats_url=nats_url,
        data_dir=data_dir,
        workspace=WS,
        auth="required",
        tokens_database_url=tokens_url,
        auth_cache_seconds=0.2,
    )
    clients: dict[str, TestClient] = {}
    try:
        for service in ROUTES:
            module = importlib.import_module(f"truenorth.{service}.app")
            settings = SERVICE_SETTINGS[service]()
            client = TestClient(module.build_app(shared, settings))
            client.__enter__()
            clients[service] = client
        yield Secured(clients, store, tokens)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def send(client: TestClient, call: Call, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(call.method, call.path, json=call.body, headers=headers)


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"]


@pytest.mark.parametrize("service", list(ROUTES))
def test_no_token_or_a_bad_one_is_401(secured: Secured, service: str) -> None:
    client, routes = secured.clients[service], ROUTES[service]
    calls = [routes["read"]] + ([routes["write"]()] if routes["write"] else [])
    valid = secured.tokens["admin"]
    key = valid.split("_")[1]
    for call in calls:
        assert_401(send(client, call))
        assert_401(send(client, call, "nonsense"))
        assert_401(send(client, call, f"tn_{key}_{'A' * 43}"))  # right key, wrong secret
        assert_401(send(client, call, f"tn_{'0' * 12}_{'A' * 43}"))  # unknown key
        response = client.request(
            call.method, call.path, json=call.body, headers={"Authorization": f"Basic {valid}"}
        )
        assert_401(response)


@pytest.mark.parametrize("service", list(ROUTES))
def test_every_get_needs_read(secured: Secured, service: str) -> None:
    client, call = secured.clients[service], ROUTES[service]["read"]
    for scope in ("strategy-write", "emit-campaigns", "emit-metrics"):
        response = send(client, call, secured.tokens[scope])
        assert response.status_code == 403, (scope, response.text)
        assert "read" in response.json()["detail"]
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert send(client, call, secured.tokens["read"]).status_code in call.ok
    assert send(client, call, secured.tokens["admin"]).status_code in call.ok


@pytest.mark.parametrize("service", ["strategy", "campaigns", "metrics"])
def test_writes_need_the_services_write_scope(secured: Secured, service: str) -> None:
    client, routes = secured.clients[service], ROUTES[service]
    write_scope = routes["write_scope"]
    for scope in SCOPES:
        if scope in (write_scope, "admin"):
            continue
        response = send(client, routes["write"](), secured.tokens[scope])
        assert response.status_code == 403, (scope, response.text)
        assert write_scope in response.json()["detail"]
    for scope in (write_scope, "admin"):
        call = routes["write"]()
        response = send(client, call, secured.tokens[scope])
        assert response.status_code in call.ok, (scope, response.text)


@pytest.mark.parametrize("service", list(ROUTES))
def test_health_and_docs_stay_open_and_read_only_metrics_needs_its_scope(
    secured: Secured, service: str
) -> None:
    client = secured.clients[service]
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path
        response = client.post(path, content=b"x")
        assert response.status_code == 405, path
        assert response.json()["detail"]
    assert_401(client.get("/metrics"))
    scrape = {"Authorization": f"Bearer {secured.tokens['metrics']}"}
    assert client.get("/metrics", headers=scrape).status_code == 200
    assert client.delete("/metrics", headers=scrape).status_code == 405
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_revocation_and_rotation_take_effect_within_the_cache_ttl(secured: Secured) -> None:
    client, call = secured.clients["alignment"], ROUTES["alignment"]["read"]
    store = secured.store
    name = "rot-" + uuid.uuid4().hex[:6]
    _, first = store.create(name, ["read"])
    assert send(client, call, first).status_code == 200
    _, second = store.rotate(name, grace=timedelta(hours=1))[:2]
    # during the grace period both secrets work
    assert send(client, call, first).status_code == 200
    assert send(client, call, second).status_code == 200
    _, third, _ = store.rotate(name, grace=timedelta(0))
    assert store.revoke(name) == 1
    time.sleep(0.3)  # > TRUENORTH_AUTH_CACHE_SECONDS of the fixture
    for token in (first, second, third):
        assert_401(send(client, call, token))


def test_auth_off_needs_no_token(nats_url: str, tmp_path: Path) -> None:
    from truenorth.alignment.app import build_app
    from truenorth.settings import AlignmentSettings

    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path, auth="off")
    with TestClient(build_app(shared, AlignmentSettings())) as client:
        assert client.get(f"/v1/workspaces/{WS}/objectives").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_a_what_if_needs_only_the_read_scope_since_it_writes_nothing(secured: Secured) -> None:
    client = secured.clients["alignment"]
    call = Call(
        "POST",
        f"/v1/workspaces/{WS}/strategies/none-here/whatif",
        {"shifts": [{"from": {"channel": "a"}, "to": {"channel": "b"}, "amount": 1}]},
    )
    assert_401(send(client, call))
    assert send(client, call, secured.tokens["metrics"]).status_code == 403
    assert send(client, call, secured.tokens["read"]).status_code == 404  # through: no strategy
