"""The rule for changing the build's default sigma surrogate, read from finished benchmark results.

The rule was set before the runs it reads (docs/sigma.md): a candidate surrogate replaces the
default if, on fresh TOFU subjects (``python -m benchmarks.tofu --exchangeable-holdout --seed N``,
once with the default and once with ``--surrogate CANDIDATE``), its median forget quality reaches
the target on more of the subject-splits than the default's does, on no fewer forget10 splits, and
every demo build with the candidate (``python -m benchmarks.build_demo --surrogate CANDIDATE``)
keeps the demo's target. This reads those results files, checks that the two runs of each subject
differ in their surrogate alone, and writes the per-split table and the verdict to
``benchmarks/results/<name>.json`` and ``.md`` with the exact command.

    python -m benchmarks.surrogate_rule --candidate truth_ratio_mixed_facts \\
        --subjects benchmarks/results/tofu_cpu_seed8_exchangeable_holdout*.json \\
        --demo benchmarks/results/build_demo_truth_ratio_mixed_facts*.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.3  # issue 20: ECO's median forget quality over noise seeds, per split
DEMO_TARGET = 0.1  # issue 20: the demo build's guarded median forget quality
# what may differ between a subject's two runs: the surrogate, and what does not change an ECO build
SAME_RUN_EXCEPT = ("surrogate", "results_name", "results_dir", "work_dir", "data_dir", "jobs", "methods",
                   "unlearn_lrs", "unlearn_epochs", "utility_ratio", "sweep_sigmas", "search_optimisers")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", required=True, help="the surrogate that would become the default")
    parser.add_argument("--subjects", type=Path, nargs="+", required=True,
                        help="benchmarks.tofu results (.json): for each seed, a run with the default and one with "
                             "the candidate")
    parser.add_argument("--demo", type=Path, nargs="+", required=True,
                        help="benchmarks.build_demo results (.json) built with the candidate")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--results-name", default="surrogate_rule")
    return parser.parse_args(argv)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read results file {path}: {exc}") from None


def _eco(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per split: the guard's sigma and its forget quality over noise seeds (median, min, max)."""
    return {row["split"]: {"sigma": result["guard"][row["split"]].get("sigma"), "median": row["forget_quality"],
                           "min": row["forget_quality_min"], "max": row["forget_quality_max"]}
            for row in result["rows"] if row["method"] == "eco"}


def subjects(paths: list[Path], default: str, candidate: str) -> dict[int, dict[str, Any]]:
    """By seed: each surrogate's per-split figures, from a pair of runs that differ in the surrogate alone."""
    runs: dict[int, dict[str, tuple[Path, dict]]] = {}
    for path in paths:
        result = _read(path)
        config = result["config"]
        if config["surrogate"] not in (default, candidate):
            raise SystemExit(f"error: {path} was built with surrogate {config['surrogate']!r}, neither the default "
                             f"({default}) nor the candidate ({candidate})")
        if result.get("quick"):
            raise SystemExit(f"error: {path} is a --quick smoke run, not a result")
        seen = runs.setdefault(config["seed"], {})
        if config["surrogate"] in seen:
            raise SystemExit(f"error: seed {config['seed']} with {config['surrogate']} twice: "
                             f"{seen[config['surrogate']][0]} and {path}")
        seen[config["surrogate"]] = (path, result)
    table = {}
    for seed, pair in sorted(runs.items()):
        missing = [s for s in (default, candidate) if s not in pair]
        if missing:
            raise SystemExit(f"error: seed {seed} has no run with {missing[0]}: run `python -m benchmarks.tofu "
                             f"--seed {seed} ... --surrogate {missing[0]}` with the other run's options")
        (path_d, d), (path_c, c) = pair[default], pair[candidate]
        differ = sorted(k for k in {*d["config"], *c["config"]} - set(SAME_RUN_EXCEPT)
                        if d["config"].get(k) != c["config"].get(k))
        if differ:
            raise SystemExit(f"error: {path_d} and {path_c} differ in {', '.join(differ)}, not only in the "
                             "surrogate: they are not the same subject")
        table[seed] = {"exchangeable_holdout": bool(d["config"].get("exchangeable_holdout")),
                       "files": {default: path_d.name, candidate: path_c.name},
                       "splits": {default: _eco(d), candidate: _eco(c)}}
    return table


