"""GET /metrics: gzip for scrapers that accept it (spliced from compressed families), plain
text otherwise, the same text either way; `Accept-Encoding` read as RFC 9110 says."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter

from truenorth.gzip_members import GzipMember
from truenorth.http import Exposition, accepts_gzip, install_common

FAMILIES = {
    "held_a": GzipMember.compress(b"# HELP held_a A\n# TYPE held_a gauge\nheld_a 1.0\n"),
    "held_b": GzipMember.compress(b"# HELP held_b B\n# TYPE held_b gauge\nheld_b 2.0\n"),
}


def held(names: frozenset[str] | None) -> list[GzipMember]:
    return [member for name, member in FAMILIES.items() if names is None or name in names]


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


def raw(client: TestClient, accept_encoding: str, **params: object) -> tuple[dict[str, str], bytes]:
    """Headers and the body as sent on the wire (not decoded)."""
    with client.stream(
        "GET", "/metrics", params=params, headers={"Accept-Encoding": accept_encoding}
    ) as response:
        assert response.status_code == 200
        return dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        (None, False),
        ("", False),
        ("identity", False),
        ("gzip", True),
        ("GZip", True),
        ("x-gzip", True),
        ("gzip, deflate", True),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;Q=0", False),
        ("gzip;q=0.001", True),
        ("gzip ; q=0.5 , identity", True),
        ("*", True),
        ("*;q=0", False),
        ("*;q=0, gzip", True),  # named beats the wildcard
        ("gzip;q=0, *", False),
        ("gzip;q=bogus", False),
        (" , ,gzip", True),
        (["deflate", "gzip"], True),  # several header lines
        (["gzip;q=0", "br"], False),
    ],
)
def test_accept_encoding(header: str | list[str] | None, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


def test_gzip_and_plain_scrapes_carry_the_same_text(client: TestClient) -> None:
    zipped_headers, zipped = raw(client, "gzip")
    plain_headers, plain = raw(client, "identity")
    assert zipped_headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain_headers
    for headers in (zipped_headers, plain_headers):
        assert headers["content-type"] == CONTENT_TYPE_LATEST
        assert headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped) == plain
    assert b"registry_events_total 3.0" in plain
    assert plain.endswith(b"held_a 1.0\n# HELP held_b B\n# TYPE held_b gauge\nheld_b 2.0\n")
    # httpx decodes it whole (one gzip member, not a multi-member stream it would cut short)
    assert client.get("/metrics").content == plain


def test_a_client_without_accept_encoding_gets_plain_text(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Accept-Encoding": ""})
    assert "content-encoding" not in response.headers
    assert response.content.startswith(b"# HELP registry_events_total")


def test_gzip_refused_with_q_0_gets_plain_text(client: TestClient) -> None:
    headers, body = raw(client, "gzip;q=0, deflate")
    assert "content-encoding" not in headers
    assert b"held_b 2.0\n" in body and b"registry_events_total 3.0" in body


@pytest.mark.parametrize("accept_encoding", ["gzip", "identity"])
def test_name_filters_work_in_both_encodings(client: TestClient, accept_encoding: str) -> None:
    headers, body = raw(client, accept_encoding, **{"name[]": ["held_b", "registry_events_total"]})
    text = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    assert b"registry_events_total 3.0" in text and b"held_b 2.0" in text
    assert b"held_a" not in text
    headers, body = raw(client, accept_encoding, **{"name[]": "held_a"})
    text = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    assert text == FAMILIES["held_a"].text()


def test_a_service_without_expositions_serves_its_registry_in_both_encodings() -> None:
    for client in client_for([]):
        zipped_headers, zipped = raw(client, "gzip")
        plain_headers, plain = raw(client, "identity")
        assert zipped_headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain_headers
        assert gzip.decompress(zipped) == plain
        assert b"registry_events_total 3.0" in plain
