"""Stage 8: results.json, the plots and the unlearning model card (README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packager.build.runner import BuildContext, Stage
from packager.build.stages.data import forget_set
from packager.card.model_card import build_model_card
from packager.card.plots import classifier_score_plot, sigma_trace_plot, truth_ratio_histogram

RESULTS_FILE = "results.json"


def _plots(ctx: BuildContext, out: Path) -> None:
    plots = out / "plots"
    plots.mkdir()
    sigma = ctx.results["sigma"]
    sigma_trace_plot(sigma["trace"], sigma["sigma"], plots / "sigma_search.png")
    reports = json.loads((ctx.stage_dir("evaluation") / ctx.results["evaluation"]["reports_file"]).read_text())
    labels = {"unguarded": "unguarded subject", "guarded": "guarded subject", "retain": "retain reference"}
    series = {labels[k]: r["splits"]["forget"]["truth_ratios"] for k, r in reports.items() if "forget" in r["splits"]}
    truth_ratio_histogram(series, plots / "truth_ratio.png")
    scores = json.loads((ctx.stage_dir("calibration") / ctx.results["calibration"]["scores_file"]).read_text())
    classifier_score_plot(scores, ctx.results["calibration"]["decision"]["threshold"], plots / "classifier_scores.png")


def results(ctx: BuildContext) -> dict[str, Any]:
    """The artifact's scores, as ``results.json`` holds them."""
    sigma = {k: v for k, v in ctx.results["sigma"].items()}
    return {
        "forget_set": forget_set(ctx).name,
        "models": ctx.results["evaluation"]["models"],
        "classifier": {
            "decision": ctx.results["calibration"]["decision"],
            "report": ctx.results["calibration"]["report"],
        },
        "sigma": sigma,
    }


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    return {"version": ctx.objects["version"], "name": ctx.config.artifact_name}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    data = results(ctx)
    (out / RESULTS_FILE).write_text(json.dumps(data, indent=2) + "\n")
    _plots(ctx, out)
    guard = json.loads((ctx.stage_dir("bundle") / "guard" / "eco_guard.json").read_text())
    report = ctx.results["calibration"]["report"]
    rows = {
        "paraphrase recall": report["recall"]["paraphrase"]["rate"],
        "held-out forget recall": report["recall"]["heldout_forget"]["rate"],
        **{f"false-positive rate, {name}": rate["rate"] for name, rate in report["fpr"].items()},
        "latency per prompt (ms)": report["ms_per_prompt"],
    }
    sigma = ctx.results["sigma"]
    card = build_model_card(
        data,
        name=ctx.config.artifact_name,
        version=ctx.objects["version"],
        base_model=ctx.results["bundle"]["base_model"],
        forget_set=forget_set(ctx).name,
        guard=guard,
        classifier={
            "backbone": ctx.results["classifier"]["backbone"],
            "forget_facts": ctx.results["classifier"]["forget_facts"],
            "report": rows,
        },
        sigma={
            "optimizer": sigma["optimiser"],
            "reference": sigma["reference"],
            "distance": sigma["distance"],
            "noise_seeds": sigma["noise_seeds"],
            "evaluations": sigma["evaluations"],
            "objective": sigma["final_objective"],
        },
    )
    card.save(out / "README.md")
    return {"results": RESULTS_FILE, "card": "README.md", "plots": "plots"}


STAGE = Stage("card", "Model card", _inputs, _run)
