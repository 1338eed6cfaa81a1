"""Slow clients (issue 17, finding 12): connections trickling their headers or their body are
closed by the service's own server configuration (`truenorth.http.server_config`, what
`truenorth serve` runs), while a normal request on another connection is answered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from truenorth.bus.embedded import free_port
from truenorth.http import server_config
from truenorth.metrics.app import build_app
from truenorth.settings import MetricsSettings, SharedSettings


@contextmanager
def metrics_service(nats_url: str, data_dir: Path) -> Iterator[int]:
    port = free_port()
    settings = MetricsSettings(port=port, header_timeout_seconds=1, body_timeout_seconds=2)
    app = build_app(SharedSettings(nats_url=nats_url, data_dir=data_dir), settings)
    config = server_config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        grace=2,
        keep_alive=settings.keep_alive_seconds,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_concurrency=settings.max_concurrency,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def trickle(sock: socket.socket, byte: bytes) -> bool:
    """Send one byte; False once the server has hung up."""
    try:
        sock.sendall(byte)
        sock.settimeout(0.01)
        return sock.recv(1) != b""
    except TimeoutError:
        return True
    except OSError:  # broken pipe, reset
        return False


def test_trickling_headers_and_bodies_are_disconnected(nats_url: str, tmp_path: Path) -> None:
    with metrics_service(nats_url, tmp_path) as port:
        tricklers = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
        body = socket.create_connection(("127.0.0.1", port))
        body.sendall(
            b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n["
        )
        open_ = {id(s): True for s in [*tricklers, body]}
        started = time.monotonic()
        while any(open_.values()) and time.monotonic() - started < 8:
            for sock in tricklers:
                if open_[id(sock)]:
                    open_[id(sock)] = trickle(sock, b"G")
            if open_[id(body)]:
                open_[id(body)] = trickle(body, b" ")
            time.sleep(0.3)  # never idle long enough for a keep-alive timeout
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert not any(open_.values()), f"{sum(open_.values())} slow connections still open"
        for sock in [*tricklers, body]:
            sock.close()
