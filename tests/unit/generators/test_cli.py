"""`truenorth dashboards …` / `truenorth rules …` through Typer, publish against a fake Grafana."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.unit.deploy.tools import DEPLOY, REPO
from truenorth.generators.cli import dashboards_app, rules_app

runner = CliRunner()


def test_dashboards_generate(tmp_path: Path) -> None:
    result = runner.invoke(dashboards_app, ["generate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")
    )


def test_rules_generate(tmp_path: Path) -> None:
    strategy = DEPLOY / "prometheus" / "strategies" / "growth-2026.yaml"
    result = runner.invoke(rules_app, ["generate", "--out", str(tmp_path), str(strategy)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "acme.growth-2026.rules.yml").is_file()


def test_rules_generate_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(rules_app, ["generate", "--out", str(tmp_path), str(REPO / "README.md")])
    assert result.exit_code == 2
    assert "README.md" in result.output


class FakeGrafana(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, str | None, Any]] = []

    def _reply(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, self.headers.get("Authorization"), None))
        self._reply([])

    def do_POST(self) -> None:
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.requests.append(("POST", self.path, self.headers.get("Authorization"), data))
        self._reply({"uid": "truenorth", "status": "success"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[str]:
    pytest.importorskip("grafana_client", reason="grafana-client is not installed")
    FakeGrafana.requests = []
    server = HTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_publish_creates_the_folder_and_overwrites_each_dashboard(grafana: str) -> None:
    result = runner.invoke(dashboards_app, ["publish", "--url", grafana, "--token", "t0k"])
    assert result.exit_code == 0, result.output
    posts = [r for r in FakeGrafana.requests if r[0] == "POST"]
    assert [p[1] for p in posts] == ["/api/folders"] + ["/api/dashboards/db"] * 3
    assert all(r[2] == "Bearer t0k" for r in FakeGrafana.requests)
    uploads = [p[3] for p in posts[1:]]
    assert {u["dashboard"]["uid"] for u in uploads} == {
        "truenorth-leadership",
        "truenorth-objective",
        "truenorth-pipeline",
    }
    assert all(u["overwrite"] and u["folderUid"] == "truenorth" for u in uploads)


def test_publish_needs_exactly_one_credential() -> None:
    result = runner.invoke(dashboards_app, ["publish", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
