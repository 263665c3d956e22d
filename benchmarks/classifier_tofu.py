"""Benchmark the prompt classifier on TOFU forget01/05/10 with the default offline backbone (CPU).

    python -m benchmarks.classifier_tofu [--splits forget10 forget05 forget01] [--epochs N]
        [--positions 0 0.25 0.5 0.75 1]

``--positions`` also reports, from the same trained model, what the threshold would flag at
each ``threshold_position`` between the false-positive bound (0) and the recall bound (1): the
trade-off measured on one model, not across reruns (CPU training is not bit-for-bit repeatable).

Writes benchmarks/results/classifier_tofu.json (and .md) after every split, so a long run
keeps what it has finished.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from guards.classifier import PromptClassifier
from packager.classifier import (
    ClassifierConfig,
    TrainedClassifier,
    calibrate_classifier,
    evaluate_classifier,
    train_classifier,
)
from packager.sources import load_forget_set

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"paraphrase_recall": (">=", 0.98), "fpr_retain": ("<=", 0.01), "fpr_general": ("<=", 0.005)}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["forget10", "forget05", "forget01"])
    parser.add_argument("--epochs", type=int, default=ClassifierConfig.epochs)
    parser.add_argument("--trainable-layers", type=int, default=ClassifierConfig.trainable_layers)
    parser.add_argument("--backbone", default=None, help="Hub id or folder (default: offline MiniLM-L6)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=ClassifierConfig.seed, help="splits and training (repeatability)")
    parser.add_argument("--out", type=Path, default=RESULTS / "classifier_tofu.json")
    parser.add_argument("--positions", nargs="*", type=float, default=[], help="threshold positions to sweep")
    return parser.parse_args(argv)


class _Remembered:
    """A scorer that scores each prompt once: the position sweep re-reads the same prompts."""

    def __init__(self, scorer: PromptClassifier) -> None:
        self.scorer, self.seen = scorer, {}

    def __call__(self, texts: list[str]) -> list[float]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.scorer(missing), strict=True))
        return [self.seen[t] for t in texts]


def _by_position(
    scorer: _Remembered, trained: TrainedClassifier, config: ClassifierConfig, positions: list[float]
) -> dict[str, object]:
    rows = {}
    for position in positions:
        decision = calibrate_classifier(scorer, trained.data, replace(config, threshold_position=position))
        report = evaluate_classifier(scorer, trained.data, decision)
        rows[str(position)] = {
            "threshold": decision.threshold,
            "paraphrase_recall": report.recall["paraphrase"].rate,
            "fpr_retain": report.fpr["retain"].rate,
            "fpr_general": report.fpr["general"].rate,
        }
    return rows


def run_split(
    split: str, config: ClassifierConfig, data_dir: Path | None, positions: list[float]
) -> dict[str, object]:
    forget_set = load_forget_set(f"tofu:{split}", data_dir=data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        trained = train_classifier(forget_set, config, Path(tmp) / "classifier")
        scorer = PromptClassifier(trained.path, max_length=config.max_length)
        started = time.perf_counter()
        decision = calibrate_classifier(scorer, trained.data, config)
        calibration_seconds = time.perf_counter() - started
        report = evaluate_classifier(scorer, trained.data, decision)
        swept = _by_position(_Remembered(scorer), trained, config, positions) if positions else {}
    return {
        "paraphrase_recall": report.recall["paraphrase"].rate,
        "heldout_forget_recall": report.recall["heldout_forget"].rate,
        "fpr_retain": report.fpr["retain"].rate,
        "fpr_retain_paraphrases": report.fpr["retain_paraphrases"].rate,
        "fpr_holdout": report.fpr["holdout"].rate,
        "fpr_general": report.fpr["general"].rate,
        "train_seconds": trained.train_seconds,
        "calibration_seconds": calibration_seconds,
        "ms_per_prompt": report.ms_per_prompt,
        "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch,
        "threshold": decision.threshold,
        "q_hat": decision.q_hat,
        "n_calibration": decision.n,
        "calibration_source": trained.data.calibration_source,
        "fpr_threshold": decision.fpr_threshold,
        "n_calibration_negatives": decision.n_negative,
        "fpr_bound_met": decision.fpr_bound_met,
        "recall_bound_met": decision.recall_bound_met,
        "recall_bound": decision.recall_bound,
        "splits": trained.data.sizes(),
        "report": report.to_dict(),
        **({"by_threshold_position": swept} if swept else {}),
    }


def _markdown(results: dict[str, object]) -> str:
    lines = [
        "# Prompt classifier on TOFU (CPU)",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Backbone: {results['backbone']}; torch threads: {results['torch_threads']}; "
        f"epochs (max): {results['epochs']}; trainable layers: {results['trainable_layers']}; seed: {results['seed']}",
        "",
        f"Calibration: alpha {results['alpha']}, fpr_target {results['fpr_target']}, on_conflict "
        f"{results.get('on_conflict')}, threshold_position {results.get('threshold_position')}: the threshold "
        "sits that far from the false-positive bound (0) to the recall side's 1 - q_hat (1); where "
        "the false-positive bound lies above 1 - q_hat, the two conflict and on_conflict decides.",
        "",
        "| split | paraphrase recall | held-out forget recall | FPR retain | FPR general | threshold (recall side) "
        "| train s | ms/prompt | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, row in results["splits"].items():  # type: ignore[union-attr]
        lines.append(
            f"| {split} | {row['paraphrase_recall']:.3f} | {row['heldout_forget_recall']:.3f} | "
            f"{row['fpr_retain']:.4f} | {row['fpr_general']:.4f} | {row['threshold']:.4f} "
            f"({1 - row['q_hat']:.4f}) | {row['train_seconds']:.0f} | {row['ms_per_prompt']:.1f} | "
            f"{row.get('load_average', '')} |"
        )
    for split, row in results["splits"].items():  # type: ignore[union-attr]
        if "by_threshold_position" in row:
            header = "| position | threshold | paraphrase recall | FPR retain | FPR general |"
            lines += ["", f"{split}, the same model at other threshold positions:", "", header, "|---|---|---|---|---|"]
            for position, r in row["by_threshold_position"].items():
                lines.append(
                    f"| {position} | {r['threshold']:.4f} | {r['paraphrase_recall']:.3f} | "
                    f"{r['fpr_retain']:.4f} | {r['fpr_general']:.4f} |"
                )
    targets = ", ".join(f"{k} {op} {v}" for k, (op, v) in TARGETS.items())
    lines += ["", f"Targets on forget10: {targets}; train + calibration <= 600 s on 2 cores.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = ClassifierConfig(
        backbone=args.backbone, epochs=args.epochs, trainable_layers=args.trainable_layers, seed=args.seed
    )
    command = shlex.join(["python", "-m", "benchmarks.classifier_tofu", *(sys.argv[1:] if argv is None else argv)])
    results: dict[str, object] = {
        "command": command,
        "backbone": config.resolved_backbone(),
        "torch_threads": torch.get_num_threads(),
        "epochs": config.epochs,
        "trainable_layers": config.trainable_layers,
        "alpha": config.alpha,
        "fpr_target": config.fpr_target,
        "on_conflict": config.on_conflict,
        "threshold_position": config.threshold_position,
        "seed": config.seed,
        "splits": {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        started = time.perf_counter()
        results["splits"][split] = run_split(split, config, args.data_dir, args.positions)  # type: ignore[index]
        results["splits"][split]["wall_seconds"] = time.perf_counter() - started  # type: ignore[index]
        # train_seconds depend on what else the CPU runs: the 1-minute load average at the end
        results["splits"][split]["load_average"] = round(os.getloadavg()[0], 2)  # type: ignore[index]
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
