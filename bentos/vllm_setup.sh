#!/usr/bin/env bash
# Run by `bentoml containerize` for a bento built with `--engine vllm`: vLLM (CUDA) in its own
# environment, /opt/vllm, because its pins (torch, transformers, fastapi) clash with the guard's.
# The service starts it on loopback as `/opt/vllm/bin/python -m vllm.entrypoints.openai.api_server`.
# Not run in this project's CI (no Docker daemon, and the wheels are several GB); the same pin as
# benchmarks/serving_vllm_gpu.sh.
set -euxo pipefail
python3 -m venv /opt/vllm
/opt/vllm/bin/python -m pip install --no-cache-dir --upgrade pip
/opt/vllm/bin/python -m pip install --no-cache-dir "vllm==0.32.0"
/opt/vllm/bin/python -c "import vllm; print('vLLM', vllm.__version__)"
