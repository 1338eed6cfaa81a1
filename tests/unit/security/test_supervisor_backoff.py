"""`truenorth up`'s restart policy (issue 17, finding 13), with fake processes: a service that
keeps crashing is restarted after 1 s, 2 s, 4 s … up to 30 s; one that ran a minute starts
again from 1 s. The real kill -9 test is tests/integration/faults/test_supervisor.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from truenorth.supervisor import ServiceProcess, Supervisor


@dataclass
class Exited:
    pid: int = 1
    returncode: int = -9

    def poll(self) -> int:
        return self.returncode


def crash_loop(supervisor: Supervisor, now: float, rounds: int) -> list[float]:
    backoffs = []
    for _ in range(rounds):
        supervisor.supervise(now)  # notices the exit, schedules the restart
        service = supervisor.services[0]
        backoffs.append(service.backoff)
        assert service.restart_at is not None
        now = service.restart_at
        supervisor.supervise(now)  # restarts it (the fake exits again at once)
    return backoffs


def test_a_crash_looping_service_backs_off_to_thirty_seconds(
    tmp_path: Path, monkeypatch: Any
) -> None:
    supervisor = Supervisor(data_dir=tmp_path)
    supervisor.services = [ServiceProcess("metrics", 1, Exited(), started_at=0.0)]  # type: ignore[arg-type]
    spawned: list[str] = []

    def spawn(name: str) -> ServiceProcess:
        spawned.append(name)
        return ServiceProcess(name, 1, Exited(), started_at=0.0)  # type: ignore[arg-type]

    monkeypatch.setattr(supervisor, "_spawn", spawn)
    assert crash_loop(supervisor, 1.0, 7) == [1, 2, 4, 8, 16, 30, 30]
    assert spawned == ["metrics"] * 7


def test_a_service_that_ran_a_minute_restarts_after_one_second(
    tmp_path: Path, monkeypatch: Any
) -> None:
    supervisor = Supervisor(data_dir=tmp_path)
    tired = ServiceProcess("alignment", 1, Exited(), started_at=0.0, backoff=30.0)  # type: ignore[arg-type]
    supervisor.services = [tired]
    said = supervisor.supervise(120.0)
    assert tired.backoff == 1.0
    assert said == ["alignment exited with code -9: restarting in 1s (restart 1)"]
