"""Stage 3: fine-tune the prompt classifier on forget vs retain + general prompts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from packager.build.runner import BuildContext, Stage
from packager.build.stages.data import forget_set
from packager.classifier import ClassifierConfig, train_classifier


def classifier_config(ctx: BuildContext) -> ClassifierConfig:
    config = ctx.config
    overrides = {"epochs": config.classifier_epochs} if config.classifier_epochs else {}
    return ClassifierConfig(
        backbone=config.classifier_backbone, alpha=config.alpha, fpr_target=config.fpr_target,
        on_conflict=config.on_conflict, threshold_position=config.threshold_position, seed=config.seed,
        **overrides,
    )  # fmt: skip


def classifier_path(ctx: BuildContext) -> Path:
    return ctx.stage_dir("classifier") / ctx.results["classifier"]["path"]


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    cfg = asdict(classifier_config(ctx))
    cfg.pop("alpha")  # calibration's inputs, not training's (fpr_target stays: it holds out negatives)
    cfg.pop("on_conflict")
    cfg.pop("threshold_position")
    cfg.pop("show_progress")
    return {"config": cfg, "backbone": classifier_config(ctx).resolved_backbone()}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    trained = train_classifier(forget_set(ctx), classifier_config(ctx), out / "classifier")
    return {
        "path": "classifier",
        "backbone": classifier_config(ctx).backbone or "sentence-transformers/all-MiniLM-L6-v2 (offline package)",
        "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch,
        "best_val_misranked": trained.best_val_misranked,
        "train_seconds": trained.train_seconds,
        "forget_facts": trained.forget_facts,
        "splits": trained.data.sizes(),
    }


STAGE = Stage("classifier", "Prompt classifier", _inputs, _run)
