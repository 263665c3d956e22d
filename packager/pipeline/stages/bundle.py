"""Stage 6: save the guard bundle with the chosen sigma, and copy a local base model beside it so
the artifact is whole. Each file is hashed once here (or taken from the stage that wrote it), and
the digests travel on to evaluation, the bento and the artifact's manifest."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from guards.bundle import save_bundle
from guards.config import BaseModelRef
from guards.manifest import read_manifest, tree_digests
from packager.classifier.shipped import shipped_files
from packager.pipeline.guard import CorruptionSettings, assemble_guard
from packager.pipeline.stage import Stage
from packager.pipeline.stages.calibration import CalibrationResult
from packager.pipeline.stages.classifier import ClassifierResult
from packager.pipeline.stages.data import DataResult
from packager.pipeline.stages.model import ModelResult
from packager.pipeline.stages.sigma import SigmaStageResult
from packager.pipeline.typed import StageResult

GUARD_DIR, BASE_DIR = "guard", "base"
PICKLES = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt")  # never shipped: weights travel as safetensors


@dataclass(frozen=True)
class BundleInputs:
    data: DataResult
    model: ModelResult
    classifier: ClassifierResult
    calibration: CalibrationResult
    sigma: SigmaStageResult
    corruption: CorruptionSettings
    name: str
    version: str


@dataclass(frozen=True, kw_only=True)
class BundleResult(StageResult):
    has_base: bool  # a local base model was copied into ``base/``
    checksums: dict[str, str]  # sha256 of every file under guard/ and base/, relative to the stage folder

    @property
    def guard_dir(self) -> Path:
        return self.file(GUARD_DIR)


def _run(inputs: BundleInputs, out: Path, session) -> BundleResult:
    subject = base = inputs.model.subject
    if subject.source == "local":
        copy = shutil.ignore_patterns(*PICKLES, "__pycache__")
        shutil.copytree(Path(subject.name_or_path), out / BASE_DIR, ignore=copy)
        base = BaseModelRef("local", f"../{BASE_DIR}", weights_sha256=subject.weights_sha256)
    guard = assemble_guard(
        base=base,
        decision=inputs.calibration.decision,
        prompt_format=inputs.model.prompt_format,
        corruption=inputs.corruption,
        entities=inputs.data.entities,
        strength=inputs.sigma.sigma,
        classifier_max_length=inputs.classifier.max_length,
        name=inputs.name,
        version=inputs.version,
        metadata={"forget_set": inputs.data.name, "kind": inputs.data.kind, "model": inputs.model.alias,
                  "built_by": "eco-pack"},
    )
    guard_dir = out / GUARD_DIR
    # the whole forget text, where training kept back what calibration and the report used
    served = shipped_files(inputs.classifier.model_dir, session.forget_set)
    save_bundle(guard, guard_dir, classifier_dir=inputs.classifier.model_dir, known=inputs.classifier.digests,
                classifier_files=served)  # fmt: skip
    # the weights' digests come from the model stage and the bundle's from its manifest; the rest
    # (the base's config and tokenizer, the bundle's manifest) are hashed here, once
    known = {f"{BASE_DIR}/{rel}": digest for rel, digest in inputs.model.subject_digests.items()}
    known |= {f"{GUARD_DIR}/{rel}": digest for rel, digest in read_manifest(guard_dir).items()}
    return BundleResult(has_base=subject.source == "local", checksums=tree_digests(out, known))


STAGE = Stage("bundle", "Guard bundle", BundleResult, _run,
              code=("packager.pipeline.stages.bundle", "packager.pipeline.guard", "guards.bundle", "guards.config",
                    "guards.manifest", "guards.forget_text", "packager.classifier"))  # fmt: skip
