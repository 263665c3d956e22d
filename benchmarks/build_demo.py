"""The embedded default, timed: ``eco-pack build`` on ``tiny`` + ``demo`` from a cold cache.

Writes ``benchmarks/results/build_demo.json`` (total and per-stage seconds, the seconds spent
hashing files, forget quality and model utility of the unguarded, guarded and retain models,
sigma, the command) and a summary. Targets: total <= 100 s and bento <= 15 s on 2 cores.

    python -m benchmarks.build_demo [--warm] [--seed N] [--surrogate NAME] [--optimizer NAME]

``--seed N`` builds ``demo:N`` with its own tiny models (``eco-pack build --seed N``) and writes
``build_demo_seedN.json``: forget quality read over build seeds, not one draw. A ``--surrogate`` or
``--optimizer`` other than the build's default is named in the file, e.g.
``build_demo_answer_probability_bracket_seed1.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from evaluation.result import forget_quality_text, readable
from packager.pipeline import BuildConfig, run_build
from packager.sigma import OPTIMISERS
from packager.sigma.config import SURROGATES

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="reuse $ECO_PACK_CACHE instead of a cold, empty cache")
    parser.add_argument("--seed", type=int, default=0, help="build seed (the demo set's and the models')")
    parser.add_argument("--surrogate", choices=SURROGATES, default=None, help="sigma target (default: the build's)")
    parser.add_argument("--optimizer", choices=tuple(OPTIMISERS), default=None,
                        help="sigma search (default: the build's)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/build_demo[_<surrogate>][_<optimizer>][_seedN].json, naming the "
                        "settings that differ from the build's defaults")
    args = parser.parse_args(argv)
    default = BuildConfig(out=Path("dist"))
    surrogate, optimizer = args.surrogate or default.surrogate, args.optimizer or default.optimizer
    stem = "_".join(["build_demo"] + [v for v, d in ((surrogate, default.surrogate), (optimizer, default.optimizer))
                                      if v != d])
    out = args.out or RESULTS / (f"{stem}_seed{args.seed}.json" if args.seed else f"{stem}.json")
    with tempfile.TemporaryDirectory(prefix="eco-build-demo-") as tmp:
        if not args.warm:
            os.environ["ECO_PACK_CACHE"] = str(Path(tmp) / "cache")
        started = time.perf_counter()
        outcome = run_build(BuildConfig(out=Path(tmp) / "dist", seed=args.seed, surrogate=surrogate,
                                        optimizer=optimizer, command="eco-pack build"))
        total = time.perf_counter() - started
    models = outcome.results["models"]
    result = {
        "total_seconds": total,
        "stage_seconds": outcome.stage_seconds,
        "cold_cache": not args.warm,
        "cpu_cores": os.cpu_count(),
        "machine": describe(),
        "hashing": outcome.hashing,
        **{
            key: {k: m.get(k) for k in ("forget_quality", "forget_quality_over_seeds", "model_utility")}
            for key, m in models.items()
        },
        "sigma": outcome.results["sigma"]["sigma"],
        "surrogate": surrogate,
        "optimizer": optimizer,
        "command": "python -m benchmarks.build_demo " + " ".join(sys.argv[1:] if argv is None else argv),
        "equivalent_cli": (f"eco-pack build --seed {args.seed} --surrogate {surrogate} --optimizer {optimizer}"
                           "  # = --model tiny --forget demo"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Embedded default build (`benchmarks/build_demo.py`)",
        "",
        f"Command: `{result['command'].strip()}` (cold cache: {result['cold_cache']}; {result['machine']})",
        "",
        f"Total: **{total:.0f} s** (target <= 100 s; bento stage <= 15 s)",
        "",
        f"Hashing: {outcome.hashing['seconds']:.2f} s over {outcome.hashing['files']} files "
        f"({outcome.hashing['bytes'] / 1e6:.0f} MB), each file once",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {name} | {sec:.1f} |" for name, sec in outcome.stage_seconds.items()],
        "",
        "| model | forget quality | model utility |",
        "|---|---|---|",
        *[f"| {key} | {forget_quality_text(m)} | {readable(m['model_utility'])} |" for key, m in models.items()],
        "",
        f"sigma = {result['sigma']:.4g} (surrogate `{surrogate}`, optimiser `{optimizer}`)",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
