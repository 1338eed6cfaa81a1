#!/usr/bin/env bash
# ruff (lint + format check) and mypy over the whole package.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check shared services tools integrations tests benchmarks scripts
.venv/bin/ruff format --check shared services tools integrations tests benchmarks scripts
tree="$(.venv/bin/python scripts/typecheck_tree.py)"
(cd build/typecheck && ../../.venv/bin/mypy -p truenorth)
