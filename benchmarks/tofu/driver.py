"""``python -m benchmarks.tofu``: the whole TOFU benchmark, in cached stages that resume.

Order: data -> tokenizer -> subject (TOFU full) and retain models -> subject utility -> per split:
ECO build, retain reference ratios, the surrogate's premise, forget quality against sigma, GradDiff
and NPO sweeps -> results JSON/markdown/plots. ``--jobs`` stages run side by side (``plan`` and ``schedule``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.arguments import positive_list
from benchmarks.tofu import data as tofu_data
from benchmarks.tofu import report
from benchmarks.tofu.config import METHODS, RETAIN_OF, SPLITS, BenchConfig
from benchmarks.tofu.schedule import Task, run_tasks
from benchmarks.tofu.stages import (
    Context,
    build_guard,
    finetune_model,
    retain_ratios,
    run_baseline,
    sigma_sweep,
    subject_utility,
    surrogate_premise,
    train_tokenizer,
)
from evaluation.quantities import forget_quality
from guards.errors import EcoPackError
from packager.pipeline.cache import StageRecord, run_stage


def parse_args(argv: list[str]) -> BenchConfig:
    defaults = BenchConfig()
    p = argparse.ArgumentParser(prog="python -m benchmarks.tofu", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get("ECO_PACK_DATA_DIR"),
                   help="TOFU JSON Lines mirror (default: $ECO_PACK_DATA_DIR)")
    p.add_argument("--work-dir", type=Path, help="stage cache (default: $ECO_PACK_CACHE/benchmarks/tofu)")
    p.add_argument("--results-dir", type=Path, default=defaults.results_dir)
    p.add_argument("--results-name", help="file stem (default: tofu_cpu; tofu_cpu_quick with --quick)")
    p.add_argument("--splits", default=None, help=f"comma-separated subset of {','.join(SPLITS)}")
    p.add_argument("--methods", default=None, help=f"baselines, comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--quick", action="store_true", help="tiny smoke configuration (8 authors, tiny models)")
    p.add_argument("--exchangeable-holdout", action=argparse.BooleanOptionalAction, default=None,
                   help="set as many authors of full aside as forget10 holds, as every build's holdout, instead of "
                        "TOFU's holdout subsets, which were written apart (default: off)")
    p.add_argument("--general", action=argparse.BooleanOptionalAction, default=None,
                   help="also train the models on real_authors and world_facts QA (default: on)")
    for name in ("hidden", "layers", "heads", "intermediate", "vocab", "epochs", "batch_size", "seed", "noise_seeds",
                 "fq_seeds", "search_seeds", "classifier_epochs", "max_new_tokens", "jobs"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="fine-tuning learning rate")
    p.add_argument("--surrogate", default=None,
                   help="the builds' sigma target (packager.sigma.config.SURROGATES)")
    p.add_argument("--optimiser", default=None, help="the builds' sigma search: bracket, monotone or zeroth_order")
    p.add_argument("--distance", default=None,
                   help="how that search compares guarded and reference values (packager.sigma.config.DISTANCES)")
    p.add_argument("--search-optimisers", default=None,
                   help="the sweep reruns each surrogate's search with each of these, e.g. bracket,monotone")
    p.add_argument("--unlearn-lrs", type=positive_list(float, "1e-4,1e-3"), default=None,
                   help="baseline sweep, e.g. 1e-4,1e-3")
    p.add_argument("--unlearn-epochs", type=positive_list(int, "2,5"), default=None,
                   help="epoch checkpoints swept, e.g. 2,5")
    p.add_argument("--utility-ratio", type=float, default=None)
    p.add_argument("--sweep-sigmas", type=positive_list(float, "1,10"), default=None,
                   help="re-measure each guard's forget quality at these sigmas, e.g. 1,10 ('' = no sweep)")
    args = vars(p.parse_args(argv))
    quick = args.pop("quick")
    for key in ("splits", "methods", "search_optimisers"):
        if args[key] is not None:
            args[key] = tuple(v.strip() for v in args[key].split(",") if v.strip())
    overrides = {k: v for k, v in args.items() if v is not None}
    return BenchConfig.quick_config(**overrides) if quick else BenchConfig(**overrides)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    console = Console(stderr=True)
    try:
        config = parse_args(argv)
        paths = run(config, shlex.join(["python", "-m", "benchmarks.tofu", *argv]), console)
    except (EcoPackError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    for path in paths:
        print(path)
    return 0


def _work_dir(config: BenchConfig) -> Path:
    if config.work_dir is not None:
        return Path(config.work_dir)
    from guards.cache import cache_root

    return cache_root() / "benchmarks" / "tofu"


def _data(config: BenchConfig, work: Path, console: Console) -> tuple[Path, str, dict[str, StageRecord]]:
    """The mirror the stages read, its fingerprint, and the stages that wrote it (none: the mirror itself)."""
    source = tofu_data.check_mirror(config.data_dir)
    key = tofu_data.fingerprint(source)
    stages: dict[str, StageRecord] = {}
    if config.exchangeable_holdout:
        stages["data-holdout"] = run_stage(
            work, "data-holdout", {"data": key, "seed": config.seed},
            lambda out: tofu_data.write_exchangeable_holdout(source, out, config.seed), console,
            code=("benchmarks.tofu.data",))
        source = stages["data-holdout"].path
        key = tofu_data.fingerprint(source)
    if config.quick:
        stages["data-quick"] = run_stage(work, "data-quick", {"data": key},
                                         lambda out: {"files": tofu_data.write_quick_subset(source, out)}, console)
        source = stages["data-quick"].path
        key = tofu_data.fingerprint(source)
    return source, key, stages


def plan(config: BenchConfig) -> list[Task]:
    """Every stage of a run, in dependency order, most urgent first: the fine-tunings (the longest
    stages), then forget10's stages before forget05's and forget01's, since they take longest."""
    splits = sorted(config.splits, reverse=True)
    tasks = [Task("tokenizer", train_tokenizer), Task("finetune-full", finetune_model, ("full",), ("tokenizer",))]
    tasks += [Task(f"finetune-{RETAIN_OF[s]}", finetune_model, (RETAIN_OF[s],), ("tokenizer",)) for s in splits]
    tasks.append(Task("subject-utility", subject_utility, deps=("finetune-full",)))
    for split in splits:
        retain, eco, reference = f"finetune-{RETAIN_OF[split]}", f"eco-{split}", f"reference-{split}"
        tasks += [Task(eco, build_guard, (split,), ("finetune-full", retain)),
                  Task(reference, retain_ratios, (split,), (retain,)),
                  Task(f"premise-{split}", surrogate_premise, (split,), ("finetune-full", retain))]
        if config.sweep_sigmas:
            tasks.append(Task(f"sweep-{split}", sigma_sweep, (split,), (eco, reference)))
        tasks += [Task(f"{method}-{split}", run_baseline, (method, split), ("finetune-full", reference,
                                                                           "subject-utility"))
                  for method in config.methods]
    return tasks


