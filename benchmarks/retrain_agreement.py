"""What forget quality a model that truly never learned the forget set gets: retain models trained from
different seeds, tested against each other.

Forget quality tests a guarded model's per-question truth ratios against one retain model's. A second
retain model, trained the same way from another seed, never learned the forget set either; its forget
quality against the first is what retraining itself scores, and so what the 0.3 target asks of a guard
against what exact unlearning gets. This benchmark takes the TOFU benchmark's retain models
(``python -m benchmarks.tofu --seed N``, one per seed, for each split) and gives, per split, every
pair's forget quality (KS p-value) and KS statistic, with the median and range over the pairs. Guards
built by the same benchmark (``--guards-<split>``, their ``eco-<split>`` stages' artifacts) are tested
against every retain model of their split the same way, each at the noise seeds its build measured
(median forget quality over them): the guard's score against retraining from any seed, beside what one
retrain scores against another. With ``--sigmas``, each guard is measured so at those sigmas too: where
forget quality against retraining from any seed peaks, read without one retrain's own scatter. Writes
``benchmarks/results/retrain_agreement*.json`` and ``.md``.

    python -m benchmarks.retrain_agreement --retain99 DIR DIR ... --retain95 DIR ... --retain90 DIR ...
    python -m benchmarks.retrain_agreement --retain95 DIR ... --guards-forget05 ARTIFACT ... [--sigmas 7,10,14]
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

from benchmarks.arguments import positive_list
from benchmarks.tofu.config import RETAIN_OF

RESULTS = Path(__file__).resolve().parent / "results"
SPLIT_OF = {retain: split for split, retain in RETAIN_OF.items()}  # the forget split each retain model never learned


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for subset, split in SPLIT_OF.items():
        parser.add_argument(f"--{subset}", nargs="+", type=Path, default=[],
                            help=f"the TOFU benchmark's {subset} model folders, one per seed (tested on {split})")
    for split in RETAIN_OF:
        parser.add_argument(f"--guards-{split}", nargs="+", type=Path, default=[],
                            help=f"guard artifacts built on {split} (dist folders of the TOFU benchmark's "
                                 f"eco-{split} stages), tested against every --{RETAIN_OF[split]} model")
    parser.add_argument("--sigmas", type=positive_list(float, "7,10,14"), default=(),
                        help="comma-separated sigmas at which each guard is measured too (its built sigma always)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/tofu"))
    parser.add_argument("--results-name", default="retrain_agreement")
    args = parser.parse_args(argv)
    for subset in SPLIT_OF:
        if len(getattr(args, subset)) == 1:
            parser.error(f"--{subset} needs at least two model folders (one per seed) to compare, or none")
    if not any(getattr(args, subset) for subset in SPLIT_OF):
        parser.error("pass at least two retain model folders with --retain99, --retain95 or --retain90")
    if args.sigmas and not any(getattr(args, f"guards_{split}") for split in RETAIN_OF):
        parser.error("--sigmas measures guards; pass them with --guards-forget01, -forget05 or -forget10")
    for split, subset in RETAIN_OF.items():
        guards = getattr(args, f"guards_{split}")
        if guards and not getattr(args, subset):
            parser.error(f"--guards-{split} needs the {subset} models to test them against (--{subset})")
        for artifact in guards:
            if not (artifact / "guard").is_dir() or not (artifact / "results.json").is_file():
                parser.error(f"--guards-{split}: {artifact} is not a built artifact (no guard/ or results.json); "
                             "pass a dist folder that eco-pack build wrote")
    return args


def agreement(ratios: list[np.ndarray]) -> dict:
    """Every pair's forget quality and KS statistic, with the median and range of the p-values."""
    from evaluation.quantities import ks_test

    pairs = [{"models": [i, j], **dict(zip(("ks_d", "forget_quality"), ks_test(ratios[i], ratios[j]), strict=True))}
             for i, j in combinations(range(len(ratios)), 2)]  # fmt: skip
    fq = [p["forget_quality"] for p in pairs]
    return {"pairs": pairs, "forget_quality_median": float(np.median(fq)), "forget_quality_min": min(fq),
            "forget_quality_max": max(fq), "ks_d_median": float(np.median([p["ks_d"] for p in pairs]))}


def guard_against_retrains(guard_ratios: list[np.ndarray], retain_ratios: list[np.ndarray]) -> list[dict]:
    """For each retain model: the guard's forget quality against it, median (and range) over the guard's
    noise seeds (one array of per-question R per seed), with the median KS statistic."""
    from evaluation.quantities import ks_test

    out = []
    for model, reference in enumerate(retain_ratios):
        tests = [ks_test(ratios, reference) for ratios in guard_ratios]
        fq = [p for _, p in tests]
        out.append({"model": model, "forget_quality": float(np.median(fq)), "forget_quality_min": min(fq),
                    "forget_quality_max": max(fq), "ks_d": float(np.median([d for d, _ in tests]))})
    return out


