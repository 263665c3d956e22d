#!/usr/bin/env bash
# benchmarks/corruption_step.py (seconds), then benchmarks/gpu_speed.py, on a GPU machine from a bare copy of
# the repository: the system python3 with torch and transformers, no venv, nothing installed, nothing
# downloaded (an image without anyascii, lazy_loader, rapidfuzz or bentoml gets them as wheels first: docs/gpu_speed.md).
# One call, < 7 minutes:
#
#   bash benchmarks/gpu_speed.sh                    # writes $OUT/gpu_speed.json (+ .md) when $OUT is set
#   bash benchmarks/gpu_speed.sh --out DIR/gpu_speed.json --budget-s 240
#
# Then copy gpu_speed.json, corruption_step_cuda_{device,row}.json and their .md into benchmarks/results/
# and commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
case " $* " in
  *" --out"*) ;;
  *) if [ -n "${OUT:-}" ]; then set -- "$@" --out "$OUT/gpu_speed.json"; fi ;;
esac
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv || true
for calls in device row; do  # the guard's own choice (one call per batch), then one call per row beside it
  python3 -m benchmarks.corruption_step --device cuda --calls "$calls" \
    --out "${OUT:-benchmarks/results}/corruption_step_cuda_$calls.json" \
    || echo "benchmarks.corruption_step --calls $calls failed (above); going on" >&2
done
exec python3 -m benchmarks.gpu_speed "$@"
