"""What forget quality a model that truly never learned the forget set gets: retain models trained from
different seeds, tested against each other.

Forget quality tests a guarded model's per-question truth ratios against one retain model's. A second
retain model, trained the same way from another seed, never learned the forget set either; its forget
quality against the first is what retraining itself scores, and so what the 0.3 target asks of a guard
against what exact unlearning gets. This benchmark takes the TOFU benchmark's retain models
(``python -m benchmarks.tofu --seed N``, one per seed, for each split) and gives, per split, every
pair's forget quality (KS p-value) and KS statistic, with the median and range over the pairs. Writes
``benchmarks/results/retrain_agreement*.json`` and ``.md``.

    python -m benchmarks.retrain_agreement --retain99 DIR DIR ... --retain95 DIR ... --retain90 DIR ...
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks.tofu.config import RETAIN_OF

RESULTS = Path(__file__).resolve().parent / "results"
SPLIT_OF = {retain: split for split, retain in RETAIN_OF.items()}  # the forget split each retain model never learned


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for subset, split in SPLIT_OF.items():
        parser.add_argument(f"--{subset}", nargs="+", type=Path, default=[],
                            help=f"the TOFU benchmark's {subset} model folders, one per seed (tested on {split})")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/tofu"))
    parser.add_argument("--results-name", default="retrain_agreement")
    args = parser.parse_args(argv)
    for subset in SPLIT_OF:
        if len(getattr(args, subset)) == 1:
            parser.error(f"--{subset} needs at least two model folders (one per seed) to compare, or none")
    if not any(getattr(args, subset) for subset in SPLIT_OF):
        parser.error("pass at least two retain model folders with --retain99, --retain95 or --retain90")
    return args


def agreement(ratios: list[np.ndarray]) -> dict:
    """Every pair's forget quality and KS statistic, with the median and range of the p-values."""
    from evaluation.quantities import ks_test

    pairs = [{"models": [i, j], **dict(zip(("ks_d", "forget_quality"), ks_test(ratios[i], ratios[j]), strict=True))}
             for i, j in combinations(range(len(ratios)), 2)]  # fmt: skip
    fq = [p["forget_quality"] for p in pairs]
    return {"pairs": pairs, "forget_quality_median": float(np.median(fq)), "forget_quality_min": min(fq),
            "forget_quality_max": max(fq), "ks_d_median": float(np.median([p["ks_d"] for p in pairs]))}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from benchmarks.tofu.stages import _evaluate, _load
    from packager.sources import load_forget_set

    torch.set_num_threads(1)
    started = time.perf_counter()
    splits = {}
    for subset, split in SPLIT_OF.items():
        folders = getattr(args, subset)
        if not folders:
            continue
        fs = load_forget_set(f"tofu:{split}", data_dir=args.data_dir)
        ratios = []
        for folder in folders:
            report = _evaluate(*_load(folder), fs, None, splits=("forget",))
            ratios.append(np.asarray(report.splits["forget"].truth_ratios))
            print(f"{split}: {folder}: median truth ratio {np.median(ratios[-1]):.3f}", flush=True)
        splits[split] = {"subset": subset, "models": [str(f) for f in folders], "questions": len(ratios[0]),
                         "median_ratios": [float(np.median(r)) for r in ratios], **agreement(ratios)}
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.retrain_agreement", *(argv or sys.argv[1:])]),
        "design": __doc__.split("\n\n")[1].replace("\n", " "),
        "splits": splits, "seconds": round(time.perf_counter() - started, 1),
    }
    out = RESULTS / f"{args.results_name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    from evaluation.quantities import ks_distance_at

    lines = ["# Forget quality of a retrain from another seed", "", f"Command: `{result['command']}`", "",
             result["design"], "", f"{result['seconds']:.0f} s.", "",
             "| split | retain models (seeds) | pairs | forget quality: median (min to max) | KS D: median "
             "| D at forget quality 0.3 | each model: median truth ratio | each pair: forget quality (KS D) |",
             "|---|---|---|---|---|---|---|---|"]
    for split, s in result["splits"].items():
        n = s["questions"]
        pairs = ", ".join(f"{p['models'][0]}-{p['models'][1]}: {p['forget_quality']:.3g} ({p['ks_d']:.3f})"
                          for p in s["pairs"])
        medians = ", ".join(f"{i}: {r:.3f}" for i, r in enumerate(s["median_ratios"]))
        lines.append(f"| {split} | {len(s['models'])} {s['subset']} | {len(s['pairs'])} "
                     f"| {s['forget_quality_median']:.3g} ({s['forget_quality_min']:.3g} to "
                     f"{s['forget_quality_max']:.3g}) | {s['ks_d_median']:.3f} | {ks_distance_at(0.3, n, n):.3f} "
                     f"| {medians} | {pairs} |")
    lines += ["", "Models are numbered in the order given (the command). Forget quality is TOFU's: the KS test's "
              "p-value between two models' per-question truth ratios on the split's forget questions; the "
              "D at 0.3 is asymptotic."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
