"""Stage 6: TOFU metrics for the unguarded subject, the guarded subject and the retain reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.metrics.evaluate import EvalConfig, evaluate
from packager.build.runner import BuildContext, Stage
from packager.build.stages.data import forget_set
from packager.build.stages.model import has_model
from packager.build.stages.sigma import guarded_subject, plain

REPORTS_FILE = "reports.json"


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "flagged", "prob", "rougeL", "truth_ratio")
    return {
        "forget_quality": report["forget_quality"],
        "model_utility": report["model_utility"],
        "splits": {name: {k: split[k] for k in keep} for name, split in report["splits"].items()},
    }


def _eval_config(ctx: BuildContext, flags: str) -> EvalConfig:
    return EvalConfig(flags=flags, seed=ctx.config.seed, max_new_tokens=ctx.config.max_new_tokens)


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    return {"sigma": ctx.results["sigma"]["sigma"], "max_new_tokens": ctx.config.max_new_tokens}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    fs = forget_set(ctx)
    reports: dict[str, dict[str, Any]] = {}
    reference = None
    if has_model(ctx, "retain"):
        ctx.console.print("evaluating the retain reference")
        retain = evaluate(plain(ctx, "retain"), fs, _eval_config(ctx, "none"))
        reference = retain.splits["forget"].truth_ratios
        reports["retain"] = retain.to_dict()
    ctx.console.print("evaluating the unguarded subject")
    reports["unguarded"] = evaluate(
        plain(ctx, "subject"), fs, _eval_config(ctx, "none"), reference_ratios=reference
    ).to_dict()
    ctx.console.print("evaluating the guarded subject")
    guarded = guarded_subject(ctx, ctx.results["sigma"]["sigma"])
    reports["guarded"] = evaluate(guarded, fs, _eval_config(ctx, "classifier"), reference_ratios=reference).to_dict()
    (out / REPORTS_FILE).write_text(json.dumps(reports) + "\n")
    order = [k for k in ("unguarded", "guarded", "retain") if k in reports]
    for key in order:
        r = reports[key]
        ctx.console.print(f"{key:>10}: forget quality {r['forget_quality']}, model utility {r['model_utility']}")
    return {"models": {key: _summary(reports[key]) for key in order}, "reports_file": REPORTS_FILE}


STAGE = Stage("evaluation", "TOFU evaluation", _inputs, _run)
