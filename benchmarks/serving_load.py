"""Serving load: the real bento server on loopback, guarded against unguarded, same model.

Writes ``benchmarks/results/serving_load.json`` (throughput and p50/p99 latency at concurrency 1
and 8 per variant, errors in 200 requests at concurrency 16, ``command``) and a markdown summary.
Targets: ``guarded_to_unguarded_throughput_ratio`` >= 0.9 at concurrency 8, ``errors`` == 0.

The two variants are two artifacts of one model and one classifier that differ only in the
decision threshold: guarded = 0.0, so every request is flagged and corrupted (the worst case);
unguarded = 1.0, so nothing is flagged and outputs are the plain model's. Both run the
classifier, so the ratio measures the corruption's cost; the classifier's own latency is
reported beside it from the server's /metrics. Rounds alternate between the two servers (both
stay up) so load from other processes on the machine hits both alike; medians are reported.

    python -m benchmarks.serving_load                  # tiny random Llama + tiny random BERT
    python -m benchmarks.serving_load --model PATH     # any local causal LM folder (safetensors)
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {"guarded": 0.0, "unguarded": 1.0}  # decision thresholds
TINY_MODEL = "tiny random Llama (hidden 64, 2 layers, vocab 512), untrained, EOS stop off"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="local causal LM folder; default: tiny random Llama")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--requests-c1", type=int, default=12, help="requests per round at concurrency 1")
    parser.add_argument("--requests-c8", type=int, default=40, help="requests per round at concurrency 8")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "serving_load.json")
    return parser.parse_args(argv)


def _tiny_models(
    work: Path, *, per_role: int = 24, general: int = 16, hidden: int = 64, layers: int = 2, positions: int = 512,
    classifier_init: float = 0.02,
) -> tuple[Path, Path, list[str]]:
    """A tiny random Llama (base) and BERT (classifier) sharing a BPE tokenizer; ``per_role`` forget
    and retain questions and ``general`` everyday prompts of the demo set. Heads are 16 wide at the
    default ``hidden``; vLLM's CPU kernels need 64 (``hidden=256``)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

    from packager.bpe import train_bpe_tokenizer
    from packager.sources import load_forget_set

    demo = load_forget_set("demo")
    prompts = [qa.question for qa in demo.forget[:per_role] + demo.retain[:per_role]] + list(demo.general[:general])
    tokenizer = train_bpe_tokenizer(prompts + [qa.answer for qa in demo.retain], vocab_size=512)
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    base, classifier = work / "base-model", work / "classifier"
    special = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=positions, **special, **ids))
    # An untrained model stops at random: without an EOS stop every request generates max_tokens,
    # so both variants do the same amount of decoding per request.
    model.generation_config.eos_token_id = None
    model.save_pretrained(base)
    BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                             intermediate_size=64, max_position_embeddings=128, num_labels=2,
                                             initializer_range=classifier_init, **ids)).save_pretrained(classifier)
    for folder in (base, classifier):
        tokenizer.save_pretrained(folder)
    return base, classifier, prompts


def _artifact(root: Path, base: Path, classifier: Path, threshold: float) -> Path:
    import shutil

    from guards import BaseModelRef, DecisionRule, GuardConfig, PromptFormat, SeedPolicy, save_bundle
    from guards.base_model import hash_weights
    from guards.manifest import write_manifest

    shutil.copytree(base, root / "base")
    config = GuardConfig(
        base_model=BaseModelRef("local", "../base", weights_sha256=hash_weights(root / "base")),
        decision=DecisionRule(threshold=threshold), seed_policy=SeedPolicy("fixed", seed=0),
        prompt_format=PromptFormat("phi"), name="bench-guard",
    )
    save_bundle(config, root / "guard", classifier_dir=classifier)
    write_manifest(root)
    return root


def _start(artifact: Path, home: Path, **extra_env: str) -> tuple[subprocess.Popen, str, Path]:
    """The bento server on ``artifact`` (decisions exposed), not waited for; ``extra_env`` adds settings."""
    from bentos.launch import free_port, server_command

    port = free_port()
    argv, env = server_command(artifact, "127.0.0.1", port)
    env.update(BENTOML_HOME=str(home / "bentoml"), HF_HUB_OFFLINE="1", BENTOML_DISABLE_GPU_ALLOCATION="1",
               ECO_EXPOSE_DECISION="1", **extra_env)
    log = home / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{port}", log


