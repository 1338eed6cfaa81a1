"""Where a running `truenorth up` (or `demo`) can be reached, recorded in its data dir.

`up` picks ports (a free NATS port by default); every command given the same data dir reads
them back from `<data dir>/endpoints.json`, so `truenorth up` then `truenorth apply …` works
without exporting anything. The file is written once the services are ready and removed when
they stop; a file left by a killed run names a dead server, which the commands report as
unreachable in one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENDPOINTS_FILE = "endpoints.json"
SERVICE_URL_VARIABLES = {
    "strategy": "TRUENORTH_STRATEGY_URL",
    "campaigns": "TRUENORTH_CAMPAIGNS_URL",
    "metrics": "TRUENORTH_METRICS_URL",
    "alignment": "TRUENORTH_ALIGNMENT_URL",
}


def endpoints_path(data_dir: Path) -> Path:
    return data_dir / ENDPOINTS_FILE


def record_endpoints(data_dir: Path, nats_url: str, services: dict[str, str]) -> Path:
    path = endpoints_path(data_dir)
    body = {"nats": nats_url, **services, "pid": os.getpid()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n")
    temporary.replace(path)
    return path


def forget_endpoints(data_dir: Path) -> None:
    endpoints_path(data_dir).unlink(missing_ok=True)


def default_data_dir() -> Path:
    from truenorth.settings import SettingsError, SharedSettings, load

    try:
        return load(SharedSettings).data_dir
    except SettingsError:
        return Path(os.environ.get("TRUENORTH_DATA_DIR", "."))


def recorded_endpoints(data_dir: Path | None = None) -> dict[str, Any]:
    """{"nats": url, "metrics": url, …} as the last `up` in that data dir recorded, or {}."""
    path = endpoints_path(data_dir or default_data_dir())
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def export_lines(nats_url: str, data_dir: Path) -> list[str]:
    return [f"export TRUENORTH_NATS_URL={nats_url} TRUENORTH_DATA_DIR={data_dir}"]


def apply_to_environment(nats_url: str | None, data_dir: Path | None) -> None:
    """Make the operator options the settings every command reads: an explicit `--nats-url`
    wins, then TRUENORTH_NATS_URL, then the URL recorded in the data dir (same for the
    services' HTTP URLs)."""
    if data_dir is not None:
        os.environ["TRUENORTH_DATA_DIR"] = str(data_dir)
    if nats_url:
        os.environ["TRUENORTH_NATS_URL"] = nats_url
    recorded = recorded_endpoints(data_dir)
    if not recorded:
        return
    if not nats_url and "TRUENORTH_NATS_URL" not in os.environ and recorded.get("nats"):
        os.environ["TRUENORTH_NATS_URL"] = str(recorded["nats"])
    for service, variable in SERVICE_URL_VARIABLES.items():
        if variable not in os.environ and recorded.get(service):
            os.environ[variable] = str(recorded[service])


def service_url(service: str, default: str) -> str:
    return os.environ.get(SERVICE_URL_VARIABLES[service]) or default
