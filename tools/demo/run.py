"""Drive a live embedded system through a scenario on a stepped clock.

The services and this driver read the same clock file (`TRUENORTH_CLOCK_FILE`); the driver
moves it action by action in lockstep with the alignment service (`lockstep`), so the same
seed gives the same drift history however fast or loaded the machine is. `--speed` only
sets the fastest pace: the driver waits for the wall clock when it is ahead of it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from truenorth.clock import SteppedClock
from truenorth.demo.cli import DEFAULT_SPEED
from truenorth.demo.lockstep import AFTER, TICK_SECONDS, Lockstep, LockstepTimeout
from truenorth.demo.scenario import (
    DEFAULT_EXAMPLE,
    DEFAULT_WORKSPACE,
    Action,
    Scenario,
    ScriptedDrift,
    build_scenario,
    load_example,
)
from truenorth.endpoints import export_lines
from truenorth.settings import SERVICE_SETTINGS, SERVICES, load

STATUS_STYLE = {
    "on_track": "green",
    "achieved": "bold green",
    "at_risk": "yellow",
    "off_track": "red",
    "missed": "bold red",
    "not_started": "dim",
}
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class DemoError(RuntimeError):
    """One-line reason the demo cannot run."""


@dataclass
class DemoOptions:
    seed: int = 7
    speed: float = DEFAULT_SPEED
    example: str = DEFAULT_EXAMPLE
    data_dir: Path | None = None
    free_ports: bool = False
    review: bool = True
    hold: bool = False
    workspace: str = DEFAULT_WORKSPACE
    verbose: bool = False
    live: bool | None = None
    """Rich live view; None: when the console is a terminal."""


@dataclass
class Counters:
    actions: int = 0
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    restated: int = 0
    failures: int = 0
    story: deque[str] = field(default_factory=lambda: deque(maxlen=7))
    log: list[str] = field(default_factory=list)
    """Every story line, in order."""

    def tell(self, line: str) -> None:
        self.story.append(line)
        self.log.append(line)


@dataclass(frozen=True)
class DriftCheck:
    drift: ScriptedDrift
    status: str | None
    """open | resolved | None (never opened)."""

    @property
    def ok(self) -> bool:
        if self.status is None:
            return False
        return self.status == "resolved" if self.drift.answered else True


def _fresh_data_dir(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="truenorth-demo-"))
    if path.exists() and any(path.iterdir()):
        raise DemoError(
            f"{path} is not empty: the demo plays its quarter on a fresh event log "
            "(omit --data-dir, or name an empty or new directory)"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


class DemoRunner:
    """start() → play() → checks() / review() → stop()."""

    def __init__(
        self, scenario: Scenario, options: DemoOptions, console: Console | None = None
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.console = console or Console()
        self.counters = Counters()
        self.supervisor: Any = None
        self.clock: SteppedClock | None = None
        self.lockstep: Lockstep | None = None
        self.urls: dict[str, str] = {}
        self.http = httpx.Client(timeout=30)
        self._objectives: list[dict[str, Any]] = []
        self._open_drifts: list[dict[str, Any]] = []
        self._polled = 0.0

    # -- system --------------------------------------------------------------------------

    def clock_env(self, data_dir: Path) -> dict[str, str]:
        """The stepped clock, standing at the first action until the driver moves it."""
        self.clock = SteppedClock(data_dir / "clock")
        self.clock.set(self.scenario.first_action)
        return {
            "TRUENORTH_CLOCK_FILE": str(self.clock.path),
            "TRUENORTH_ALIGNMENT_TICK_SECONDS": f"{TICK_SECONDS:g}",
            # one evaluation per step, as soon as the period allows (services/alignment/ticks)
            "TRUENORTH_ALIGNMENT_TICK_COST_SPACING": "0",
            "TRUENORTH_WORKSPACE": self.scenario.workspace,
        }

    def start(self) -> None:
        from truenorth.supervisor import Supervisor, SupervisorError

        options = self.options
        data_dir = _fresh_data_dir(options.data_dir)
        ports: dict[str, int] = {}
        if not options.free_ports:
            for name in SERVICES:
                ports[name] = load(SERVICE_SETTINGS[name]).port
        env = self.clock_env(data_dir)
        if not options.verbose:
            env["TRUENORTH_LOG_LEVEL"] = "WARNING"
        self.supervisor = Supervisor(
            data_dir=data_dir, ports=ports, extra_env=env, echo=options.verbose
        )
        try:
            self.supervisor.start(free_ports=options.free_ports)
        except SupervisorError as exc:
            raise DemoError(str(exc)) from None
        self.urls = self.supervisor.urls()
        nats = self.supervisor.nats
        assert self.clock is not None and nats is not None
        self.lockstep = Lockstep(
            self.clock,
            self.http,
            self.urls["alignment"],
            f"http://{nats.host}:{nats.monitor_port}",
            alive=self._alive,
        )

    def stop(self) -> None:
        self.http.close()
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None

    def now(self) -> datetime:
        assert self.clock is not None
        return self.clock()

    def _url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}/v1/workspaces/{self.scenario.workspace}{path}"

    def _alive(self) -> None:
        if self.supervisor is not None and self.supervisor.crashed():
            raise DemoError(f"service exited: {', '.join(self.supervisor.crashed())}")

    # -- playing -------------------------------------------------------------------------

    def play(self, on_idle: Callable[[], None] | None = None) -> None:
        """Every action in lockstep (see `lockstep`), then a last evaluation at the finish."""
        lockstep = self.lockstep
        assert lockstep is not None
        started, after = time.monotonic(), self.scenario.first_action - AFTER
        try:
            for action in self.scenario.actions:
                if action.kind == "note":
                    continue
                at = max(action.at, after + AFTER)  # strictly increasing, equal times too
                self._pace(started, at, on_idle)
                lockstep.step(at)
                self.execute(action)
                lockstep.folded()
                after = at + AFTER
                lockstep.step(after)
            lockstep.step(max(self.scenario.finish, after + AFTER))
        except LockstepTimeout as exc:
            raise DemoError(str(exc)) from None
        self.poll(force=True)

    def _pace(self, started: float, at: datetime, on_idle: Callable[[], None] | None) -> None:
        """Wait until the wall clock allows `at` at `--speed` (lockstep can only be slower)."""
        due = started + (at - self.scenario.first_action).total_seconds() / self.options.speed
        while True:
            if on_idle is not None:
                on_idle()
            left = due - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def execute(self, action: Action) -> None:
        counters = self.counters
        counters.actions += 1
        try:
            self._send(action)
        except Exception as exc:  # keep playing: a failed action is part of what we show
            counters.failures += 1
            counters.tell(f"[red]{action.at:%b %d} {action.kind} failed: {exc}[/red]")
            return
        if action.label:
            counters.tell(f"[dim]{action.at:%b %d %H:%M}[/dim] {action.label}")

    def _send(self, action: Action) -> None:
        kind, body, sid = action.kind, action.body, self.scenario.strategy_id
        headers = {"X-Actor": action.actor}
        if kind == "note":
            return
        if kind == "observe":
            rows = [lead_row(body[0], self.counters.actions), *body] if len(body) > 1 else body
            response = self.http.post(self._url("metrics", "/metrics"), json=rows)
            response.raise_for_status()
            answer = response.json()
            self.counters.rows += len(body)
            self.counters.accepted += int(answer.get("accepted", 0)) - (len(rows) - len(body))
            self.counters.duplicates += int(answer.get("duplicates", 0))
            self.counters.restated += int(answer.get("restated", 0))
            return
        if kind == "apply_strategy":
            response = self.http.post(
                self._url("strategy", f"/strategies/{sid}/apply"),
                content=body.encode(),
                headers={**headers, "Content-Type": "application/yaml"},
            )
        elif kind == "launch_campaign":
            response = self.http.post(self._url("campaigns", "/campaigns"), json=body)
        elif kind == "end_campaign":
            response = self.http.post(
                self._url("campaigns", f"/campaigns/{action.subject}/end"), json=body
            )
        elif kind == "revise_objective":
            response = self.http.patch(
                self._url("strategy", f"/strategies/{sid}/objectives/{action.subject}"),
                json=body,
                headers=headers,
            )
        elif kind == "acknowledge_drift":
            response = self.http.post(
                self._url("strategy", f"/strategies/{sid}/drifts/{action.subject}/acknowledge"),
                json=body,
                headers=headers,
            )
        else:
            raise DemoError(f"unknown action kind {kind!r}")
        if response.status_code >= 400:
            raise DemoError(f"{response.status_code} {response.text[:300]}")
        if kind == "launch_campaign" and response.json().get("duplicate"):
            self.counters.duplicates += 1

    # -- reading the alignment service ---------------------------------------------------

    def poll(self, force: bool = False, every: float = 0.5) -> None:
        if not force and time.monotonic() - self._polled < every:
            return
        self._polled = time.monotonic()
        try:
            self._objectives = self.http.get(self._url("alignment", "/objectives")).json()[
                "objectives"
            ]
            self._open_drifts = self.drifts("open")
        except (httpx.HTTPError, KeyError, ValueError):
            pass  # loading or busy: keep the last view

    def drifts(self, status: str = "all") -> list[dict[str, Any]]:
        response = self.http.get(self._url("alignment", "/drifts"), params={"status": status})
        response.raise_for_status()
        return list(response.json()["drifts"])

    def checks(self) -> list[DriftCheck]:
        by_id = {d["drift_id"]: d["status"] for d in self.drifts("all")}
        return [DriftCheck(d, by_id.get(d.drift_id)) for d in self.scenario.drifts]

    # -- the view ------------------------------------------------------------------------

    def view(self) -> RenderableType:
        scenario = self.scenario
        now = self.now()
        elapsed = min((now - scenario.start) / (scenario.end - scenario.start), 1.0)
        header = Table.grid(padding=(0, 2))
        header.add_row(
            Text(f"{now:%a %Y-%m-%d %H:%M} UTC", style="bold"),
            ProgressBar(total=1.0, completed=min(max(elapsed, 0.0), 1.0), width=40),
            Text(f"{scenario.period_id}: {max(elapsed, 0.0):.0%} elapsed"),
        )
        objectives = Table(title="Objectives", title_justify="left", expand=True)
        for column in ("objective", "progress", "done / expected", "pace", "status", "forecast"):
            objectives.add_column(column, no_wrap=column != "objective")
        for o in self._objectives:
            status = o["status"]
            pace = "—" if o["pace"] is None else f"{o['pace']:.2f}"
            objectives.add_row(
                f"{o['name']} [dim]({o['objective_id']})[/dim]",
                ProgressBar(
                    total=1.0,
                    completed=min(max(o["progress"], 0.0), 1.0),
                    width=24,
                    complete_style=STATUS_STYLE.get(status, "white"),
                ),
                f"{o['progress']:.0%} / {o['expected']:.0%}",
                pace,
                Text(status.replace("_", " "), style=STATUS_STYLE.get(status, "")),
                f"{o['forecast_attainment']:.0%} of {o['target']:,.0f}",
            )
        drifts = Table(
            title=f"Open drifts ({len(self._open_drifts)})", title_justify="left", expand=True
        )
        drifts.add_column("severity", no_wrap=True)
        drifts.add_column("kind", no_wrap=True)
        drifts.add_column("explanation", ratio=1, overflow="ellipsis")
        for d in sorted(self._open_drifts, key=_drift_order)[:10]:
            drifts.add_row(
                Text(d["severity"], style=SEVERITY_STYLE.get(d["severity"], "")),
                d["kind"],
                Text(d["explanation"], overflow="ellipsis", no_wrap=True),
            )
        c = self.counters
        footer = Text.from_markup(
            f"[dim]{c.rows:,} rows sent · {c.restated} restated · {c.duplicates} duplicates "
            f"ignored · {c.failures} failed · page {self.urls.get('alignment', '')}/[/dim]"
        )
        story = Text.from_markup("\n".join(c.story) or "[dim]waiting for the first action[/dim]")
        return Panel(
            Group(header, objectives, drifts, Panel(story, title="what happened"), footer),
            title=f"truenorth demo · {scenario.strategy_name} · seed {scenario.seed}",
        )

    # -- the review ----------------------------------------------------------------------

    def review(self) -> str | None:
        """The quarterly review (markdown) from `truenorth review`, when that command exists."""
        if importlib.util.find_spec("truenorth.review") is None:
            return None
        assert self.supervisor is not None and self.supervisor.nats is not None
        env = {
            **os.environ,
            "TRUENORTH_NATS_URL": self.supervisor.nats.url,
            "TRUENORTH_DATA_DIR": str(self.supervisor.data_dir),
            "TRUENORTH_WORKSPACE": self.scenario.workspace,
            "TRUENORTH_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "truenorth.cli", "review"]
        helptext = subprocess.run(
            [*command, "--help"], env=env, capture_output=True, text=True, timeout=60
        )
        if helptext.returncode != 0:  # not registered on the CLI (yet): run it on its own
            command = [sys.executable, "-c", _REVIEW_ALONE]
            helptext = subprocess.run(
                [*command, "--help"], env=env, capture_output=True, text=True, timeout=60
            )
            if helptext.returncode != 0:
                return None
        command += ["--period", self.scenario.period_label, "--format", "md"]
        if "--workspace" in helptext.stdout:
            command += ["--workspace", self.scenario.workspace]
        if "--as-of" in helptext.stdout:  # the simulated quarter's end, not the wall clock's now
            last_day = self.scenario.end - timedelta(microseconds=1)
            command += ["--as-of", f"{last_day:%Y-%m-%d}"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise DemoError(f"truenorth review failed: {(done.stderr or done.stdout)[-500:]}")
        return done.stdout


_REVIEW_ALONE = (
    "import typer\n"
    "from truenorth.review.cli import review_command\n"
    "app = typer.Typer(add_completion=False)\n"
    "app.command()(review_command)\n"
    "app()\n"
)
"""`truenorth review` as a one-command program, for when the CLI does not register it."""


LEAD_METRIC = "demo_batch_marker"


def lead_row(first: dict[str, Any], action_number: int) -> dict[str, Any]:
    """A row no drift rule reads, sent ahead of a batch: caught up, the alignment projector
    folds the first message of a burst alone and the next ones together, and a drift tick
    between the two would judge a batch with one row in (one channel's spend alone reads as a
    mix drift). With this row first, the state it folds alone is the state before the batch.
    It can go once the alignment evaluates only when the stepped clock moved."""
    return {
        **first,
        "observation_id": f"demo-batch-{action_number}",
        "metric": LEAD_METRIC,
        "value": 0,
    }


def _drift_order(d: dict[str, Any]) -> tuple[int, str, str]:
    rank = {"critical": 0, "warning": 1, "info": 2}.get(d["severity"], 3)
    return rank, d["kind"], d["drift_id"]


def print_checks(console: Console, checks: list[DriftCheck]) -> None:
    table = Table(title="Scripted drifts", title_justify="left")
    for column in ("", "kind", "subject", "why", "status now"):
        table.add_column(column)
    for check in checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        status = check.status or "never opened"
        if check.drift.answered:
            status += " (answered by a revision)"
        elif check.drift.acknowledged:
            status += " (acknowledged)"
        table.add_row(mark, check.drift.kind, check.drift.subject, check.drift.why, status)
    console.print(table)


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    """The `truenorth demo` command's body; returns the exit code."""
    console = console or Console()
    _stop_on_sigterm()
    filename, text = load_example(options.example)
    scenario = build_scenario(text, options.seed, options.workspace, filename)
    options.data_dir = _fresh_data_dir(options.data_dir)
    quarter = (scenario.end - scenario.start).total_seconds() / options.speed
    runner = DemoRunner(scenario, options, console)
    console.print(
        f"[bold]truenorth demo[/bold]: {scenario.strategy_name} ({filename}), seed "
        f"{scenario.seed}, {len(scenario.actions)} actions; {scenario.period_id} plays in "
        f"~{timedelta(seconds=round(quarter))} at {options.speed:,.0f}× (starting the system…)"
    )
    try:
        runner.start()
        _print_where(console, runner)
        live = options.live if options.live is not None else console.is_terminal
        if live:
            from rich.live import Live

            with Live(runner.view(), console=console, refresh_per_second=4) as screen:

                def refresh() -> None:
                    runner.poll()
                    screen.update(runner.view())

                runner.play(refresh)
                screen.update(runner.view())
        else:
            printed = [0]

            def report() -> None:
                log = runner.counters.log
                for line in log[printed[0] :]:
                    console.print(line, highlight=False)
                printed[0] = len(log)

            runner.play(report)
            report()
            runner.poll(force=True)
            console.print(runner.view())
        checks = runner.checks()
        print_checks(console, checks)
        if options.review:
            _print_review(console, runner)
        console.print(f"event log and projections kept in {runner.supervisor.data_dir}")
        if options.hold:
            _print_where(console, runner)
            console.print("the system keeps running: Ctrl-C stops it")
            while not runner.supervisor.crashed():
                time.sleep(0.5)
        return 0 if all(c.ok for c in checks) else 1
    except KeyboardInterrupt:
        console.print("interrupted: stopping")
        return 130
    finally:
        console.print("stopping: draining services")
        runner.stop()


