"""The corruption step alone, per flagged row: embed + corrupt against embed, at real embedding shapes.

The GPU speed runs (docs/gpu_speed.md) found this step growing with the number of flagged rows
whatever the prompt length or the model width: work per row, not arithmetic. This measures the step
on its own, in a minute on a CPU or seconds on a GPU. Subjects: the Llama-2-7B and SmolLM2-135M
shapes cut to one layer (the step reads only the embedding table), random weights, the GPU speed
benchmark's tokenizer and prompts, the guard it builds (``rand_noise_first_n`` on every dimension,
``all_but_last``, fixed key), every row flagged.

    python -m benchmarks.corruption_step                         # CPU, float32
    python -m benchmarks.corruption_step --device cuda           # GPU, bfloat16
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.arguments import positive_list
from benchmarks.gpu_speed import LLAMA_7B, SMOLLM2_135M
from benchmarks.gpu_speed_bench import Bench, Plan, stats
from benchmarks.machine import code_revision

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SUBJECTS = {"llama-2-7b": LLAMA_7B, "smollm2-135m": SMOLLM2_135M}
CALLS = {"device": None, "batch": True, "row": False}  # --calls -> GuardedModel.corrupt_whole_batch


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (float32) or cuda (bfloat16)")
    parser.add_argument("--batches", type=positive_list(int, "1,8,32"), default=(1, 8, 32))
    parser.add_argument("--lengths", type=positive_list(int, "64,512"), default=(64, 512), help="prompt tokens")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per variant, after 3 warm-ups")
    parser.add_argument("--calls", choices=sorted(CALLS), default="device",
                        help="device: the guard's own choice (one call per batch on an accelerator, one per row "
                             "on a CPU); batch or row: force one of the two")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path, .md beside it (default: benchmarks/results/corruption_step_<cpu|cuda>.json)")
    return parser.parse_args(argv)


def _point(bench: Bench, name: str, batch: int, length: int, repeats: int, calls: str) -> dict:
    guard = bench.guard(name)
    guard.corrupt_whole_batch = CALLS[calls]
    times, step = bench.embed_step(guard, batch, length, timed=repeats, warmup=3)
    return {"subject": name, "batch": batch, "prompt_tokens": length,
            **{f"{key}_ms": stats([1000 * t for t in v]) for key, v in times.items()},
            "corruption_ms": 1000 * step, "per_flagged_row_us": 1e6 * step / batch}


def _markdown(result: dict) -> str:
    rows = "\n".join(
        f"| {p['subject']} | {p['batch']} | {p['prompt_tokens']} | {p['embed_ms']['median']:.4g} | "
        f"{p['embed_and_corrupt_ms']['median']:.4g} ({p['embed_and_corrupt_ms']['min']:.4g}-"
        f"{p['embed_and_corrupt_ms']['max']:.4g}) | {p['corruption_ms']:.4g} | {p['per_flagged_row_us']:.4g} |"
        for p in result["points"])
    return (f"# The corruption step alone (`benchmarks/corruption_step.py`)\n\nCommand: `{result['command']}`\n\n"
            f"Device: {result['device']}; torch {result['torch']}; dtype {result['dtype']}; corruption calls: "
            f"{result['calls']} (`--calls`). Guard code: "
            f"{result['code']}.\n\n{result['design']}\n\nMedians over {result['repeats']} calls (min-max).\n\n"
            "| subject | batch | prompt tokens | embed ms | embed + corrupt ms | corruption ms | per flagged row us |\n"
            f"|---|---|---|---|---|---|---|\n{rows}\n")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible: run this with --device cpu, or on a GPU machine")
    out = args.out or RESULTS / f"corruption_step_{args.device.split(':')[0]}.json"
    # one layer: the step reads only the embedding table, so the rest of the model need not be built
    plan = Plan({name: {**shape, "num_hidden_layers": 1} for name, shape in SUBJECTS.items()}, {},
                "smollm2-135m", batches=tuple(args.batches), lengths=tuple(args.lengths), new_tokens=0,
                target_batch=args.batches[0], classifier_batches=(), concurrency=(), target_concurrency=0,
                serving_max_tokens=0, serving_rounds=0, repeats=args.repeats, words=4000, min_step_s=0.0,
                serving_min_s=0.0, mode="corruption")
    with tempfile.TemporaryDirectory(prefix="eco-corruption-step-") as tmp:
        bench = Bench(plan, args.device, float("inf"), Path(tmp), "")
        points = [_point(bench, name, b, n, args.repeats, args.calls) for name in SUBJECTS for b in args.batches
                  for n in args.lengths]
    result = {
        "command": shlex.join([Path(sys.executable).name, "-m", "benchmarks.corruption_step", *argv]),
        "device": bench.results["environment"]["device"], "torch": torch.__version__,
        "dtype": str(bench.dtype).removeprefix("torch."), "repeats": args.repeats, "calls": args.calls,
        "code": code_revision(REPO),
        "design": __doc__.split("\n\n")[1].replace("\n", " "),
        "points": points,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(result))
    print(_markdown(result))
    return result


if __name__ == "__main__":
    main()
