"""Stage 3: fine-tune the prompt classifier on forget vs retain + general prompts, and persist the
split it trained on (``split.json``), which calibration then uses as it is."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from guards.manifest import tree_digests
from packager.classifier import ClassifierConfig, train_classifier
from packager.pipeline.stage import Stage
from packager.pipeline.stages.data import DataResult
from packager.pipeline.typed import StageResult

MODEL_DIR = "classifier"
SPLIT_FILE = "split.json"
OFFLINE_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2 (offline package)"


def training_config(config: ClassifierConfig) -> ClassifierConfig:
    """``config`` with the settings training never reads reset, so they stay out of its key.

    ``alpha`` and ``fpr_target`` stay: they size the held-out calibration sets of the split.
    """
    defaults = ClassifierConfig()
    return replace(config, on_conflict=defaults.on_conflict, threshold_position=defaults.threshold_position,
                   show_progress=True)  # fmt: skip


@dataclass(frozen=True)
class ClassifierInputs:
    data: DataResult
    config: ClassifierConfig  # ``training_config`` of the build's classifier settings
    backbone: str  # the resolved backbone (a Hub id or folder)
    profile: str  # the augmentation profile that set ``config``'s heuristics (packager.classifier.profiles)


@dataclass(frozen=True, kw_only=True)
class ClassifierResult(StageResult):
    backbone: str  # as shown on the card
    encoder_layers: int | None  # of the backbone, the lowest kept (None: its config gives no count)
    backbone_layers: int | None  # the backbone's own count, before the cut
    max_length: int
    epochs_run: int
    best_epoch: int
    best_val_misranked: float
    train_seconds: float
    forget_facts: int | None
    entities: int  # forget entities matched by name
    profile: str
    sizes: dict[str, int]
    digests: dict[str, str]  # sha256 of each file of the saved classifier, relative to its folder

    @property
    def model_dir(self) -> Path:
        return self.file(MODEL_DIR)

    @property
    def split_file(self) -> Path:
        return self.file(SPLIT_FILE)


def _run(inputs: ClassifierInputs, out: Path, session) -> ClassifierResult:
    trained = train_classifier(session.forget_set, inputs.config, out / MODEL_DIR)
    trained.data.save(out / SPLIT_FILE)
    return ClassifierResult(
        backbone=inputs.config.backbone or OFFLINE_BACKBONE,
        encoder_layers=trained.encoder_layers,
        backbone_layers=trained.backbone_layers,
        max_length=inputs.config.max_length,
        epochs_run=trained.epochs_run,
        best_epoch=trained.best_epoch,
        best_val_misranked=trained.best_val_misranked,
        train_seconds=trained.train_seconds,
        forget_facts=trained.forget_facts,
        entities=trained.forget_entities or 0,
        profile=inputs.profile,
        sizes=trained.data.sizes(),
        digests=tree_digests(out / MODEL_DIR),
    )


STAGE = Stage("classifier", "Prompt classifier", ClassifierResult, _run,
              code=("packager.pipeline.stages.classifier", "packager.classifier", "guards.classifier",
                    "guards.facts", "guards.dates", "guards.forget_text", "guards.entities"))  # fmt: skip