def _stop_on_sigterm() -> None:
    """SIGTERM stops the demo like Ctrl-C: the services are drained, not orphaned."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _print_where(console: Console, runner: DemoRunner) -> None:
    urls = runner.urls
    console.print(
        f"  [bold]watch[/bold]   {urls['alignment']}/   (live objectives and drifts)\n"
        f"  metrics {urls['alignment']}/metrics   (Prometheus)\n"
        f"  drifts  {urls['alignment']}/v1/workspaces/{runner.scenario.workspace}/drifts"
        "?status=all\n"
        f"  APIs    " + "  ".join(f"{name} {url}/docs" for name, url in urls.items())
    )
    supervisor = runner.supervisor
    if supervisor.nats is not None:
        console.print(f"  nats    {supervisor.nats.url}", highlight=False)
        for line in export_lines(supervisor.nats.url, supervisor.data_dir):
            console.print(f"  {line}", highlight=False, markup=False)


def _print_review(console: Console, runner: DemoRunner) -> None:
    try:
        review = runner.review()
    except (DemoError, subprocess.TimeoutExpired) as exc:
        console.print(f"[yellow]quarterly review unavailable:[/yellow] {exc}")
        return
    if review is None:
        console.print("[dim]quarterly review: `truenorth review` is not installed here[/dim]")
        return
    console.rule(f"Quarterly review {runner.scenario.period_label}")
    console.print(Markdown(review))
