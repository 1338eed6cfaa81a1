#!/usr/bin/env bash
# The one test command (README, .ci/run): set up, install test tools, lint, run every tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-tools.sh
bash scripts/install-chromium.sh
bash scripts/lint.sh
.venv/bin/python -m pytest tests "$@"
