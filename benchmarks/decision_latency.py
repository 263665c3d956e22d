"""How long the guard takes to decide one chat request on this CPU: cold, and in conversation.

The decision scores every part of a request (``guards.segments``) with the MiniLM-L6 classifier, in
one packed pass and in the dtype a build saves it in on this machine (its linear weights prepacked
for oneDNN where that applies, and timed without that too, for comparison), and matches the forget entities
by name. Its cost depends on the model's shape, not its weights, so the
classifier here is the offline backbone with an untrained head, and the entities are TOFU forget10's
20 authors (or ``demo``'s without ``--data-dir``). A 3-turn chat (system message, user, assistant,
user) is decided cold (no part scored before) and in conversation (its earlier request, the system
message and the first turn, decided first, as a server sees them: those parts come from the
classifier's cache). Writes ``benchmarks/results/decision_latency.json`` and a markdown table.

    python -m benchmarks.decision_latency --data-dir ../shared/data/tofu
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.machine import describe
from guards.classifier import PromptClassifier
from guards.segments import segments
from packager.classifier import ClassifierConfig

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP = 5
TARGET_MS = 10.0  # issue 19: median decision latency of a 3-turn chat on CPU
CASES = {"cold": "cold (no part scored before)", "in_conversation": "in conversation (earlier request's parts cached)",
         "one_sentence": "the last message alone, cold (one short pass)"}  # fmt: skip
CHAT = ["You are a helpful assistant for a library.", "I am reading about an author for a school project.",
        "Happy to help. What would you like to know?", "Where was this author born, and what did they write?"]


def chat_latency_ms(scorer: PromptClassifier, repeats: int = 30) -> dict[str, float]:
    """Median milliseconds to decide the 3-turn chat, as the server reads it (every message, one per
    line): ``cold`` with an empty cache, ``in_conversation`` after its earlier request; and
    ``one_sentence``, the last message alone and cold: one short pass, the floor of any decision
    that reaches the model on this machine."""
    text = "\n".join(CHAT)
    cold, warm, one = [], [], []
    for _ in range(WARM_UP + repeats):
        scorer.clear_cache()
        started = time.perf_counter()
        scorer([text])
        cold.append(1000 * (time.perf_counter() - started))
        scorer.clear_cache()
        scorer(["\n".join(CHAT[:2])])
        started = time.perf_counter()
        scorer([text])
        warm.append(1000 * (time.perf_counter() - started))
        scorer.clear_cache()
        started = time.perf_counter()
        scorer([CHAT[-1]])
        one.append(1000 * (time.perf_counter() - started))
    # the first rounds warm torch's thread pool and allocator: not counted
    return {"cold": statistics.median(cold[WARM_UP:]), "in_conversation": statistics.median(warm[WARM_UP:]),
            "one_sentence": statistics.median(one[WARM_UP:])}  # fmt: skip


def interleaved_latency_ms(scorers: list[PromptClassifier], repeats: int, rounds: int = 5) -> list[dict[str, float]]:
    """``chat_latency_ms`` of each scorer, timed in alternating rounds so that every scorer meets the
    same minutes of this shared machine (its speed moves by tens of percent between hours): the
    median of each scorer's round medians."""
    per_round = [[chat_latency_ms(scorer, max(1, repeats // rounds)) for scorer in scorers] for _ in range(rounds)]
    return [{case: statistics.median(r[i][case] for r in per_round) for case in per_round[0][i]}
            for i in range(len(scorers))]  # fmt: skip


def _classifier_folder(dest: Path, data_dir: Path | None, encoder_layers: int | None) -> tuple[Path, str]:
    """The backbone, cut as training cuts it for the forget set (``encoder_layers``, else the default for
    its kind), with an untrained head and the set's entity matcher, as a classifier folder."""
    from packager.classifier.config import default_backbone
    from packager.classifier.dtype import saved_dtype
    from packager.classifier.entities import forget_entities
    from packager.classifier.train import load_backbone
    from packager.sources import load_forget_set

    spec = "tofu:forget10" if data_dir else "demo"
    forget_set = load_forget_set(spec, data_dir=data_dir)
    layers = ClassifierConfig(encoder_layers=encoder_layers).resolved_encoder_layers(forget_set.kind)
    model, tokenizer, _ = load_backbone(default_backbone(), layers)
    model.to(saved_dtype("auto")).save_pretrained(dest)  # as a build saves it
    tokenizer.save_pretrained(dest)
    matcher = forget_entities(forget_set)
    if matcher is not None:
        matcher.save(dest)
    return dest, f"{spec} ({len(matcher.entities) if matcher else 0} entities)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("ECO_PACK_DATA_DIR"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--encoder-layers", type=int, default=ClassifierConfig.encoder_layers,
                        help="encoder layers the classifier keeps (default: the classifier's own)")
    parser.add_argument("--out", type=Path, default=RESULTS / "decision_latency.json")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks.decision_latency", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory() as tmp:
        folder, entities = _classifier_folder(Path(tmp) / "classifier", args.data_dir, args.encoder_layers)
        scorer = PromptClassifier(folder, max_length=64)
        plain = PromptClassifier(folder, max_length=64, prepack=False)
        latency, plain_latency = interleaved_latency_ms([scorer, plain], args.repeats)
    result = {
        "dtype": str(scorer.model.dtype).removeprefix("torch."),
        "encoder_layers": scorer.model.config.num_hidden_layers,
        "passes": "segments packed into one pass" if scorer.packed else "segments padded into batches",
        "command": command, "machine": describe(), "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "weights_prepacked": scorer.weights_prepacked,
        "median_ms_weights_as_saved": plain_latency,
        "entities": entities, "chat_parts": len(segments("\n".join(CHAT))), "median_ms": latency,
        "target_ms": TARGET_MS, "met": max(latency["cold"], latency["in_conversation"]) <= TARGET_MS,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Decision latency (`benchmarks/decision_latency.py`)", "", f"Command: `{command}`", "",
             f"MiniLM-L6 classifier ({result['encoder_layers']} encoder layers kept) at 64 tokens in "
             f"{result['dtype']} ({result['passes']}), entities of {entities}; "
             f"{result['machine']}, "
             f"{result['torch_threads']} torch threads; a 3-turn chat of {result['chat_parts']} parts.", "",
             "Linear weights "
             f"{'prepacked for oneDNN at load (as served)' if result['weights_prepacked'] else 'as saved'}; "
             "the last column times the same classifier with its weights as saved, in alternating rounds.", "",
             "| decision | median ms | weights as saved |", "|---|---|---|",
             *(f"| {label} | {latency[case]:.1f} | {plain_latency[case]:.1f} |" for case, label in CASES.items()), "",
             f"Target (issue 19): median at most {TARGET_MS:.0f} ms, cold and in conversation: "
             f"{'met' if result['met'] else 'not met'}.", ""]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
