"""Stage 5: tune sigma against the retain model (``--retain-model``) or the holdout surrogate, on
the guard that the bundle stage will save (``packager.pipeline.guard``) with sigma left free."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guards.classifier import PromptClassifier
from guards.guarded_model import GuardedModel
from packager.pipeline.guard import CorruptionSettings, assemble_guard
from packager.pipeline.stage import Stage
from packager.pipeline.stages.calibration import CalibrationResult
from packager.pipeline.stages.classifier import ClassifierResult
from packager.pipeline.stages.data import DataResult
from packager.pipeline.stages.model import ModelResult
from packager.pipeline.typed import StageResult
from packager.sigma import SigmaConfig, tune_sigma
from packager.sigma.trace import QuestionSpread

SURROGATE_LABELS = {
    "answer_probability": "holdout surrogate (subject's answer probability on unseen questions)",
    "truth_ratio": "holdout surrogate (subject's truth ratios on unseen questions, generic wrong answers)",
    "truth_ratio_holdout_facts": "holdout surrogate (subject's truth ratios on unseen questions, generic wrong "
    "answers; the forget side's made from holdout facts)",
    "truth_ratio_mixed_facts": "holdout surrogate (subject's truth ratios on unseen questions, generic wrong "
    "answers; the forget side's made from both its own and holdout facts)",
    "truth_ratio_other_entities": "holdout surrogate (subject's truth ratios on unseen questions, generic wrong "
    "answers made from answers about other entities)",
}
KIND_LABELS = {  # what a multiple-choice set and a text corpus are tuned towards, with no retain model
    "mc": "chance accuracy (1 / number of choices) on the forget topics' questions",
    "text": "holdout VerbMem (the subject's ROUGE-L F1 continuing passages it never trained on)",
}


@dataclass(frozen=True)
class SigmaInputs:
    data: DataResult
    model: ModelResult
    classifier: ClassifierResult
    calibration: CalibrationResult
    corruption: CorruptionSettings
    search: SigmaConfig


@dataclass(frozen=True, kw_only=True)
class SigmaStageResult(StageResult):
    sigma: float
    objective: float
    evaluations: int
    model_evaluations: int
    seconds: float
    optimiser: str
    trace: tuple[dict[str, Any], ...]  # every evaluated sigma with its objective (the card's plot)
    reference: str  # what the objective compares the guarded model with
    distance: str
    noise_seeds: int
    question_spread: QuestionSpread | None = None  # where the objective crosses with the questions drawn again


def guarded_subject(inputs: SigmaInputs, session) -> GuardedModel:
    """The subject behind the build's guard, its sigma still free (1.0 until the search sets it)."""
    model, tokenizer = session.model(inputs.model.subject, alias=inputs.model.alias)
    guard = assemble_guard(
        base=inputs.model.subject,
        decision=inputs.calibration.decision,
        prompt_format=inputs.model.prompt_format,
        corruption=inputs.corruption,
        entities=inputs.data.entities,
        strength=1.0,
        classifier_max_length=inputs.classifier.max_length,
        name="sigma-search",
        version="0.0.0",
        metadata={},
    )
    classifier = PromptClassifier(inputs.classifier.model_dir, max_length=inputs.classifier.max_length)
    return GuardedModel.from_config(model, tokenizer, classifier=classifier, config=guard)


def _reference_label(inputs: SigmaInputs, with_retain: bool) -> str:
    if inputs.data.kind in KIND_LABELS:
        return KIND_LABELS[inputs.data.kind]
    return "retain model's truth ratios" if with_retain else SURROGATE_LABELS[inputs.search.surrogate]


def _run(inputs: SigmaInputs, out: Path, session) -> SigmaStageResult:
    reference = inputs.model.tuning_reference if inputs.data.kind == "qa" else None  # the others need none
    retain = None
    if reference is not None:
        r_model, r_tokenizer = session.model(reference)
        retain = GuardedModel(r_model, r_tokenizer, classifier=None, prompt_format=inputs.model.prompt_format)
    result = tune_sigma(guarded_subject(inputs, session), session.forget_set, inputs.search, retain=retain)
    session.console.print(
        f"sigma = {result.sigma:.4g} (objective {result.objective:.4f}, {result.evaluations} evaluations)"
    )
    if (spread := result.question_spread) is not None:
        session.console.print(f"  with the questions drawn again: {spread.low:.3g} to {spread.high:.3g} "
                              f"({spread.level:.0%} of {spread.resamples} resamples)")
    return SigmaStageResult(
        sigma=result.sigma,
        objective=result.objective,
        evaluations=result.evaluations,
        model_evaluations=result.model_evaluations,
        seconds=result.seconds,
        optimiser=result.optimiser,
        trace=tuple(vars(p) for p in result.trace),
        reference=_reference_label(inputs, retain is not None),
        distance=inputs.search.distance,
        noise_seeds=inputs.search.seeds,
        question_spread=result.question_spread,
    )


STAGE = Stage("sigma", "Sigma search", SigmaStageResult, _run,
              code=("packager.pipeline.stages.sigma", "packager.pipeline.guard", "packager.sigma", "evaluation",
                    "guards.guarded_model", "guards.corruptions", "guards.selection", "guards.seeding"))  # fmt: skip