def demo_builds(paths: list[Path], candidate: str) -> list[dict[str, Any]]:
    builds = []
    for path in paths:
        result = _read(path)
        if result.get("surrogate") != candidate:
            raise SystemExit(f"error: {path} was built with surrogate {result.get('surrogate')!r}, not {candidate}")
        over = result["guarded"]["forget_quality_over_seeds"]
        builds.append({"file": path.name, "median": over["median"], "min": over["min"], "max": over["max"]})
    return builds


def verdict(table: dict[int, dict[str, Any]], demo: list[dict[str, Any]], default: str,
            candidate: str) -> dict[str, Any]:
    def met(surrogate: str, split: str | None = None) -> int:
        return sum(figures["median"] >= TARGET for subject in table.values()
                   for name, figures in subject["splits"][surrogate].items() if split in (None, name))

    counts = {s: {"splits_met": met(s), "forget10_met": met(s, "forget10")} for s in (default, candidate)}
    demo_kept = all(b["median"] >= DEMO_TARGET for b in demo)
    more = counts[candidate]["splits_met"] > counts[default]["splits_met"]
    no_fewer = counts[candidate]["forget10_met"] >= counts[default]["forget10_met"]
    return {"counts": counts, "more_splits_met": more, "no_fewer_forget10_met": no_fewer, "demo_kept": demo_kept,
            "subject_splits": sum(len(s["splits"][default]) for s in table.values()),
            "change_default": more and no_fewer and demo_kept}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from packager.sigma.config import SURROGATES, SigmaConfig

    default = SigmaConfig().surrogate
    if args.candidate not in SURROGATES or args.candidate == default:
        raise SystemExit(f"error: --candidate must be one of {', '.join(s for s in SURROGATES if s != default)}")
    table = subjects(args.subjects, default, args.candidate)
    demo = demo_builds(args.demo, args.candidate)
    result = {"benchmark": "surrogate_rule", "command": shlex.join(["python", "-m", "benchmarks.surrogate_rule",
                                                                    *(sys.argv[1:] if argv is None else argv)]),
              "default": default, "candidate": args.candidate, "target": TARGET, "demo_target": DEMO_TARGET,
              "subjects": table, "demo": demo, "verdict": verdict(table, demo, default, args.candidate)}
    out = args.results_dir / f"{args.results_name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(out.with_suffix(".md").read_text())
    return result


def _fq(figures: dict[str, float]) -> str:
    return (f"{figures['median']:.3g} ({figures['min']:.3g} to {figures['max']:.3g}) at sigma "
            f"{figures['sigma']:.3g}")


def markdown(result: dict[str, Any]) -> str:
    default, candidate, v = result["default"], result["candidate"], result["verdict"]
    lines = ["# The rule for the default sigma surrogate", "", f"Command: `{result['command']}`", "",
             f"Default: `{default}`; candidate: `{candidate}`. The candidate becomes the default if its median "
             f"forget quality reaches {result['target']} on more subject-splits than the default's, on no fewer "
             f"forget10 splits, and every demo build with it keeps {result['demo_target']} (docs/sigma.md).", "",
             f"| subject seed | exchangeable holdout | split | `{default}` | `{candidate}` |", "|---|---|---|---|---|"]
    for seed, subject in result["subjects"].items():
        for split in sorted(subject["splits"][default]):
            lines.append(f"| {seed} | {'yes' if subject['exchangeable_holdout'] else 'no'} | {split} | "
                         f"{_fq(subject['splits'][default][split])} | {_fq(subject['splits'][candidate][split])} |")
    lines += ["", "Forget quality: median over the noise seeds (min to max), at the sigma the build's search chose. "
              "Files: " + "; ".join(f"seed {seed}: {', '.join(s['files'].values())}"
                                    for seed, s in result["subjects"].items()), "",
              "| demo build | guarded median forget quality (min to max) |", "|---|---|"]
    lines += [f"| {b['file']} | {b['median']:.3g} ({b['min']:.3g} to {b['max']:.3g}) |" for b in result["demo"]]
    counts = v["counts"]
    lines += ["", f"- subject-splits at or above {result['target']}: `{default}` {counts[default]['splits_met']}, "
              f"`{candidate}` {counts[candidate]['splits_met']} of {v['subject_splits']}",
              f"- forget10 splits at or above it: `{default}` {counts[default]['forget10_met']}, "
              f"`{candidate}` {counts[candidate]['forget10_met']}",
              f"- every demo build at or above {result['demo_target']}: {'yes' if v['demo_kept'] else 'no'}",
              f"- change the default: **{'yes' if v['change_default'] else 'no'}**", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
