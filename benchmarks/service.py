"""`truenorth serve alignment` as deployed, beside an embedded nats-server, for benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from truenorth.supervisor import MALLOC_ARENA_MAX


def alignment_service(
    tmp: Path, nats_url: str, database_url: str, port: int, stderr: IO[bytes] | int
) -> subprocess.Popen[bytes]:
    """The service on `database_url`, answering on `port`."""
    env = {
        **os.environ,
        "TRUENORTH_NATS_URL": nats_url,
        "TRUENORTH_DATA_DIR": str(tmp / "data"),
        "TRUENORTH_ALIGNMENT_DATABASE_URL": database_url,
        "TRUENORTH_ALIGNMENT_PORT": str(port),
        "TRUENORTH_LOG_LEVEL": "WARNING",
        # as deployed: `truenorth up` and the image set it (−17 MB at 10 000 objectives)
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "truenorth.serve", "serve", "alignment"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
