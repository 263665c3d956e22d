"""Stage 4: split-conformal threshold on held-out forget prompts and negatives, and the classifier's report."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from guards.classifier import PromptClassifier
from guards.config import DecisionRule
from packager.build.runner import BuildContext, Stage
from packager.build.stages.classifier import classifier_config, classifier_path
from packager.build.stages.data import forget_set
from packager.classifier import calibrate_classifier, evaluate_classifier, split_forget_set

SCORES_FILE = "scores.json"


def prompt_classifier(ctx: BuildContext) -> PromptClassifier:
    if "classifier" not in ctx.objects:
        ctx.objects["classifier"] = PromptClassifier(classifier_path(ctx), max_length=classifier_config(ctx).max_length)
    return ctx.objects["classifier"]


def decision_rule(ctx: BuildContext) -> DecisionRule:
    return DecisionRule(**ctx.results["calibration"]["decision"])


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    c = ctx.config
    return {
        "alpha": c.alpha, "fpr_target": c.fpr_target, "on_conflict": c.on_conflict, "seed": c.seed,
        "threshold_position": c.threshold_position,
    }  # fmt: skip


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    config = classifier_config(ctx)
    data = split_forget_set(forget_set(ctx), config)
    scorer = prompt_classifier(ctx)
    decision = calibrate_classifier(scorer, data, config)
    report = evaluate_classifier(scorer, data, decision)
    others = [t for group in data.negatives.values() for t in group]
    scores = {
        "forget (held out)": scorer(list(data.test_forget)),
        "forget paraphrases": scorer(list(data.paraphrases)),
        "all other prompts": scorer(others),
    }
    (out / SCORES_FILE).write_text(json.dumps(scores) + "\n")
    recall, fpr = report.recall, report.fpr
    if not (decision.fpr_bound_met and decision.recall_bound_met):
        kept, lost = ("false-positive", "recall") if decision.fpr_bound_met else ("recall", "false-positive")
        ctx.console.print(
            f"[yellow]warning:[/yellow] the recall bound (alpha={decision.alpha}, n={decision.n}) and the "
            f"false-positive bound (fpr_target={decision.fpr_target}) conflict; kept the {kept} bound "
            f"(`--on-conflict`), so the {lost} bound does not hold: guaranteed recall "
            f"{decision.recall_bound:.3f}. More forget prompts (or paraphrases) to calibrate on resolve it."
        )
    ctx.console.print(
        f"threshold {decision.threshold:.4f}: paraphrase recall {recall['paraphrase'].rate:.3f}, "
        f"FPR retain {fpr['retain'].rate:.4f}, FPR general {fpr['general'].rate:.4f}"
    )
    return {"decision": asdict(decision), "report": report.to_dict(), "scores_file": SCORES_FILE}


STAGE = Stage("calibration", "Conformal calibration", _inputs, _run)
