"""`truenorth serve <service>`: one service in the foreground, importing that service alone.

The `truenorth` command registers every sub-command when it is imported (the metrics CLI, the
generators, the intake validators, ...). A service started through it held all of them and
never ran one: ~8 MB of the alignment service's memory after start-up (RssAnon 74 -> 66 MB,
benchmarks/README.md, seventeenth session), as much in each of the four services. `main` is
the `truenorth` command's entry point: it runs `serve` from here and hands anything else to
`truenorth.cli`.
"""

from __future__ import annotations

import importlib
import sys

from truenorth.settings import SERVICE_SETTINGS, SERVICES, SettingsError, SharedSettings, load


def main() -> None:
    """`truenorth serve <service>` runs here; every other command line goes to the CLI, which
    also answers `serve --help` and a service it does not know."""
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "serve" and args[1] in SERVICES:
        sys.exit(run(args[1]))
    from truenorth.cli import main as cli

    cli()


def run(service: str) -> int:
    """Serve `service` until it is stopped; its exit status: 2 when its settings are wrong
    (named on stderr), 1 when it never started."""
    import uvicorn

    from truenorth.http import server_config
    from truenorth.logs import configure_logging

    try:
        shared = load(SharedSettings)
        settings = load(SERVICE_SETTINGS[service])
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(shared.log_level, shared.log_format, service)
    module = importlib.import_module(f"truenorth.{service}.app")
    config = server_config(
        module.build_app(shared, settings),
        host=settings.host,
        port=settings.port,
        log_level=shared.log_level.lower(),
        grace=settings.shutdown_grace_seconds,
        keep_alive=settings.keep_alive_seconds,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_concurrency=settings.max_concurrency,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    main()
