"""Stage 5: tune sigma against the retain model (``--retain-model``) or the holdout surrogate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guards.config import CorruptionConfig, SeedPolicy, SelectionConfig
from guards.guarded_model import GuardedModel
from packager.build.runner import BuildContext, Stage
from packager.build.stages.calibration import decision_rule, prompt_classifier
from packager.build.stages.data import forget_set
from packager.build.stages.model import load_model, prompt_format
from packager.sigma import SigmaConfig, tune_sigma


def guarded_subject(ctx: BuildContext, strength: float) -> GuardedModel:
    """The subject model behind the trained guard, with noise fixed by the build seed."""
    model, tokenizer = load_model(ctx, "subject")
    config = ctx.config
    return GuardedModel(
        model,
        tokenizer,
        classifier=prompt_classifier(ctx),
        decision=decision_rule(ctx),
        corruption=CorruptionConfig(config.corruption, dims=config.dims, strength=strength),
        selection=SelectionConfig(config.selection, entities=tuple(forget_set(ctx).entities)),
        seed_policy=SeedPolicy("fixed", seed=config.seed),
        prompt_format=prompt_format(ctx),
    )


def plain(ctx: BuildContext, role: str) -> GuardedModel:
    """A model with no guard at all (used with flags off), in the build's prompt format."""
    model, tokenizer = load_model(ctx, role)
    return GuardedModel(model, tokenizer, classifier=None, prompt_format=prompt_format(ctx))


def sigma_config(ctx: BuildContext) -> SigmaConfig:
    config = ctx.config
    return SigmaConfig(optimiser=config.optimizer, distance=config.distance, seeds=config.noise_seeds, seed=config.seed)


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    config = ctx.config
    return {
        "sigma": repr(sigma_config(ctx)),
        "corruption": [config.corruption, config.dims, config.selection],
        "retain_model": config.retain_model,
    }


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    retain = plain(ctx, "tuning_reference") if ctx.config.retain_model else None
    result = tune_sigma(guarded_subject(ctx, 1.0), forget_set(ctx), sigma_config(ctx), retain=retain)
    ctx.console.print(
        f"sigma = {result.sigma:.4g} (objective {result.objective:.4f}, {result.evaluations} evaluations)"
    )
    reference = (
        "retain model's truth ratios"
        if retain
        else "holdout surrogate (subject's answer probability on unseen authors)"
    )
    config = sigma_config(ctx)
    return result.to_dict() | {"reference": reference, "distance": config.distance, "noise_seeds": config.seeds}


STAGE = Stage("sigma", "Sigma search", _inputs, _run)
