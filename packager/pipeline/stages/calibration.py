"""Stage 4: the split-conformal threshold, on the held-out prompts of the split the classifier
stage persisted, and the classifier's report on its test prompts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guards.classifier import PromptClassifier
from guards.config import DecisionRule
from packager.classifier import ClassifierConfig, ClassifierData, calibrate_classifier, evaluate_classifier
from packager.pipeline.stage import Stage
from packager.pipeline.stages.classifier import ClassifierResult
from packager.pipeline.typed import StageResult

SCORES_FILE = "scores.json"


@dataclass(frozen=True)
class CalibrationInputs:
    classifier: ClassifierResult
    config: ClassifierConfig  # alpha, fpr_target, on_conflict and threshold_position decide the rule


@dataclass(frozen=True, kw_only=True)
class CalibrationResult(StageResult):
    decision: DecisionRule
    report: dict[str, Any]  # ClassifierReport.to_dict(): recall and false-positive rates by group
    scores_file: str = SCORES_FILE  # p_forget of the held-out prompts by group, for the card's plot


def _warn_on_conflict(decision: DecisionRule, console) -> None:
    if decision.fpr_bound_met and decision.recall_bound_met:
        return
    kept, lost = ("false-positive", "recall") if decision.fpr_bound_met else ("recall", "false-positive")
    console.print(
        f"[yellow]warning:[/yellow] the recall bound (alpha={decision.alpha}, n={decision.n}) and the "
        f"false-positive bound (fpr_target={decision.fpr_target}) conflict; kept the {kept} bound "
        f"(`--on-conflict`), so the {lost} bound does not hold: guaranteed recall "
        f"{decision.recall_bound:.3f}. More forget prompts (or paraphrases) to calibrate on resolve it."
    )


def _run(inputs: CalibrationInputs, out: Path, session) -> CalibrationResult:
    data = ClassifierData.load(inputs.classifier.split_file)
    scorer = PromptClassifier(inputs.classifier.model_dir, max_length=inputs.classifier.max_length)
    decision = calibrate_classifier(scorer, data, inputs.config)
    report = evaluate_classifier(scorer, data, decision)
    others = [t for group in data.negatives.values() for t in group]
    scores = {
        "forget (held out)": scorer(list(data.test_forget)),
        "forget paraphrases": scorer(list(data.paraphrases)),
        "all other prompts": scorer(others),
    }
    (out / SCORES_FILE).write_text(json.dumps(scores) + "\n")
    _warn_on_conflict(decision, session.console)
    recall, fpr = report.recall, report.fpr
    rates = {"held-out forget recall": recall["heldout_forget"], "paraphrase recall": recall["paraphrase"],
             "FPR retain": fpr["retain"], "FPR general": fpr["general"]}  # fmt: skip
    shown = [f"{name} {r.rate:.3f}" for name, r in rates.items() if r.rate is not None]
    session.console.print(f"threshold {decision.threshold:.4f}: " + ", ".join(shown))
    return CalibrationResult(decision=decision, report=report.to_dict())


STAGE = Stage("calibration", "Conformal calibration", CalibrationResult, _run,
              code=("packager.pipeline.stages.calibration", "packager.classifier", "guards.classifier",
                    "guards.forget_text"))  # fmt: skip
