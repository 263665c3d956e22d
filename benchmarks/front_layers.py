"""Where the vLLM front's CPU per request goes, layer by layer, against a stand-in vLLM.

Writes ``benchmarks/results/front_layers.json`` (and ``.md`` beside it) with the exact command.
``benchmarks.serving_vllm`` reads the front's CPU per request beside a real vLLM, where it is what
holds the guarded throughput back on a shared core (issue 22). This splits it. A stand-in vLLM
answers every request at once with ``--max-tokens`` token ids and computes nothing, so the fronts'
own work is all that is measured, with far less noise than a throughput ratio. Fronts, each on an
artifact whose threshold flags half of the prompts (``half``) and on a copy that flags none (``none``):

- ``bento``: the real server, ``bentoml serve`` of ``bentos.service`` with ``ECO_ENGINE=vllm``;
- ``app_uvicorn``: the same service object, routes and vLLM backend served by plain uvicorn, without
  BentoML's worker and middlewares;
- ``in_process``: ``GuardedCompletions.chat`` called in this process, 16 at a time: no HTTP server,
  but the same classifier, corruption and aiohttp call to vLLM.

So ``bento - app_uvicorn`` is BentoML's layer, ``app_uvicorn - in_process`` the HTTP server and
FastAPI, and ``in_process`` the guard's own work with its call to vLLM. CPU per request: user +
system time of the front's process tree (this process for ``in_process``) over a round, per
request. The fronts and the load generator share one core, the stand-in has another, as in
``serving_vllm --engine-cores 1``. Rounds alternate the fronts' order; medians are reported.

    python -m benchmarks.front_layers
    python -m benchmarks.front_layers --rounds 3 --requests 160   # quicker, each prompt once a round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from benchmarks import machine, serving_load
from benchmarks.serving_vllm import (
    CONCURRENCY,
    _chat,
    _client,
    _median_threshold,
    _own_cpu_seconds,
    _round,
    _split_cores,
)

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
FRONTS = ("bento", "app_uvicorn", "in_process")
FLAGS = {"half": None, "none": 1.0}  # decision thresholds: None = the prompts' median score
ANSWER_IDS = range(20, 70)  # the stand-in's answer cycles through these token ids (the tiny vocab has 512)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=480,
                        help="requests per front and round (default 480: each of the 160 prompts 3 times)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32, help="token ids in each of the stand-in's answers")
    parser.add_argument("--out", type=Path, default=RESULTS / "front_layers.json")
    args = parser.parse_args(argv)
    for name in ("requests", "rounds", "max_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def stand_in_vllm(port: int) -> None:
    """A vLLM stand-in on loopback: ``/health``, ``/v1/models`` and ``/v1/completions``, which answers
    at once with ``max_tokens`` token ids whatever the prompt (token ids or ``prompt_embeds``). It
    serves in its own process; the fronts see vLLM's API and nothing of its cost."""
    from aiohttp import web

    from bentos.vllm_process import SERVED_NAME

    async def health(_: web.Request) -> web.Response:
        return web.Response()

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": SERVED_NAME, "max_model_len": 1024}]})

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        ids = [ANSWER_IDS[i % len(ANSWER_IDS)] for i in range(int(body["max_tokens"]))]
        prompt = len(body["prompt"]) if isinstance(body.get("prompt"), list) else 0
        return web.json_response({
            "id": "cmpl-stand-in", "object": "text_completion", "created": 0, "model": SERVED_NAME,
            "choices": [{"index": 0, "text": "", "token_ids": ids, "finish_reason": "length"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(ids), "total_tokens": prompt + len(ids)}})

    app = web.Application(client_max_size=64 * 2**20)  # a flagged prompt's embeddings are a large body
    app.add_routes([web.get("/health", health), web.get("/v1/models", models),
                    web.post("/v1/completions", completions)])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_without_bentoml(port: int) -> None:
    """The bento's service object (settings from ``ECO_*``), its ``/v1`` routes and backend, served by
    plain uvicorn: the front less BentoML's worker and middlewares."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bentos.api import create_app
    from bentos.service import EcoGuardService

    service = EcoGuardService.inner()  # the class BentoML's worker instantiates
    app = Starlette(routes=[Mount("/v1", app=create_app(lambda: service.completions))])
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def _python(work: Path, function: str, port: int, cores: list[int], env: dict[str, str]) -> tuple:
    """``function(port)`` of this module in a fresh interpreter on ``cores``: (process, url, log)."""
    log = work / f"{function}-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", f"from benchmarks.front_layers import {function}; "
                                    f"{function}({port})"], cwd=REPO, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, preexec_fn=lambda: os.sched_setaffinity(0, cores),
                                   start_new_session=True)
    return process, f"http://127.0.0.1:{port}", log


def _local_front(artifact: Path, vllm_url: str, metrics):
    """``GuardedCompletions`` on ``artifact`` in this process, built as the service builds it."""
    from bentos.completions import GuardedCompletions
    from bentos.engine import Engine
    from bentos.settings import ServingSettings
    from bentos.vllm_backend import VllmBackend

    settings = ServingSettings(artifact=artifact, device="cpu", dtype="float32", expose_decision=True,
                               engine="vllm", vllm_url=vllm_url)
    engine = Engine.load(artifact, device="cpu", dtype="float32", embeddings_only=True)
    return GuardedCompletions(engine, VllmBackend.start(engine, settings, metrics), settings, metrics)


def _local_round(loop: asyncio.AbstractEventLoop, front, prompts: list[str], n: int, max_tokens: int) -> dict:
    """``n`` chat calls to ``front`` at ``CONCURRENCY`` in this process's event loop ``loop`` (the
    front's backend session and batcher live in it), with this process's CPU per request."""
    from bentos.completions import GUARD_HEADER
    from bentos.schemas import ChatRequest

    async def one(i: int, gate: asyncio.Semaphore) -> tuple[bool, str]:
        async with gate:
            request = ChatRequest(messages=[{"role": "user", "content": prompts[i % len(prompts)]}],
                                  max_tokens=max_tokens, temperature=0)
            response = await front.chat(request)
            return response.status_code == 200, response.headers.get(GUARD_HEADER, "")

    async def all_of_them() -> list[tuple[bool, str]]:
        gate = asyncio.Semaphore(CONCURRENCY)
        return await asyncio.gather(*(one(i, gate) for i in range(n)))

    cpu, started = _own_cpu_seconds(), time.perf_counter()
    results = loop.run_until_complete(all_of_them())
    wall, used = time.perf_counter() - started, _own_cpu_seconds() - cpu
    return {"requests": n, "throughput_rps": round(n / wall, 3),
            "cpu_ms_per_request": {"front": round(1000 * used / n, 3)},
            "errors": sum(not ok for ok, _ in results), "flagged": sum(h.startswith("flagged=1") for _, h in results)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    stand_in_cores, front_cores, _ = _split_cores(1)  # a machine with one core fails here, before any work
    described = machine.describe()  # its load before this benchmark's own servers add to it
    from bentos.launch import free_port, wait_ready
    from bentos.metrics import GuardMetrics

    with tempfile.TemporaryDirectory(prefix="eco-front-layers-") as tmp:
        work = Path(tmp)
        base, classifier, prompts = serving_load._tiny_models(work, per_role=64, general=32, hidden=256, layers=4,
                                                              positions=1024, classifier_init=0.5)
        median = _median_threshold(classifier, prompts)
        artifacts = {flags: serving_load._artifact(work / flags, base, classifier, median if t is None else t)
                     for flags, t in FLAGS.items()}
        stand_in, vllm_url, stand_in_log = _python(work, "stand_in_vllm", free_port(), stand_in_cores, {})
        os.sched_setaffinity(0, front_cores)  # this process (the load, in_process) and every front after it
        settings = {"ECO_ENGINE": "vllm", "ECO_VLLM_URL": vllm_url, "ECO_DTYPE": "float32", "ECO_DEVICE": "cpu"}
        servers = {}
        for flags, artifact in artifacts.items():
            servers[f"bento/{flags}"] = (*serving_load._start(artifact, work, **settings), "/readyz")
            env = {**settings, "ECO_ARTIFACT": str(artifact), "ECO_EXPOSE_DECISION": "1"}
            servers[f"app_uvicorn/{flags}"] = (*_python(work, "serve_without_bentoml", free_port(), front_cores, env),
                                               "/v1/models")
        loop = asyncio.new_event_loop()
        try:
            wait_ready(vllm_url, stand_in, stand_in_log, timeout_s=120, path="/health")
            for process, url, log, path in servers.values():
                wait_ready(url, process, log, timeout_s=900, path=path)
            metrics = GuardMetrics.create()
            local = {flags: _local_front(artifact, vllm_url, metrics) for flags, artifact in artifacts.items()}
            calls = {name: _http_call(url, process.pid, prompts, args.max_tokens)
                     for name, (process, url, _, _) in servers.items()}
            calls |= {f"in_process/{flags}": partial(_local_round, loop, front, prompts, max_tokens=args.max_tokens)
                      for flags, front in local.items()}
            names = [f"{front}/{flags}" for front in FRONTS for flags in FLAGS]
            for name in names:
                calls[name](2 * CONCURRENCY)  # warm-up, not measured
            runs: dict[str, list[dict]] = {name: [] for name in names}
            for index in range(args.rounds):
                for name in names if index % 2 == 0 else names[::-1]:
                    runs[name].append(calls[name](args.requests))
            loop.run_until_complete(_close(list(local.values())))
        finally:
            loop.close()
            for process, *_ in [*servers.values(), (stand_in,)]:
                process.terminate()
                process.wait(timeout=60)

    result = _result(args, argv, runs, described)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(result))
    return result


async def _close(fronts: list) -> None:
    """Close the in-process fronts' vLLM sessions and end their loop's tasks (the classifier's batcher)."""
    await asyncio.gather(*(front.backend.close() for front in fronts))
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _http_call(url: str, pid: int, prompts: list[str], max_tokens: int):
    """A round of ``n`` requests to the front at ``url`` with the openai client, with the CPU per
    request of the front's process tree ``pid``."""
    client = _client(url)
    return lambda n: _round(lambda prompt, m: _chat(client, prompt, m), prompts, n, [max_tokens], {"front": pid})


def _result(args: argparse.Namespace, argv: list[str] | None, runs: dict[str, list[dict]], described: str) -> dict:
    fronts = {}
    for name, rounds in runs.items():
        cpu = [r["cpu_ms_per_request"]["front"] for r in rounds]
        fronts[name] = {"cpu_ms_per_request": round(statistics.median(cpu), 3), "cpu_min": min(cpu),
                        "cpu_max": max(cpu),
                        "throughput_rps": round(statistics.median(r["throughput_rps"] for r in rounds), 1),
                        "errors": sum(r["errors"] for r in rounds), "flagged": sum(r["flagged"] for r in rounds),
                        "requests": sum(r["requests"] for r in rounds), "cpu_per_round": cpu}
    layers = {}
    for flags in FLAGS:
        bento, plain, local = (fronts[f"{front}/{flags}"]["cpu_ms_per_request"] for front in FRONTS)
        layers[flags] = {"bentoml": round(bento - plain, 3), "http_server_and_fastapi": round(plain - local, 3),
                         "guard_and_vllm_call": local, "total": bento}
    return {
        "command": shlex.join([sys.executable, "-m", "benchmarks.front_layers", *(argv or [])]),
        "code": machine.code_revision(REPO), "machine": described,
        "model": "tiny random Llama's tokenizer and embeddings (hidden 256, vocab 512); classifier: tiny random "
                 "BERT (hidden 32, 1 layer); half: threshold at the prompts' median score; none: threshold 1.0",
        "stand_in": f"answers at once with {args.max_tokens} token ids, in its own process on a core of its own",
        "concurrency": CONCURRENCY, "requests_per_round": args.requests, "rounds": args.rounds,
        "fronts": fronts, "layers_ms_per_request": layers,
        "errors": sum(front["errors"] for front in fronts.values()),
    }


def _markdown(result: dict) -> str:
    lines = ["# The vLLM front's CPU per request, by layer (`benchmarks/front_layers.py`)", "",
             f"Command: `{result['command']}` ({result['code']}; {result['machine']})", "",
             f"{result['model']}. Stand-in vLLM: {result['stand_in']}. Concurrency {result['concurrency']}, "
             f"{result['requests_per_round']} requests per front in each of {result['rounds']} alternating rounds; "
             "CPU: user + system time of the front's process tree over a round, per request (in_process: the "
             "benchmark's own process, where the calls run).", "",
             "| front | flagged / requests | CPU ms / request, median | per round, min to max | requests/s | errors |",
             "|---|---|---|---|---|---|"]
    for name, row in result["fronts"].items():
        lines.append(f"| {name} | {row['flagged']} / {row['requests']} | **{row['cpu_ms_per_request']}** "
                     f"| {row['cpu_min']} to {row['cpu_max']} | {row['throughput_rps']} | {row['errors']} |")
    lines += ["", "Layers, CPU ms per request (differences of the medians above):", "",
              "| prompts flagged | BentoML (bento - app_uvicorn) | HTTP server and FastAPI (app_uvicorn - in_process) "
              "| guard and vLLM call (in_process) | the bento in all |", "|---|---|---|---|---|"]
    for flags, layer in result["layers_ms_per_request"].items():
        lines.append(f"| {flags} | {layer['bentoml']} | {layer['http_server_and_fastapi']} "
                     f"| {layer['guard_and_vllm_call']} | {layer['total']} |")
    lines += ["", f"Errors in all: {result['errors']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
