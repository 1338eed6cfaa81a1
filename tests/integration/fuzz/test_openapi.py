"""schemathesis against every service's OpenAPI, each service live under uvicorn on a free
port, on a nats-server of its own (so nothing else writes to the streams).

Positive and negative cases for every operation. The rules enforced on every response:

1. no 5xx, ever;
2. every 4xx is a JSON object with a non-empty string ``detail``;
3. every 422 also names the fields: a non-empty ``errors`` list whose items each carry a
   non-empty ``field`` and a ``message`` — or, for the metrics batch answer, an ``index`` and a
   non-empty ``errors`` list of such ``{field, message}`` items (one per rejected row);
4. a 4xx request leaves no event behind: the message counts of STRATEGY, CAMPAIGNS, METRICS and
   ALIGNMENT (every workspace) are the same before and after it. Rejected input may go to the
   DLQ (that is what it is for), so DLQ and INTAKE are not compared.

Cases per service: 80 in CI, 1 000 with ``TRUENORTH_FULL=1`` (``TRUENORTH_FUZZ_CASES``
overrides). Failures are collected, not shrunk, and reported with a curl command each.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.settings import SERVICE_SETTINGS, SharedSettings

FULL = os.environ.get("TRUENORTH_FULL") == "1"
CASES = int(os.environ.get("TRUENORTH_FUZZ_CASES") or (1000 if FULL else 80))
EVENT_STREAMS = ("STRATEGY", "CAMPAIGNS", "METRICS", "ALIGNMENT")
SERVICES = ("strategy", "campaigns", "metrics", "alignment")


@contextmanager
def live(service: str, nats_url: str, data_dir: Path) -> Iterator[str]:
    module = importlib.import_module(f"truenorth.{service}.app")
    port = free_port()
    app = module.build_app(
        SharedSettings(nats_url=nats_url, data_dir=data_dir, log_level="WARNING"),
        SERVICE_SETTINGS[service](port=0),
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{service}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"{service} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def stream_counts(nats: EmbeddedNats) -> dict[str, int]:
    body = httpx.get(f"http://127.0.0.1:{nats.monitor_port}/jsz?streams=true", timeout=5).json()
    return {
        stream["name"]: int(stream["state"]["messages"])
        for account in body.get("account_details", [])
        for stream in account.get("stream_detail", [])
        if stream["name"] in EVENT_STREAMS
    }


def field_level(body: Any) -> bool:
    """Rule 3: a 422 names its fields."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return False
    for item in errors:
        if not isinstance(item, dict):
            return False
        if "index" in item:  # metrics: one entry per rejected row
            if not field_level(item):
                return False
        elif not (isinstance(item.get("field"), str) and item["field"] and "message" in item):
            return False
    return True


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())

    def fail(self, case: Any, response: Any, why: str) -> None:
        if len(self.failures) < 20:
            curl = case.as_curl_command()
            self.failures.append(
                f"{why}: {response.status_code} {response.text[:300]!r}\n    {curl}"
            )


PAGE_ERROR = re.compile(r'<section class="error" data-status="(\d+)">.*?<p>(.+?)</p>', re.S)


def check_page_error(case: Any, response: Any, tally: Tally) -> None:
    """The page answers people in HTML: its error section carries the status and says what
    is wrong, naming the parameter for a 422."""
    found = PAGE_ERROR.search(response.text)
    if found is None or int(found.group(1)) != response.status_code:
        tally.fail(case, response, "a page's 4xx without its error section")
        return
    message = found.group(2)
    parameters = set((case.query or {}).keys()) | set((case.path_parameters or {}).keys())
    if response.status_code == 422 and not any(f"{name}:" in message for name in parameters):
        tally.fail(case, response, "a page's 422 does not name the parameter")


def check(
    case: Any, response: Any, before: dict[str, int], nats: EmbeddedNats, tally: Tally
) -> None:
    status = response.status_code
    tally.statuses[status] += 1
    tally.per_operation[case.operation.label] += 1
    if status >= 500:
        tally.fail(case, response, "5xx")
        return
    if not 400 <= status < 500:
        return
    if response.headers.get("content-type", "").startswith("text/html"):
        check_page_error(case, response, tally)
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]):
        tally.fail(case, response, "4xx without a detail")
    elif status == 422 and not field_level(body):
        tally.fail(case, response, "422 without field-level errors")
    after = stream_counts(nats)
    if after != before:
        tally.fail(case, response, f"4xx left events behind: {before} -> {after}")


def fuzz(base: str, nats: EmbeddedNats) -> Tally:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    session = requests.Session()
    tally = Tally()
    # a few passes: operations without parameters (GET /healthz) exhaust after one case and
    # have no negative cases at all; their share goes to the others
    exhausted: set[tuple[str, GenerationMode]] = set()
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for _round in range(5):
        todo = CASES - tally.cases
        active = [(op, m) for op in operations for m in modes if (op.label, m) not in exhausted]
        if todo <= 0 or not active:
            break
        per = max(1, math.ceil(todo / len(active)))
        for operation, mode in active:
            if run_operation(operation, mode, per, base, session, nats, tally) < per:
                exhausted.add((operation.label, mode))
    return tally


def run_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    base: str,
    session: requests.Session,
    nats: EmbeddedNats,
    tally: Tally,
) -> int:
    """Up to `examples` cases of one operation; returns how many ran."""
    ran = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        nonlocal ran
        ran += 1
        before = stream_counts(nats)
        # schemathesis's own transport trips over urllib3 2.8's pool container
        # (`TrafficPolice`): its request serialisation is used with a plain session
        kwargs = case.as_transport_kwargs(base_url=base)
        response = session.request(**{**kwargs, "timeout": 30})
        check(case, response, before, nats, tally)

    with suppress(Unsatisfiable):  # e.g. no negative case for an operation without inputs
        one()
    return ran


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_fuzz(service: str, tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as nats, live(service, nats.url, tmp_path) as base:
        tally = fuzz(base, nats)
    print(f"\n{service}: {tally.cases} cases, statuses {dict(sorted(tally.statuses.items()))}")
    assert not tally.failures, f"{len(tally.failures)}+ failures:\n" + "\n".join(tally.failures)
    assert tally.cases >= CASES * 0.9