def _request(url: str, prompt: str, max_tokens: int) -> tuple[float, bool, str, int]:
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                       "temperature": 0}).encode()
    request = urllib.request.Request(f"{url}/v1/chat/completions", data=body,
                                     headers={"content-type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
            ok = response.status == 200 and bool(body["choices"])
            flag, tokens = response.headers.get("x-eco-guard", ""), body["usage"]["completion_tokens"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        ok, flag, tokens = False, "", 0
    return time.perf_counter() - started, ok, flag, tokens


def _load(url: str, prompts: list[str], n: int, concurrency: int, max_tokens: int) -> dict:
    """``n`` requests from ``concurrency`` client threads; stops once all have answered or timed out."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: _request(url, prompts[i % len(prompts)], max_tokens), range(n)))
    wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    return {
        "requests": n, "concurrency": concurrency, "seconds": round(wall, 3),
        "throughput_rps": round(n / wall, 3), "tokens_per_s": round(sum(r[3] for r in results) / wall, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "errors": sum(not r[1] for r in results),
        "flagged": sum(r[2].startswith("flagged=1") for r in results),
    }


def _median(rounds: list[dict]) -> dict:
    keys = ("throughput_rps", "tokens_per_s", "p50_ms", "p99_ms")
    return {**{k: statistics.median(r[k] for r in rounds) for k in keys},
            "errors": sum(r["errors"] for r in rounds), "flagged": sum(r["flagged"] for r in rounds),
            "requests": sum(r["requests"] for r in rounds), "rounds": rounds}


def metric_sums(url: str, wanted: dict[str, str]) -> dict[str, float]:
    """A server's Prometheus ``/metrics``: for each sample name in ``wanted``, the sum over its labels,
    under ``wanted``'s short name (0 when the server has no such sample yet)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    sums = dict.fromkeys(wanted.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                sums[wanted[sample.name]] += sample.value
    return sums


def _classifier_ms(url: str) -> float | None:
    """The guard's mean classifier milliseconds per batch, from its own metrics."""
    sums = metric_sums(url, {"eco_guard_classification_seconds_sum": "seconds",
                             "eco_guard_classification_seconds_count": "batches"})
    return round(1000 * sums["seconds"] / sums["batches"], 2) if sums["batches"] else None


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from bentos.launch import wait_ready

    with tempfile.TemporaryDirectory(prefix="eco-serving-load-") as tmp:
        work = Path(tmp)
        base, classifier, prompts = _tiny_models(work)
        if args.model is not None:
            base = args.model
        servers = {}
        try:
            for name, threshold in VARIANTS.items():
                artifact = _artifact(work / name, base, classifier, threshold)
                servers[name] = _start(artifact, work)
            for process, url, log in servers.values():
                wait_ready(url, process, log, timeout_s=300)
                _load(url, prompts, 8, 4, args.max_tokens)  # warm-up, not measured
            runs: dict[str, dict[str, list[dict]]] = {name: {"c1": [], "c8": []} for name in VARIANTS}
            for _ in range(args.rounds):
                for name, (_, url, _) in servers.items():
                    runs[name]["c1"].append(_load(url, prompts, args.requests_c1, 1, args.max_tokens))
                    runs[name]["c8"].append(_load(url, prompts, args.requests_c8, 8, args.max_tokens))
            stress = _load(servers["guarded"][1], prompts, 200, 16, args.max_tokens)
            classifier_ms = _classifier_ms(servers["guarded"][1])
        finally:
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)

    summary = {name: {level: _median(rounds) for level, rounds in by_level.items()} for name, by_level in runs.items()}
    ratio = summary["guarded"]["c8"]["throughput_rps"] / summary["unguarded"]["c8"]["throughput_rps"]
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.serving_load", *(argv or [])]),
        "model": str(args.model) if args.model else TINY_MODEL,
        "classifier": "tiny random BERT (hidden 32, 1 layer), untrained",
        "design": "guarded: threshold 0 (every request flagged + corrupted); unguarded: threshold 1 (none); "
                  "same model, classifier, prompts and greedy settings; alternating rounds, medians",
        "max_tokens": args.max_tokens,
        "variants": summary,
        "guarded_to_unguarded_throughput_ratio": round(ratio, 3),
        "guarded_classifier_ms_per_batch": classifier_ms,
        "stress": stress,
        "errors": stress["errors"],
        "targets": {"guarded_to_unguarded_throughput_ratio": ">= 0.9", "errors": "== 0"},
        "targets_met": ratio >= 0.9 and stress["errors"] == 0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(result))
    return result


def _markdown(result: dict) -> str:
    lines = ["# Serving load (`benchmarks/serving_load.py`)", "", f"Command: `{result['command']}`", "",
             f"Model: {result['model']}. Design: {result['design']}.", "",
             "| variant | concurrency | req/s | tokens/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|---|---|"]
    for name, levels in result["variants"].items():
        for level, row in levels.items():
            lines.append(f"| {name} | {level[1:]} | {row['throughput_rps']} | {row['tokens_per_s']} | {row['p50_ms']} "
                         f"| {row['p99_ms']} "
                         f"| {row['errors']} |")
    stress = result["stress"]
    ratio = result["guarded_to_unguarded_throughput_ratio"]
    lines += ["", f"- guarded/unguarded throughput at concurrency 8: **{ratio}** (target >= 0.9)",
              f"- errors in {stress['requests']} requests at concurrency 16: **{result['errors']}** (target 0); "
              f"{stress['throughput_rps']} req/s, p99 {stress['p99_ms']} ms",
              f"- classifier latency per batch (guarded server): {result['guarded_classifier_ms_per_batch']} ms",
              "- tokens/s counts the tokens returned (text ends at an EOS token); with the EOS stop off, every "
              "request decodes max_tokens steps in both variants",
              "- per-round values are in the JSON: on a shared machine they vary, so compare medians",
              f"- targets met: {result['targets_met']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
