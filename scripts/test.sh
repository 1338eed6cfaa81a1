#!/usr/bin/env bash
# The one test command (README, .ci/run): set up, install test tools, lint, run every tier.
# Two workers for the tests that only wait on their own servers, then, alone, the tests that
# kill servers and time their recovery (marked `serial` in tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-tools.sh
bash scripts/install-chromium.sh
bash scripts/lint.sh
.venv/bin/python -m pytest tests -n 2 -m "not serial" --durations=15 "$@"
.venv/bin/python -m pytest tests -m serial --durations=5 "$@"
