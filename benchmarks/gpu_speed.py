"""Guard overhead at real model shapes on one GPU: generate, prefill, classifier, serving, memory.

This module holds the two plans, the order of the steps and the CLI that runs them;
``benchmarks.gpu_speed_bench`` builds the random-weight models and measures, and
``benchmarks.gpu_speed_report`` judges the targets and writes the results. Subjects: a
Llama-2-7B-shaped and a SmolLM2-135M-shaped ``LlamaForCausalLM`` in bf16. Classifiers: a
MiniLM-L6-shaped BERT and a roberta-base-shaped RoBERTa.

Steps run in order of importance (the issue's targets first) and no step starts once
``--budget-s`` is spent; JSON and markdown are rewritten after every step, so a run cut short
still leaves its figures. ``--smoke`` runs the same steps with tiny shapes on CPU.

    bash benchmarks/gpu_speed.sh --out "$OUT/gpu_speed.json"     # GPU machine, one call, < 7 min
    python -m benchmarks.gpu_speed --smoke --no-serving           # CPU, tiny shapes, seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch

from benchmarks.gpu_speed_bench import Bench, Plan
from benchmarks.gpu_speed_report import corruption_shares, targets, write

RESULTS = Path(__file__).resolve().parent / "results"
LLAMA_7B = dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                intermediate_size=11008, vocab_size=32000, max_position_embeddings=4096)
SMOLLM2_135M = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    intermediate_size=1536, vocab_size=49152, max_position_embeddings=8192, tie_word_embeddings=True)
MINILM_L6 = ("bert", dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                          intermediate_size=1536, max_position_embeddings=512))
ROBERTA_BASE = ("roberta", dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1))

GPU_PLAN = Plan({"llama-2-7b": LLAMA_7B, "smollm2-135m": SMOLLM2_135M},
                {"minilm-l6": MINILM_L6, "roberta-base": ROBERTA_BASE}, "smollm2-135m",
                batches=(1, 8, 32), lengths=(64, 512), new_tokens=128, target_batch=8, classifier_batches=(1, 32),
                concurrency=(1, 8), target_concurrency=8, serving_max_tokens=64, serving_rounds=3, repeats=5,
                words=4000, min_step_s=10.0, serving_min_s=90.0, mode="gpu")
_TINY = dict(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=512,
             max_position_embeddings=256)
SMOKE_PLAN = Plan({"tiny-llama": dict(hidden_size=64, intermediate_size=128, **_TINY),
                   "tiny-llama-tied": dict(hidden_size=48, intermediate_size=96, tie_word_embeddings=True, **_TINY)},
                  {"tiny-bert": ("bert", dict(vocab_size=512, hidden_size=32, num_hidden_layers=2,
                                              num_attention_heads=2, intermediate_size=64,
                                              max_position_embeddings=128)),
                   "tiny-roberta": ("roberta", dict(vocab_size=512, hidden_size=32, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=64,
                                                    max_position_embeddings=130, type_vocab_size=1))},
                  "tiny-llama", batches=(1, 2), lengths=(16,), new_tokens=8, target_batch=2,
                  classifier_batches=(1, 2), concurrency=(1, 2), target_concurrency=2, serving_max_tokens=8,
                  serving_rounds=1, repeats=2, words=500, min_step_s=0.0, serving_min_s=0.0,
                  mode="smoke")


def missing_serving_dependency() -> str | None:
    """Why the serving step cannot run here, or None (the GPU machine may lack bentoml)."""
    return None if importlib.util.find_spec("bentoml") else "bentoml not installed"


def steps(bench: Bench, serving: bool) -> list[tuple[str, Callable[[], None]]]:
    """The run's steps, most important first: the figures the issue's targets need, then the rest."""
    plan = bench.plan
    subject, *others = plan.subjects
    classifier, *other_classifiers = plan.classifiers
    first = [plan.target_batch, 1]
    rest = [b for b in plan.batches if b not in first]

    def generate(name: str, batches: Sequence[int]) -> list[tuple[str, Callable[[], None]]]:
        return [(f"generate {name} b{b} L{n}", partial(bench.generate_point, name, b, n))
                for b in batches for n in plan.lengths]

    if not serving:
        serve = [("serving", lambda: bench.results["serving"].update(skipped="--no-serving"))]
    elif missing_serving_dependency():
        serve = [("serving", lambda: bench.results["serving"].update(skipped=missing_serving_dependency()))]
    else:
        serve = [("serving", bench.serving)]
    return [("memory without guard", partial(bench.memory, subject, False)), *generate(subject, first),
            (f"classifier {classifier}", partial(bench.classifier_latency, classifier)),
            ("memory with guard", partial(bench.memory, subject, True)),
            (f"prefill {subject}", partial(bench.prefill, subject)), *serve,
            *[s for name in others for s in (*generate(name, [plan.target_batch]),
                                             (f"prefill {name}", partial(bench.prefill, name)))],
            *generate(subject, rest),
            *[(f"classifier {name}", partial(bench.classifier_latency, name)) for name in other_classifiers],
            *[s for name in others for s in generate(name, [b for b in plan.batches if b != plan.target_batch])]]


def _summarise(bench: Bench) -> None:
    """The figures derived from the steps so far, refreshed before every write."""
    results = bench.results
    points = [p for s in results["subjects"].values() for p in s["generate"]]
    results["flagged_changed_output"] = any(p["flagged_changed_output"] for p in points) if points else None
    results["targets"] = targets(results, bench.plan)
    results["corruption_share_of_generate"] = corruption_shares(results, bench.plan)
    results["elapsed_s"] = time.monotonic() - bench.started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes (CPU unless --device): checks the code paths")
    parser.add_argument("--device", default=None, help="default: cuda, or cpu with --smoke")
    parser.add_argument("--budget-s", type=float, default=240.0, help="no step starts after this many seconds")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per variant (default: the plan's)")
    parser.add_argument("--no-serving", action="store_true", help="skip the bento load test")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path, .md beside it (default: benchmarks/results/gpu_speed.json; "
                             "with --smoke a temporary file, so smoke figures never land in results/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    plan = SMOKE_PLAN if args.smoke else GPU_PLAN
    if args.repeats is not None:
        if args.repeats < 1:
            raise SystemExit("`--repeats` must be >= 1")
        plan = dataclasses.replace(plan, repeats=args.repeats)
    device = args.device or ("cpu" if args.smoke else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible: run this on a GPU machine, or pass --smoke for the CPU check")
    smoke_out = Path(tempfile.gettempdir()) / "gpu_speed_smoke.json"
    out = args.out or (smoke_out if args.smoke else RESULTS / "gpu_speed.json")
    command = shlex.join([Path(sys.executable).name, "-m", "benchmarks.gpu_speed", *argv])
    with tempfile.TemporaryDirectory(prefix="eco-gpu-speed-") as tmp:
        bench = Bench(plan, device, args.budget_s, Path(tmp), command)
        results = bench.results
        for name, step in steps(bench, serving=not args.no_serving):
            if bench.left() < plan.min_step_s:
                results["skipped"].append(f"{name}: budget of {args.budget_s:g} s spent")
                continue
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:  # one failed step must not lose the figures of the others
                traceback.print_exc()
                results["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
                if bench.cuda:
                    torch.cuda.empty_cache()
            results["steps"].append({"step": name, "seconds": time.perf_counter() - started})
            print(f"[{time.monotonic() - bench.started:7.1f} s] {name}", file=sys.stderr, flush=True)
            _summarise(bench)
            write(results, out)
    _summarise(bench)
    results["status"] = "complete" if not results["skipped"] and not results["errors"] else "partial"
    write(results, out)
    print(json.dumps({"status": results["status"], "out": str(out), "targets": results["targets"]}, indent=2))
    return results


if __name__ == "__main__":
    main()
