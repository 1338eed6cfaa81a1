"""A real Prometheus (Debian's binary) for the e2e test of the dashboards and alert rules.

What is here: locating the binary, a test configuration (1 s scrape and rule evaluation,
one `truenorth-<service>` job per service), a copy of the generated alert rules with short
`for:` holds, a subprocess wrapper around Prometheus's HTTP API, and the list of every PromQL
expression of the committed dashboards with the Grafana variables filled in.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from tests.conftest import require_installed
from truenorth.bus.embedded import free_port
from truenorth.generators.dashboards import (
    NATS_EXPORTER_PREFIXES,
    expressions,
    interpolate,
    metric_names_in,
)
from truenorth.generators.rules import StrategySpec, generate_rules

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "deploy" / "grafana" / "dashboards"
PROMETHEUS = "/usr/bin/prometheus"

SCRAPE_INTERVAL = "1s"
EVALUATION_INTERVAL = "1s"
TEST_HOLD = "2s"
"""Every alert's `for:` in the test's copy of the rules. The generated holds (5m for a paging
burn or critical drift, up to 1h) guard production against flapping; they say nothing about
whether an expression fires. The test keeps every `expr` exactly as generated and only
replaces the hold, still > 0 so each alert really goes pending → firing."""

GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "1s",
    "__interval_ms": "1000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
"""Grafana's built-in variables as a short test time range would set them. `$__rate_interval`
is 4 × the scrape interval at least; 1m keeps several 1 s samples in every rate window."""


LEFTOVER_VARIABLE = re.compile(r"\$\{?[A-Za-z_]")
"""A Grafana variable left after interpolation (`$1` back-references are PromQL's own)."""


def prometheus_binary() -> str:
    """Debian's prometheus (skipped when missing, failed in CI: `require_installed`)."""
    require_installed(os.access(PROMETHEUS, os.X_OK), str(PROMETHEUS), "scripts/install-tools.sh")
    return PROMETHEUS


# -- configuration ----------------------------------------------------------------------------


def write_config(path: Path, service_urls: Mapping[str, str], rules_dir: Path) -> Path:
    """prometheus.yml scraping each service as job `truenorth-<service>` (the job names the
    generated pipeline alerts and the *Scrape targets up* panel select on)."""
    config = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": EVALUATION_INTERVAL,
        },
        "rule_files": [str(rules_dir / "*.rules.yml")],
        "scrape_configs": [
            {
                "job_name": f"truenorth-{service}",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [urlsplit(url).netloc]}],
            }
            for service, url in sorted(service_urls.items())
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_test_rules(
    strategies: Iterable[StrategySpec], out_dir: Path, *, alignment_url: str
) -> list[Path]:
    """`generate_rules` into `out_dir`, then every `for:` replaced by `TEST_HOLD` (see there).
    Returns the rule files."""
    paths = generate_rules(strategies, out_dir, alignment_url=alignment_url)
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = TEST_HOLD
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return paths


# -- the server -------------------------------------------------------------------------------


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @classmethod
    def start(cls, binary: str, config: Path, work_dir: Path, timeout: float = 30) -> Prometheus:
        port = free_port()
        log_path = work_dir / "prometheus.log"
        storage = work_dir / "tsdb"
        storage.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(process, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        server.stop()
        raise RuntimeError(f"prometheus not ready within {timeout:g}s:\n{server.log()}")

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise PromQLError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result samples (vector) or [] (also for a scalar NaN...)."""
        data = self.api("query", query=expr)
        return _samples(data)

    def query_range(self, expr: str, start: float, end: float, step: str) -> list[dict[str, Any]]:
        data = self.api(
            "query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step
        )
        return _samples(data)

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets", state="active")["activeTargets"])

    def rule_health(self) -> list[str]:
        """Rules whose last evaluation failed, as text."""
        bad = []
        for group in self.api("rules")["groups"]:
            for rule in group["rules"]:
                if rule.get("health") == "err":
                    bad.append(f"{group['name']}/{rule['name']}: {rule.get('lastError')}")
        return bad


class PromQLError(RuntimeError):
    pass


def _samples(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    if data["resultType"] in ("vector", "matrix"):
        return list(data["result"])
    return [{"value": data["result"]}]  # scalar or string: one value


# -- dashboard expressions --------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardQuery:
    where: str
    """dashboard uid / panel title / refId, or dashboard uid / annotation name."""
    expr: str
    """Interpolated PromQL, as Grafana would send it."""
    instant: bool
    """Grafana sends an instant query (tables) rather than a range query."""


def load_dashboards(directory: Path = DASHBOARD_DIR) -> dict[str, dict[str, Any]]:
    """The committed dashboard JSON (what Grafana provisions), by file stem."""
    boards = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }
    if not boards:
        raise AssertionError(f"no dashboards in {directory}")
    return boards


def _instant_targets(board: Mapping[str, Any]) -> set[str]:
    return {
        f"{board['uid']}/{p['title']}/{t['refId']}"
        for p in board["panels"]
        for t in p.get("targets", [])
        if t.get("instant")
    }


def dashboard_queries(
    boards: Mapping[str, Mapping[str, Any]], values: Mapping[str, str]
) -> list[DashboardQuery]:
    """Every panel target and annotation query of every dashboard, interpolated."""
    queries = []
    filled = {**GRAFANA_BUILTINS, **values}
    for board in boards.values():
        instant = _instant_targets(board)
        for where, raw in expressions(dict(board)):
            expr = interpolate(raw, filled, rate_interval=GRAFANA_BUILTINS["__rate_interval"])
            if LEFTOVER_VARIABLE.search(expr):
                raise AssertionError(f"{where}: variable left after interpolation: {expr}")
            queries.append(DashboardQuery(where, expr, where in instant))
    return queries


def needs_nats_exporter(expr: str) -> bool:
    """Reads prometheus-nats-exporter series (`gnatsd_*`, `jetstream_*`): compose runs the
    exporter; `truenorth up` embeds nats-server without one, so nothing here exports them."""
    return any(name.startswith(NATS_EXPORTER_PREFIXES) for name in metric_names_in(expr))


def variable_queries(boards: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(where, series selector, label) of every `label_values(selector, label)` variable."""
    found = []
    for board in boards.values():
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            definition = variable["definition"]
            assert definition.startswith("label_values(") and definition.endswith(")"), definition
            selector, _, label = definition[len("label_values(") : -1].rpartition(",")
            found.append((f"{board['uid']}/${variable['name']}", selector.strip(), label.strip()))
    return found
