"""Request size limits and strict bodies, checked on the real services (issue 7: "Request
size limits; strict models")."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from truenorth.settings import SERVICE_SETTINGS, SharedSettings

LIMIT = 2_000
STRATEGY = {"name": "Acme", "target_segments": ["smb"], "allowed_channels": ["search"]}
CAMPAIGN = {
    "campaign_id": "c1",
    "objective_ids": [],
    "channel": "search",
    "segment": "smb",
    "budget": 100,
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-12-01T00:00:00Z",
}
ROW = {
    "observation_id": "o1",
    "campaign_id": "c1",
    "metric": "leads",
    "value": 1,
    "period_start": "2026-03-01T00:00:00Z",
    "period_end": "2026-03-02T00:00:00Z",
    "source": "crm",
}


def client(service: str, nats_url: str, data_dir: Path, workspace: str) -> TestClient:
    shared = SharedSettings(nats_url=nats_url, data_dir=data_dir, workspace=workspace)
    module = importlib.import_module(f"truenorth.{service}.app")
    return TestClient(module.build_app(shared, SERVICE_SETTINGS[service](max_request_bytes=LIMIT)))


def chunks() -> Iterator[bytes]:
    for _ in range(10):
        yield b" " * 500  # no Content-Length: the limit must cut the stream


def test_bodies_over_the_limit_are_413_with_or_without_content_length(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    writes = {
        "strategy": ("PUT", f"/v1/workspaces/{workspace}/strategies/s1"),
        "campaigns": ("POST", f"/v1/workspaces/{workspace}/campaigns"),
        "metrics": ("POST", f"/v1/workspaces/{workspace}/metrics"),
    }
    for service, (method, path) in writes.items():
        with client(service, nats_url, tmp_path / service, workspace) as test_client:
            big = b"[" + b" " * LIMIT + b"]"
            headers = {"content-type": "application/json"}
            for content in (big, chunks()):
                response = test_client.request(method, path, content=content, headers=headers)
                assert response.status_code == 413, (service, response.text)
                assert str(LIMIT) in response.json()["detail"]


def test_unknown_and_unbounded_fields_are_422_with_the_field_named(
    nats_url: str, tmp_path: Path, workspace: str
) -> None:
    with client("strategy", nats_url, tmp_path / "s", workspace) as test_client:
        path = f"/v1/workspaces/{workspace}/strategies/s1"
        for body, field in (
            ({**STRATEGY, "evil": 1}, "evil"),
            ({**STRATEGY, "name": "x" * 300}, "name"),
        ):
            response = test_client.put(path, json=body)
            assert response.status_code == 422
            assert field in {e["field"] for e in response.json()["errors"]}
    with client("campaigns", nats_url, tmp_path / "c", workspace) as test_client:
        path = f"/v1/workspaces/{workspace}/campaigns"
        for body in ({**CAMPAIGN, "evil": 1}, {**CAMPAIGN, "budget": 1e300}):
            response = test_client.post(path, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["errors"]
    with client("metrics", nats_url, tmp_path / "m", workspace) as test_client:
        path = f"/v1/workspaces/{workspace}/metrics"
        for row, field in (({**ROW, "evil": 1}, "evil"), ({**ROW, "source": "s" * 300}, "source")):
            response = test_client.post(path, json=[row])
            assert response.status_code == 422
            (rejected,) = response.json()["errors"]
            assert field in {e["field"] for e in rejected["errors"]}
