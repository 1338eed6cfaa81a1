"""A real HTTP server on a free port standing in for a Slack incoming webhook: it records
every POSTed JSON body and answers with the statuses it is given, in turn (the last repeats)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    statuses: list[int]
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    answer_get: Any = None
    """What a GET is answered with (JSON), standing in for a service's read API."""
    paths: list[str] = field(default_factory=list)
    posted: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@contextmanager
def webhook(*statuses: int, answer_get: Any = None) -> Iterator[Receiver]:
    receiver = Receiver(list(statuses) or [200], answer_get=answer_get)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            receiver.received.append(json.loads(self.rfile.read(length)))
            status = receiver.answer()
            body = b"ok" if status < 300 else b"invalid_payload"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            receiver.posted.set()

        def do_GET(self) -> None:
            receiver.paths.append(self.path)
            body = json.dumps(receiver.answer_get).encode()
            self.send_response(200 if receiver.answer_get is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/secret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