def _load_guard(artifact: Path):
    """The artifact's guarded model (every checksum verified first) and the noise seeds its build measured
    forget quality with."""
    from guards.bundle import load_bundle
    from packager.pipeline.inspect import describe

    seeds = describe(artifact)["results"]["models"]["guarded"]["forget_quality_over_seeds"]["seeds"]
    bundle = load_bundle(artifact / "guard", hash_files=False)  # describe just hashed every file, once
    return bundle.guarded_model(device="cpu", dtype="float32"), list(seeds)


def _guard_ratios(guarded, seeds: list[int], fs, sigma: float | None = None) -> list[np.ndarray]:
    """The guard's per-question R on forget at each noise seed, at ``sigma`` (default: its own)."""
    import dataclasses

    import torch

    from evaluation.evaluate import EvalConfig, evaluate

    if sigma is not None:
        guarded.corruption = dataclasses.replace(guarded.corruption, strength=float(sigma))
    ratios = []
    for seed in seeds:
        config = EvalConfig(flags="classifier", seed=seed, noise_seeds=1, max_new_tokens=None, splits=("forget",),
                            progress=False)
        with torch.no_grad():
            ratios.append(np.asarray(evaluate(guarded, fs, config).splits["forget"].truth_ratios))
    return ratios


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
        guards = []
        for artifact in getattr(args, f"guards_{split}"):
            guarded, seeds = _load_guard(artifact)
            built = guarded.corruption.strength
            against = guard_against_retrains(_guard_ratios(guarded, seeds, fs), ratios)
            sweep = [{"sigma": sigma,
                      "against": guard_against_retrains(_guard_ratios(guarded, seeds, fs, sigma), ratios)}
                     for sigma in args.sigmas]  # fmt: skip
            guards.append({"artifact": str(artifact), "sigma": built, "noise_seeds": seeds, "against": against,
                           "sweep": sweep})
            print(f"{split}: {artifact}: " + ", ".join(f"{a['model']}: {a['forget_quality']:.3g}" for a in against),
                  flush=True)
        splits[split] = {"subset": subset, "models": [str(f) for f in folders], "questions": len(ratios[0]),
                         "median_ratios": [float(np.median(r)) for r in ratios], **agreement(ratios),
                         "guards": guards}
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.retrain_agreement", *(argv or sys.argv[1:])]),
        "design": __doc__.split("\n\n")[1].replace("\n", " "),
        "splits": splits, "seconds": round(time.perf_counter() - started, 1),
    }
    out = RESULTS / f"{args.results_name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    return result


def _median_reach(fq: list[float]) -> tuple[str, str]:
    """The median forget quality and how many of ``fq`` reach 0.3, as table text."""
    return f"{np.median(fq):.3g}", f"{sum(f >= 0.3 for f in fq)} of {len(fq)}"


def _median_cell(against: list[dict]) -> str:
    median, reach = _median_reach([a["forget_quality"] for a in against])
    return f"{median} ({reach})"


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
    guarded = [(split, g) for split, s in result["splits"].items() for g in s.get("guards", [])]
    if guarded:
        lines += ["", "## Guards against every retrain", "",
                  "Each guard's forget quality against each retain model of its split (median over the noise seeds "
                  "its build measured, KS D in brackets), and the median over the retain models.", "",
                  "| split | guard | against each retain model | median | at 0.3 or more |", "|---|---|---|---|---|"]
        for split, g in guarded:
            cells = ", ".join(f"{a['model']}: {a['forget_quality']:.3g} ({a['ks_d']:.3f})" for a in g["against"])
            median, reach = _median_reach([a["forget_quality"] for a in g["against"]])
            lines.append(f"| {split} | {Path(g['artifact']).name} | {cells} | {median} | {reach} |")
        for split, s in result["splits"].items():
            fq = [a["forget_quality"] for g in s.get("guards", []) for a in g["against"]]
            if fq:
                median, reach = _median_reach(fq)
                lines.append(f"| {split} | all {len(s['guards'])} guards | every guard and retain model | "
                             f"{median} | {reach} |")
        lines += ["", "Paths in full are in the JSON (`guards`)."]
    swept = [(split, g) for split, g in guarded if g.get("sweep")]
    if swept:
        sigmas = [point["sigma"] for point in swept[0][1]["sweep"]]
        lines += ["", "## Guards against every retrain, by sigma", "",
                  "Each guard at its built sigma and at each of `--sigmas`: the median over the retain models of its "
                  "forget quality against each (itself a median over the noise seeds), and how many of them reach "
                  "0.3.", "",
                  "| split | guard | built sigma | at the built sigma | "
                  + " | ".join(f"sigma {s:g}" for s in sigmas) + " |", "|---|---|---|---|" + "---|" * len(sigmas)]
        for split, g in swept:
            cells = [_median_cell(g["against"])] + [_median_cell(point["against"]) for point in g["sweep"]]
            lines.append(f"| {split} | {Path(g['artifact']).name} | {g['sigma']:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