def run(config: BenchConfig, command: str, console: Console) -> list[Path]:
    """Run (or resume) every stage for ``config`` and write the results files; returns their paths."""
    started = time.perf_counter()
    work = _work_dir(config)
    data_dir, data_key, stages = _data(config, work, console)
    make_context = partial(Context, config, work, data_dir, data_key)
    stages |= run_tasks(plan(config), make_context, config.jobs, console)
    subject, utility = stages["finetune-full"], stages["subject-utility"]
    rows: list[dict[str, Any]] = []
    guard: dict[str, Any] = {}
    cost = {"eco": 0.0, **{m: 0.0 for m in config.methods}, **{f"{m}_sweep": 0.0 for m in config.methods}}
    build_seconds: dict[str, float] = {}
    sweeps: dict[str, Any] = {}
    premise = {split: stages[f"premise-{split}"].result for split in config.splits}
    for split in config.splits:
        retain = stages[f"finetune-{RETAIN_OF[split]}"]
        eco = stages[f"eco-{split}"]
        models = eco.result["results"]["models"]
        rows.append(report.build_row(split, "subject", models["unguarded"], subject.result["seconds"], command))
        ratios = stages[f"reference-{split}"].result["truth_ratios"]
        retain_row = report.build_row(split, "retain", models["retain"], retain.result["seconds"], command)
        itself = forget_quality(ratios, ratios)  # the reference against itself
        rows.append(retain_row | {"forget_quality": itself, "forget_quality_min": itself, "forget_quality_max": itself,
                                  "noise_seeds": 1, "ks_statistic": 0.0})
        eco_seconds = report.eco_cost(eco.result["stage_seconds"])
        rows.append(report.build_row(split, "eco", models["guarded"], eco_seconds, command))
        cost["eco"] += eco_seconds
        classifier = eco.result["results"]["classifier"]["report"]
        guard[split] = {"fpr_retain": classifier["fpr"]["retain"]["rate"],
                        "fpr_general": classifier["fpr"]["general"]["rate"],
                        "ms_per_prompt": classifier["ms_per_prompt"],
                        "sigma": eco.result["results"]["sigma"]["sigma"],
                        "search": report.search_summary(eco.result["results"]["sigma"])}
        if config.sweep_sigmas:
            sweeps[split] = stages[f"sweep-{split}"].result
        if split == "forget10":
            build_seconds = eco.result["stage_seconds"]
        for method in config.methods:
            stage = stages[f"{method}-{split}"]
            result = stage.result
            final = json.loads((stage.path / "report.json").read_text())  # the selected point's full evaluation
            rows.append({"split": split, "method": method, **{k: result[k] for k in report.COLUMNS[:4]},
                         **report.spread(final),
                         "seconds": round(result["seconds"], 1), "command": command,
                         "selected": result["selected"]["label"], "constraint_met": result["constraint_met"]})
            cost[method] += result["seconds"]
            cost[f"{method}_sweep"] += result["sweep_seconds"]
    data = {
        "benchmark": "tofu_cpu", "quick": config.quick, "command": command,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "holdout_authors": stages["data-holdout"].result["authors"] if "data-holdout" in stages else None,
        "subject": {k: subject.result[k] for k in ("parameters", "pairs", "tokens_per_second", "epoch_losses")},
        "subject_utility_no_rouge": utility.result["model_utility"],
        "rows": rows, "targets": report.targets(rows), "guard": guard,
        "sigma_sweep": sweeps,
        "surrogate_premise": premise,
        "unlearning_cost": {k: round(v, 1) for k, v in cost.items()},
        "forget10_build_seconds": {k: round(v, 1) for k, v in build_seconds.items()},
        "baselines": {name: {k: r.result[k] for k in ("selected", "constraint_met", "candidates", "sweep_seconds")}
                      for name, r in stages.items() if name.split("-")[0] in METHODS},
        "stages": {name: {"seconds": round(r.seconds, 1), "cached": r.cached, "key": r.key}
                   for name, r in stages.items()},
        # stages cached from earlier invocations count with the time they took when run
        "stage_seconds_total": round(sum(r.seconds for r in stages.values()), 1),
        "invocation_seconds": round(time.perf_counter() - started, 1),
        "load_average": round(os.getloadavg()[0], 2),
        "cores": len(os.sched_getaffinity(0)),
    }
    return report.write(data, Path(config.results_dir), config.name)
