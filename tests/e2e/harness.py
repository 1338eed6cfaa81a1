"""Run `truenorth up` as a subprocess on free ports and find its services' URLs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

URL_LINE = re.compile(r"^\s+(strategy|campaigns|metrics|alignment)\s+(http://\S+)")
NATS_LINE = re.compile(r"nats: (nats://\S+)")


@dataclass
class RunningSystem:
    process: subprocess.Popen[str]
    urls: dict[str, str]
    nats_url: str
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def start_system(
    data_dir: Path,
    database_url: str | None = None,
    timeout: float = 90,
    env: dict[str, str] | None = None,
) -> RunningSystem:
    command = [
        sys.executable,
        "-m",
        "truenorth.cli",
        "up",
        "--free-ports",
        "--data-dir",
        str(data_dir),
    ]
    if database_url:
        command += ["--database-url", database_url]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "TRUENORTH_LOG_LEVEL": "INFO", **(env or {})},
    )
    output: list[str] = []
    urls: dict[str, str] = {}
    nats: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if match := NATS_LINE.search(line):
                nats.append(match.group(1))
            if match := URL_LINE.match(line):
                urls[match.group(1)] = match.group(2)
                if len(urls) == 4:
                    ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.is_set() and time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)
            raise RuntimeError("truenorth up exited:\n" + "".join(output[-40:]))
        ready.wait(0.2)
    if not ready.is_set():
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("truenorth up not ready:\n" + "".join(output[-40:]))
    return RunningSystem(process, urls, nats[0] if nats else "", output)
