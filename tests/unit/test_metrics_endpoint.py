"""GET /metrics: the registry's text, then the pre-rendered families of the expositions, all
of them or only the ones named with `name[]`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter

from truenorth.http import Exposition, install_common

FAMILIES = {
    "held_a": b"# HELP held_a A\n# TYPE held_a gauge\nheld_a 1.0\n",
    "held_b": b"# HELP held_b B\n# TYPE held_b gauge\nheld_b 2.0\n",
}


def held(names: frozenset[str] | None) -> list[bytes]:
    return [text for name, text in FAMILIES.items() if names is None or name in names]


def client_for(expositions: list[Exposition]) -> Iterator[TestClient]:
    registry = CollectorRegistry()
    Counter("registry_events", "events", registry=registry).inc(3)
    app = FastAPI()
    install_common(
        app, registry=registry, checks={}, max_request_bytes=1024, expositions=expositions
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from client_for([held])


def test_the_registry_comes_first_then_every_family(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    body = response.content
    assert body.startswith(b"# HELP registry_events_total")
    assert body.endswith(FAMILIES["held_a"] + FAMILIES["held_b"])


def test_name_filters_select_families_of_the_registry_and_the_expositions(
    client: TestClient,
) -> None:
    body = client.get("/metrics", params={"name[]": ["held_b", "registry_events_total"]}).content
    assert b"registry_events_total 3.0" in body and b"held_b 2.0" in body
    assert b"held_a" not in body
    assert client.get("/metrics", params={"name[]": "held_a"}).content == FAMILIES["held_a"]


def test_a_service_without_expositions_serves_its_registry() -> None:
    for client in client_for([]):
        assert b"registry_events_total 3.0" in client.get("/metrics").content
