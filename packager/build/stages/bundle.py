"""Stage 7: write the guard bundle, and copy a local base model beside it so the artifact is whole."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from guards.base_model import hash_weights
from guards.bundle import save_bundle
from guards.config import BaseModelRef, CorruptionConfig, GuardConfig, SeedPolicy, SelectionConfig
from packager.build.runner import BuildContext, Stage
from packager.build.stages.calibration import decision_rule
from packager.build.stages.classifier import classifier_path
from packager.build.stages.data import forget_set
from packager.build.stages.model import model_ref, prompt_format

PICKLES = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt")  # never shipped: weights travel as safetensors


def guard_config(ctx: BuildContext, base: BaseModelRef) -> GuardConfig:
    config = ctx.config
    return GuardConfig(
        base_model=base,
        corruption=CorruptionConfig(config.corruption, dims=config.dims, strength=float(ctx.results["sigma"]["sigma"])),
        selection=SelectionConfig(config.selection, entities=tuple(forget_set(ctx).entities)),
        decision=decision_rule(ctx),
        seed_policy=SeedPolicy("keyed"),
        prompt_format=prompt_format(ctx),
        name=config.artifact_name,
        version=ctx.objects["version"],
        metadata={"forget_set": forget_set(ctx).name, "model": config.model, "built_by": "eco-pack"},
    )


def _copy_base(source: Path, dest: Path) -> BaseModelRef:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*PICKLES, "__pycache__"))
    return BaseModelRef("local", "../base", weights_sha256=hash_weights(dest))


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    return {"version": ctx.objects["version"], "name": ctx.config.artifact_name, "subject": model_ref(ctx, "subject")}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    subject = model_ref(ctx, "subject")
    base = _copy_base(Path(subject.name_or_path), out / "base") if subject.source == "local" else subject
    save_bundle(guard_config(ctx, base), out / "guard", classifier_dir=classifier_path(ctx))
    return {
        "guard": "guard",
        "base": "base" if subject.source == "local" else None,
        "base_model": _card_name(ctx, subject),
    }


def _card_name(ctx: BuildContext, subject: BaseModelRef) -> str:
    """The card's ``base_model``: the Hub id, else the registry alias or folder name (never a local path)."""
    if subject.source == "hub":
        return subject.name_or_path
    return Path(ctx.config.model).name if Path(ctx.config.model).is_dir() else ctx.config.model


STAGE = Stage("bundle", "Guard bundle", _inputs, _run)
