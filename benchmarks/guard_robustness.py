"""Guard robustness over seeds: the attack report (``evaluation.probe``), paraphrase and held-out
recall, false positives and the decision latency of a 3-turn chat, on TOFU forget10, a
non-biography set, a topic asked as multiple choice (``demo-mc``) and a text corpus (``demo-text``).

For each forget set and seed the classifier is trained and calibrated as ``eco-pack build`` does
(the set's default augmentation profile, seed-dependent splits) and its report measured; then,
holding the whole forget text and every forget fact as the shipped bundle does
(``packager.classifier.shipped``), the held-out prompts are scored again (the served guard) and the
guard is attacked with fresh seeds of the suite. Writes ``benchmarks/results/guard_robustness.json``
and a markdown table with the median and the worst value of each figure over the seeds, against
issue 19's targets.

    python -m benchmarks.guard_robustness --data-dir ../shared/data/tofu --seeds 0 1 2
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

from benchmarks.decision_latency import chat_latency_ms
from evaluation.probe import probe
from guards.classifier import PromptClassifier
from packager.classifier import ClassifierConfig, calibrate_classifier, evaluate_classifier, train_classifier
from packager.classifier.profiles import PROFILES, default_profile
from packager.classifier.shipped import shipped_files
from packager.sources import load_forget_set

RESULTS = Path(__file__).resolve().parent / "results"
QUILLMARK = Path(__file__).resolve().parents[1] / "tests" / "data" / "quillmark.jsonl"
SETS = {"tofu:forget10": "tofu:forget10", "quillmark (non-biography)": f"custom:{QUILLMARK}",
        "demo-mc (a topic, multiple choice)": "demo-mc", "demo-text (a text corpus)": "demo-text"}
PROBE_SEED_OFFSET = 1000  # the attack suite's seeds are not the ones the splits were chosen with
TARGETS = {"family recall": 0.95, "multi-turn and system recall": 1.0, "paraphrase recall": 0.98,
           "FPR retain": 0.01, "FPR general": 0.01, "FPR per benign family": 0.02, "3-turn decision ms": 10.0}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("ECO_PACK_DATA_DIR"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--per-family", type=int, default=60)
    parser.add_argument("--encoder-layers", type=int, default=ClassifierConfig.encoder_layers,
                        help="classifier encoder layers kept (default: the classifier's own)")
    parser.add_argument("--out", type=Path, default=RESULTS / "guard_robustness.json")
    return parser.parse_args(argv)


def run_one(spec: str, seed: int, data_dir: Path | None, per_family: int, encoder_layers: int | None) -> dict:
    forget_set = load_forget_set(spec, data_dir=data_dir, seed=seed)
    profile = default_profile(spec)
    config = PROFILES.get(profile)(ClassifierConfig(seed=seed, encoder_layers=encoder_layers))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        trained = train_classifier(forget_set, config, Path(tmp) / "classifier")
        scorer = PromptClassifier(trained.path, max_length=config.max_length)
        decision = calibrate_classifier(scorer, trained.data, config)
        report = evaluate_classifier(scorer, trained.data, decision)
        for name, text in shipped_files(trained.path, forget_set).items():  # as the bundle stage ships it
            (trained.path / name).write_text(text)
        scorer = PromptClassifier(trained.path, max_length=config.max_length)
        served = evaluate_classifier(scorer, trained.data, decision)
        attacks = probe(scorer, decision, forget_set, per_family=per_family, seed=PROBE_SEED_OFFSET + seed)
        latency = chat_latency_ms(scorer)
        seconds = time.perf_counter() - started
    return {
        "seed": seed, "profile": profile, "encoder_layers": scorer.model.config.num_hidden_layers,
        "threshold": decision.threshold, "seconds": seconds,
        "paraphrase_recall": report.recall["paraphrase"].rate,
        "heldout_recall": report.recall["heldout_forget"].rate, "fpr_retain": report.fpr["retain"].rate,
        "fpr_general": report.fpr["general"].rate,
        "served_paraphrase_recall": served.recall["paraphrase"].rate,
        "served_heldout_recall": served.recall["heldout_forget"].rate,
        "served_fpr_retain": served.fpr["retain"].rate, "served_fpr_general": served.fpr["general"].rate,
        "chat_decision_ms": latency["cold"],
        "chat_decision_in_conversation_ms": latency["in_conversation"],
        "probe": attacks.to_dict(),
    }  # fmt: skip


def _summary(runs: list[dict]) -> dict:
    """Median and worst over seeds of every figure (worst = lowest recall, highest FPR or latency)."""

    def over(values: list[float], worst) -> dict:
        values = [v for v in values if v is not None]
        return {"median": statistics.median(values), "worst": worst(values)} if values else None

    families = runs[0]["probe"]["recall"]
    figures = {f"{prefix}{name}": over([r[f"{prefix}{name}"] for r in runs], worst) for prefix in ("", "served_")
               for name, worst in (("paraphrase_recall", min), ("heldout_recall", min), ("fpr_retain", max),
                                   ("fpr_general", max))}  # fmt: skip
    return {
        **figures,
        "chat_decision_ms": over([r["chat_decision_ms"] for r in runs], max),
        "chat_decision_in_conversation_ms": over([r["chat_decision_in_conversation_ms"] for r in runs], max),
        "recall": {f: over([r["probe"]["recall"][f]["rate"] for r in runs], min) for f in families},
        "fpr": {f: over([r["probe"]["fpr"][f]["rate"] for r in runs], max) for f in families},
    }


def _cell(figure: dict | None) -> str:
    return "n/a" if figure is None else f"{figure['median']:.3f} / {figure['worst']:.3f}"


def _markdown(result: dict) -> str:
    figures = ("paraphrase_recall", "heldout_recall", "fpr_retain", "fpr_general")
    lines = ["# Guard robustness (`benchmarks/guard_robustness.py`)", "", f"Command: `{result['command']}`", "",
             "Each cell: median / worst over the seeds (worst: lowest recall, highest rate or latency).",
             f"Targets (issue 19): {json.dumps(TARGETS)}",
             "Held-out prompts are read twice: with the forget text and facts training saved (what the "
             "build's report and calibration measure: prompts the guard never saw), and with the whole "
             "forget set's, as the bundle serves them. The attack suite runs on the served guard.",
             ""]  # fmt: skip
    for name, block in result["sets"].items():
        s = block["summary"]
        lines += [f"## {name} (profile `{block['runs'][0]['profile']}`, seeds {block['seeds']})", "",
                  "| held-out prompts | paraphrase recall | held-out forget recall | FPR retain | FPR general |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for label, prefix in (("as measured (the build's report)", ""), ("served (whole set shipped)", "served_")):
            lines.append(f"| {label} | " + " | ".join(_cell(s[prefix + figure]) for figure in figures) + " |")
        lines += ["", f"3-turn chat decision ms {_cell(s['chat_decision_ms'])} cold, "
                  f"{_cell(s['chat_decision_in_conversation_ms'])} in conversation (earlier turns cached)",
                  "", "| attack family | recall | benign FPR |", "|---|---|---|"]  # fmt: skip
        lines += [f"| {f} | {_cell(s['recall'][f])} | {_cell(s['fpr'][f])} |" for f in s["recall"]]
        lines += [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = _parse(argv)
    command = shlex.join(["python", "-m", "benchmarks.guard_robustness", *(sys.argv[1:] if argv is None else argv)])
    result = {"command": command, "cpu_cores": os.cpu_count(), "per_family": args.per_family, "sets": {}}
    for name in args.sets:
        runs = []
        for seed in args.seeds:
            runs.append(run_one(SETS[name], seed, args.data_dir, args.per_family, args.encoder_layers))
            print(f"{name} seed {seed}: {json.dumps({k: v for k, v in runs[-1].items() if k != 'probe'})}",
                  file=sys.stderr)  # fmt: skip
        result["sets"][name] = {"seeds": args.seeds, "summary": _summary(runs), "runs": runs}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        args.out.with_suffix(".md").write_text(_markdown(result))
    print(_markdown(result))
    return result


if __name__ == "__main__":
    main()
