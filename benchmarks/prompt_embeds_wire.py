"""What sending a flagged prompt to vLLM costs the front on CPU, by prompt length, at a 7B model's width.

Writes ``benchmarks/results/prompt_embeds_wire.json`` (and ``.md``) with the exact command. A flagged
prompt goes to vLLM as ``prompt_embeds``: base64 of a ``torch.save``d [T, d] tensor inside the JSON
body, megabytes for a 7B model's long prompt. Timed per prompt, on one thread, for random [T, d]
embeddings:

- ``encode``: ``bentos.vllm_backend.encode_embeddings`` (``torch.save`` and base64);
- ``json_dumps``: the body as ``json.dumps`` writes it (what aiohttp's ``json=`` does), which scans
  every character of the base64 for escaping;
- ``spliced``: ``bentos.vllm_backend.completion_body``, which the front sends: the base64 spliced
  into the JSON of the other fields, unescaped (its alphabet needs none).

The corruption itself is ``benchmarks.corruption_step``'s subject, not timed here.

    python -m benchmarks.prompt_embeds_wire
    python -m benchmarks.prompt_embeds_wire --tokens 64,512 --hidden 2048 --dtype float32
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from benchmarks import machine
from benchmarks.arguments import positive_list
from benchmarks.gpu_speed_bench import stats
from bentos.vllm_backend import completion_body, encode_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
FIELDS = {"model": "eco-base", "max_tokens": 256, "temperature": 0.0, "top_p": 1.0, "seed": None, "stream": False,
          "return_token_ids": True, "skip_special_tokens": True}  # the other fields of the front's request


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=positive_list(int, "32,256,1024"), default=(32, 256, 1024),
                        metavar="T,T,...", help="prompt lengths in tokens (default 32,256,1024)")
    parser.add_argument("--hidden", type=int, default=4096, help="embedding width (default 4096, Llama-2-7B's)")
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per step and length")
    parser.add_argument("--out", type=Path, default=RESULTS / "prompt_embeds_wire.json")
    args = parser.parse_args(argv)
    if args.hidden < 1 or args.repeats < 1 or not args.tokens:
        parser.error("--hidden and --repeats must be at least 1, and --tokens must list a length")
    return args


def _timed_ms(call, repeats: int) -> dict:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return stats(times)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)  # one request's work runs on one thread of the front
    dtype = getattr(torch, args.dtype)
    rows = []
    for tokens in args.tokens:
        embeddings = torch.randn(tokens, args.hidden).to(dtype)
        wire = encode_embeddings(embeddings)
        text = wire.decode()
        dumped, spliced = json.dumps({**FIELDS, "prompt_embeds": text}).encode(), completion_body(FIELDS, wire)
        assert json.loads(dumped) == json.loads(spliced)  # the same request either way
        rows.append({"tokens": tokens, "body_mb": round(len(spliced) / 1e6, 3),
                     "encode_ms": _timed_ms(lambda e=embeddings: encode_embeddings(e), args.repeats),
                     "json_dumps_ms": _timed_ms(lambda t=text: json.dumps({**FIELDS, "prompt_embeds": t}).encode(),
                                                args.repeats),
                     "spliced_ms": _timed_ms(lambda w=wire: completion_body(FIELDS, w), args.repeats)})
    result = {"command": shlex.join([sys.executable, "-m", "benchmarks.prompt_embeds_wire", *(argv or [])]),
              "code": machine.code_revision(REPO), "machine": machine.describe(),
              "hidden": args.hidden, "dtype": args.dtype, "repeats": args.repeats, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(result))
    return result


def _markdown(result: dict) -> str:
    lines = ["# A flagged prompt on the wire to vLLM (`benchmarks/prompt_embeds_wire.py`)", "",
             f"Command: `{result['command']}` ({result['code']}; {result['machine']})", "",
             f"Random [T, {result['hidden']}] {result['dtype']} embeddings; milliseconds per prompt on one thread, "
             f"median (min to max) of {result['repeats']} calls. encode: torch.save and base64; then the JSON body "
             "either by json.dumps of every field (aiohttp's json=) or spliced (what the front sends).", "",
             "| tokens | body MB | encode | body by json.dumps | body spliced | encode + json.dumps "
             "| encode + spliced |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        encode, dumps, spliced = row["encode_ms"], row["json_dumps_ms"], row["spliced_ms"]
        cells = [f"{t['median']:.3f} ({t['min']:.3f} to {t['max']:.3f})" for t in (encode, dumps, spliced)]
        lines.append(f"| {row['tokens']} | {row['body_mb']} | {' | '.join(cells)} "
                     f"| {encode['median'] + dumps['median']:.3f} | **{encode['median'] + spliced['median']:.3f}** |")
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    main(sys.argv[1:])
