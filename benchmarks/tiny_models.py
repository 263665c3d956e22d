"""Train the ``tiny`` alias from scratch (subject + retain reference on ``demo``) and check memorisation.

    python -m benchmarks.tiny_models

Uses a fresh temporary cache, so it always trains. Writes benchmarks/results/tiny_models.json
(and .md): training seconds per model, parameters, tokens/s, final loss, and the mean per-token
answer probability (geometric mean over answer + EOS tokens) of each model on demo's forget,
retain, holdout and general-knowledge QA. The subject must be far above the retain reference on
forget QA, and both must match on retain QA; that gap is what a guard has to close.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from evaluation.answers import answer_text
from packager.finetune_data import encode_pair
from packager.sources import load_forget_set
from packager.tiny import TINY_FORMAT, ensure_tiny

RESULTS = Path(__file__).resolve().parent / "results"


def answer_probability(path: Path, qas) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    values = []
    with torch.no_grad():
        for qa in qas:
            ids, labels = encode_pair(tokenizer, TINY_FORMAT.format(qa.question), answer_text(qa.answer, TINY_FORMAT))
            logprobs = model(input_ids=torch.tensor([ids])).logits[0, :-1].log_softmax(-1)
            target = torch.tensor(labels[1:])
            keep = target != -100
            values.append(logprobs[keep].gather(-1, target[keep, None]).mean().exp().item())
    return sum(values) / len(values)


def main() -> None:
    torch.set_num_threads(1)
    demo = load_forget_set("demo")
    splits = {"forget": demo.forget, "retain": demo.retain, "holdout": demo.holdout,
              "general": demo.real_authors + demo.world_facts}
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        tiny = ensure_tiny("demo", cache=Path(cache), progress=sys.stderr.isatty())
        total = time.perf_counter() - start
        result = {"command": "python -m benchmarks.tiny_models", "cpu_cores": len(os.sched_getaffinity(0)),
                  "load_average_1min": round(os.getloadavg()[0], 2), "total_seconds": round(total, 1), "models": {}}
        for role, path in (("subject", tiny.subject), ("retain", tiny.retain)):
            record = json.loads((path / "finetune.json").read_text())
            result["models"][role] = {
                "seconds": record["seconds"], "parameters": record["parameters"],
                "tokens_per_second": record["tokens_per_second"], "epochs": len(record["epoch_losses"]),
                "final_loss": round(record["epoch_losses"][-1], 4), "data": record["data"],
                "answer_probability": {k: round(answer_probability(path, v), 4) for k, v in splits.items()},
            }
    result["config"] = record["config"]
    result["command"] = "python -m benchmarks.tiny_models" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tiny_models.json").write_text(json.dumps(result, indent=2))
    rows = [f"| {role} | {m['seconds']} | {m['parameters']:,} | {m['final_loss']} | "
            + " | ".join(str(m["answer_probability"][k]) for k in splits) + " |"
            for role, m in result["models"].items()]
    (RESULTS / "tiny_models.md").write_text("\n".join([
        "# tiny models (from scratch on demo)", "",
        f"`{result['command']}`: {result['total_seconds']} s in all on {result['cpu_cores']} cores "
        f"(load average {result['load_average_1min']} when it finished; the machine is shared).", "",
        "| model | train s | parameters | final loss | p(answer) forget | retain | holdout | general |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        "p(answer): geometric-mean per-token probability of the answer + EOS, averaged over questions.", "",
    ]))
    print(json.dumps(result["models"], indent=2))


if __name__ == "__main__":
    main()
