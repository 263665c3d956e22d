"""Tune sigma (``CorruptionConfig.strength``) towards a stated objective.

>>> result = tune_sigma(guarded, load_forget_set("demo"), SigmaConfig(optimiser="bracket", flags="all"))
>>> guarded.corruption = dataclasses.replace(guarded.corruption, strength=result.sigma)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from rich.progress import Progress

from evaluation.multiple_choice import mc_item
from guards.guarded_model import GuardedModel
from packager.sigma.config import SURROGATES as SURROGATE_NAMES
from packager.sigma.config import SigmaConfig
from packager.sigma.objective import (
    ChanceObjective,
    holdout_facts_surrogate_objective,
    mixed_facts_surrogate_objective,
    other_entities_surrogate_objective,
    surrogate_objective,
    truth_ratio_objective,
    truth_ratio_surrogate_objective,
    verbmem_objective,
)
from packager.sigma.optimisers import OPTIMISERS
from packager.sigma.trace import Measure, Recorder, SigmaResult

if TYPE_CHECKING:
    from evaluation.forget_set import ForgetSet


SURROGATES = dict(zip(SURROGATE_NAMES, (surrogate_objective, truth_ratio_surrogate_objective,
                                         holdout_facts_surrogate_objective, mixed_facts_surrogate_objective,
                                         other_entities_surrogate_objective),
                      strict=True))


class Objective(Protocol):
    model_calls: int

    def __call__(self, sigma: float) -> Measure: ...


def build_objective(
    guarded: GuardedModel, forget_set: ForgetSet, config: SigmaConfig, retain: GuardedModel | None = None
) -> Objective:
    """Chance accuracy on a multiple-choice set, holdout VerbMem on a text corpus; else the
    truth-ratio objective with a retain model, else ``config.surrogate`` on holdout questions."""
    if forget_set.kind == "mc":
        return ChanceObjective(guarded, [mc_item(qa) for qa in forget_set.forget], config)
    if forget_set.kind == "text":
        return verbmem_objective(guarded, forget_set.forget, forget_set.holdout, config)
    if retain is not None:
        return truth_ratio_objective(guarded, retain, forget_set.forget_eval, config)
    make = SURROGATES[config.surrogate]
    return make(guarded, forget_set.forget_eval or forget_set.forget, forget_set.holdout, config)


def run_search(objective: Objective, config: SigmaConfig, *, question_spread: bool = False) -> SigmaResult:
    """Run ``config.optimiser`` on a built objective; the result is the best sigma evaluated.
    ``question_spread``: also resample the questions (``SigmaObjective.question_spread``, a few
    seconds), for a search whose result is reported; searches only compared need not pay for it."""
    optimiser: Callable = OPTIMISERS.get(config.optimiser)
    start, calls = time.perf_counter(), objective.model_calls
    with Progress(transient=True, disable=not config.progress) as progress:
        recorder = Recorder(objective, progress)
        optimiser(recorder, config)
    best = recorder.best()
    spread = getattr(objective, "question_spread", None) if question_spread else None  # per-question values only
    return SigmaResult(
        optimiser=config.optimiser,
        sigma=best.sigma,
        objective=best.objective,
        evaluations=len(recorder.points),
        model_evaluations=objective.model_calls - calls,
        seconds=time.perf_counter() - start,
        trace=tuple(recorder.points),
        question_spread=spread() if spread is not None else None,
    )


def tune_sigma(
    guarded: GuardedModel,
    forget_set: ForgetSet,
    config: SigmaConfig | None = None,
    *,
    retain: GuardedModel | None = None,
) -> SigmaResult:
    """Search sigma for ``guarded`` on ``forget_set``; the guard's corruption is restored after."""
    config = config or SigmaConfig()
    original = guarded.corruption
    try:
        return run_search(build_objective(guarded, forget_set, config, retain), config, question_spread=True)
    finally:
        guarded.corruption = original
