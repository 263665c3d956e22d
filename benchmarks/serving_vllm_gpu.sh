#!/usr/bin/env bash
# benchmarks/serving_vllm.py on a user's GPU machine, with the CUDA `vllm` package. NOT RUN by this
# project: our GPU test machine cannot install vLLM (its wheels are far larger than what can be
# copied there). Needs network (PyPI, and the Hub for the model) and one NVIDIA GPU.
#
#   bash benchmarks/serving_vllm_gpu.sh                           # SmolLM2-135M-Instruct in bf16
#   MODEL=/path/to/local/model bash benchmarks/serving_vllm_gpu.sh --max-tokens 64
#
# Writes benchmarks/results/serving_vllm_gpu.json and .md. Two environments, as vLLM's pins clash
# with ours: .venv (eco-pack, as scripts/test.sh makes it, but with the CUDA torch wheel) and
# .venv-vllm-gpu (the same vllm pin as bentos/vllm_setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${MODEL:-HuggingFaceTB/SmolLM2-135M-Instruct}"
if [ ! -x .venv-vllm-gpu/bin/python ]; then
  python3 -m venv .venv-vllm-gpu
  .venv-vllm-gpu/bin/python -m pip install -q --upgrade pip
  .venv-vllm-gpu/bin/python -m pip install -q "vllm==0.32.0"
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
fi
if [ ! -d "$MODEL" ]; then  # a Hub id: download it once, then everything runs from the folder
  MODEL="$(.venv/bin/python -c "import sys; from huggingface_hub import snapshot_download; print(snapshot_download(sys.argv[1], allow_patterns=['*.json', '*.safetensors', '*.txt', '*.model']))" "$MODEL")"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
exec .venv/bin/python -m benchmarks.serving_vllm --model "$MODEL" --dtype bfloat16 --device cuda \
  --vllm-python .venv-vllm-gpu/bin/python --vllm-args "--max-model-len 2048 --gpu-memory-utilization 0.6" \
  --out benchmarks/results/serving_vllm_gpu.json "$@"
