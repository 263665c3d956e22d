"""Where the truth-ratio surrogate's wrong answers should take their facts: a TOFU check in which the
holdout set is exchangeable with the forget set.

TOFU's holdout authors were written apart from the 200 authors of ``full``, so the build's holdout
reference mixes two errors: how the holdout set differs from the forget set, and how the generic
wrong answers behave under noise. This benchmark takes the second alone, with models the TOFU
benchmark has already trained (``python -m benchmarks.tofu``, the same ``--seed``):

- subject: the retain95 model, which learned X = forget10 less forget05 (10 authors, 200 questions);
- a model that never learned X: the retain90 model (forget quality's reference, measuring only);
- holdout: forget05 (10 authors of ``full`` that neither model learned): exchangeable with X.

The subject is guarded with every X prompt flagged (the corruption of ``--bundle``, a TOFU build).
At each sigma: forget quality on X (median and range over noise seeds, TOFU's truth ratio against
the retain90 model's), and the signed KS distance of the guarded generic truth ratios on X from
(a) the subject's own on the holdout, the surrogate's reference, and (b) the retain90 model's own on
X, the target that reference stands for. Each for the ways of making wrong answers: facts from
the forget set's other answers (``truth_ratio``), from its answers about other authors only
(``truth_ratio_other_entities``, the build's default), from holdout answers
(``truth_ratio_holdout_facts``), and both of the first and third (``truth_ratio_mixed_facts``). A
construction tracks forget quality when its crossing with (b) lies where forget quality is high. Writes
``benchmarks/results/surrogate_facts*.json`` and ``.md``.

    python -m benchmarks.surrogate_facts --subject DIR --never-learned DIR --bundle GUARD_DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from packager.sigma.trace import crossing

RESULTS = Path(__file__).resolve().parent / "results"
# each way of making wrong answers: what it says of them, and where their facts come from (objective.FACTS)
CONSTRUCTIONS = {"truth_ratio": ("facts of the forget set's other answers", "forget"),
                 "truth_ratio_other_entities": ("facts of the forget set's answers about other authors", "forget"),
                 "truth_ratio_holdout_facts": ("facts of holdout answers", "holdout"),
                 "truth_ratio_mixed_facts": ("facts of the forget set's other answers and of holdout answers",
                                             "both")}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", type=Path, required=True, help="the TOFU benchmark's retain95 model folder")
    parser.add_argument("--never-learned", type=Path, required=True, help="its retain90 model folder (same seed)")
    parser.add_argument("--bundle", type=Path, required=True, help="a TOFU build's guard folder: its corruption")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/tofu"))
    parser.add_argument("--sigmas", default="3,5,7,10,14,20,30,45")
    parser.add_argument("--noise-seeds", type=int, default=3, help="per surrogate evaluation, as the build")
    parser.add_argument("--fq-seeds", type=int, default=5)
    parser.add_argument("--constructions", type=_constructions, default=tuple(CONSTRUCTIONS),
                        help=f"comma-separated, of {','.join(CONSTRUCTIONS)} (default: all)")
    parser.add_argument("--results-name", default="surrogate_facts")
    return parser.parse_args(argv)


def _constructions(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CONSTRUCTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(CONSTRUCTIONS)}, not {text!r}")
    return names


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from benchmarks.tofu.stages import FORMAT, _load
    from evaluation.evaluate import EvalConfig, evaluate
    from guards.bundle import load_bundle
    from guards.guarded_model import GuardedModel
    from packager.sigma import SigmaConfig
    from packager.sigma.objective import SigmaObjective, fact_sources, generic_truth_ratios
    from packager.sigma.tune import SURROGATES
    from packager.sources import load_forget_set

    torch.set_num_threads(1)
    started = time.perf_counter()
    config = load_bundle(args.bundle).config
    subject = GuardedModel.from_config(*_load(args.subject), classifier=None, config=config)
    never = GuardedModel(*_load(args.never_learned), classifier=None, prompt_format=FORMAT)
    fs10 = load_forget_set("tofu:forget10", data_dir=args.data_dir)
    holdout = load_forget_set("tofu:forget05", data_dir=args.data_dir).forget_eval
    learned_only = {qa.question for qa in holdout}
    x = tuple(qa for qa in fs10.forget_eval if qa.question not in learned_only)
    fs = dataclasses.replace(fs10, name="tofu:forget10-minus-forget05", forget=x, forget_eval=x, holdout=holdout)
    sigmas = sorted(float(s) for s in args.sigmas.split(","))
    search = SigmaConfig(seeds=args.noise_seeds, seed=0, flags="all", progress=False)
    eval_config = EvalConfig(flags="all", seed=0, noise_seeds=args.fq_seeds, max_new_tokens=None, splits=("forget",),
                             progress=False)  # fmt: skip
    with torch.no_grad():
        reference = list(evaluate(never, fs, EvalConfig(flags="none", splits=("forget",), progress=False))
                         .splits["forget"].truth_ratios)  # fmt: skip
        objectives, medians = {}, {}
        for name in args.constructions:
            _, facts = CONSTRUCTIONS[name]
            surrogate = SURROGATES[name](subject, x, holdout, search)
            target = generic_truth_ratios(never, x, search, fact_sources(facts, holdout),
                                          other_entities=dataclasses.replace(search, surrogate=name).other_entities)
            objectives[name] = {"reference": surrogate, "never_learned": SigmaObjective(
                surrogate.rows, target, surrogate.values, search)}
            medians[name] = {"subject_on_holdout": float(np.median(surrogate.reference)),
                             "never_learned_on_forget": float(np.median(target))}
        points = []
        for sigma in sigmas:
            subject.corruption = dataclasses.replace(subject.corruption, strength=sigma)
            fq = evaluate(subject, fs, eval_config, reference_ratios=reference).forget_quality_seeds.to_dict()
            signed = {name: {side: objective(sigma).signed for side, objective in pair.items()}
                      for name, pair in objectives.items()}  # fmt: skip
            points.append({"sigma": sigma, "forget_quality": fq["median"], "forget_quality_min": fq["min"],
                           "forget_quality_max": fq["max"], "signed": signed})
            print(f"sigma {sigma:g}: forget quality {fq['median']:.3g}, " + ", ".join(
                f"{n} {s['reference']:+.3f} / {s['never_learned']:+.3f}" for n, s in signed.items()), flush=True)
    crossings = {name: {side: crossing(sigmas, [p["signed"][name][side] for p in points])
                        for side in ("reference", "never_learned")} for name in args.constructions}  # fmt: skip
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.surrogate_facts", *(argv or sys.argv[1:])]),
        "design": __doc__.split("\n\n")[1].replace("\n", " "),
        "forget": len(x), "holdout": len(holdout), "noise_seeds": args.noise_seeds, "fq_seeds": args.fq_seeds,
        "medians": medians, "points": points, "crossings": crossings,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = RESULTS / f"{args.results_name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    return result


def _fq_at(points: list[dict], sigma: float | None) -> str:
    if sigma is None:
        return "no crossing on the grid"
    near = min(points, key=lambda p: abs(math.log(p["sigma"] / sigma)))
    return f"{sigma:.3g} (nearest grid point {near['sigma']:g}: forget quality {near['forget_quality']:.3g})"


def markdown(result: dict) -> str:
    names = list(result["medians"])  # the constructions this result measured
    lines = ["# Where the truth-ratio surrogate's wrong answers should take their facts", "",
             f"Command: `{result['command']}`", "", result["design"], "",
             f"X: {result['forget']} questions; holdout: {result['holdout']}; forget quality over "
             f"{result['fq_seeds']} noise seeds, each surrogate evaluation over {result['noise_seeds']}; "
             f"{result['seconds']:.0f} s.", "",
             "| sigma | forget quality (median, min to max) | "
             + " | ".join(f"{n}: vs reference | {n}: vs never-learned" for n in names) + " |",
             "|---|---|" + "---|---|" * len(names)]
    for p in result["points"]:
        cells = " | ".join(f"{p['signed'][n]['reference']:+.3f} | {p['signed'][n]['never_learned']:+.3f}"
                           for n in names)
        lines.append(f"| {p['sigma']:g} | {p['forget_quality']:.3g} ({p['forget_quality_min']:.2g} to "
                     f"{p['forget_quality_max']:.2g}) | {cells} |")
    lines += ["", "Signed KS distance of the guarded generic truth ratios on X (positive: the guarded ratios lie "
              "higher); the search picks the sigma where the distance to the reference crosses zero.", "",
              "| construction | wrong answers | median R: subject on holdout (the reference) | median R: never-learned "
              "model on X | sigma where it meets the reference | sigma where it meets the never-learned model |",
              "|---|---|---|---|---|---|"]
    for n in names:
        m, c, (wrong_answers, _) = result["medians"][n], result["crossings"][n], CONSTRUCTIONS[n]
        lines.append(f"| {n} | {wrong_answers} | {m['subject_on_holdout']:.3f} | {m['never_learned_on_forget']:.3f} "
                     f"| {_fq_at(result['points'], c['reference'])} | {_fq_at(result['points'], c['never_learned'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
