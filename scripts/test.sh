#!/usr/bin/env bash
# Set up a fresh machine (virtualenv with the CPU torch wheel) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0 -e '.[dev]'
.venv/bin/python -m pytest "$@"
