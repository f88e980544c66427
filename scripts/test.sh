#!/usr/bin/env bash
# Set up a virtual environment with every extra and run the checks and the tests (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_chromium.sh  # the review page's browser tests drive Debian's /usr/bin/chromium
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,dev,ray]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports  # the layers: the core imports nothing above it (pyproject.toml)
.venv/bin/hadolint Dockerfile Dockerfile.gpu
.venv/bin/python -m pytest -q "$@"
