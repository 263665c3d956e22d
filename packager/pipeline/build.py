"""Runs the build's stages and publishes ``OUT/<name>-<version>/`` atomically.

The stages and what flows between them (docs/architecture.md):

    data -> model -> classifier -> calibration -> sigma -> bundle -> evaluation -> probe -> card -> bento

Every input is validated first (``validate``), so a bad option fails in seconds and creates
no work folder. Each stage is cached by its typed inputs and its code (``stage.Runner``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from rich.console import Console

from guards.atomic import atomic_directory
from guards.cache import cache_root
from guards.errors import EcoPackError
from guards.manifest import TALLY, write_manifest
from packager.classifier import ClassifierConfig
from packager.classifier.profiles import PROFILES
from packager.pipeline.artifact import lay_out
from packager.pipeline.config import BuildConfig, selection_for
from packager.pipeline.guard import CorruptionSettings
from packager.pipeline.session import Session
from packager.pipeline.stage import Runner
from packager.pipeline.stages import (
    bento,
    bundle,
    calibration,
    card,
    classifier,
    data,
    evaluation,
    model,
    probe,
    sigma,
)
from packager.pipeline.typed import to_jsonable
from packager.pipeline.validate import validate
from packager.pipeline.versioning import check_version, next_version
from packager.sigma import SigmaConfig

STAGES = [s.STAGE for s in (data, model, classifier, calibration, sigma, bundle, evaluation, probe, card, bento)]
PACKAGES = ("eco-pack", "torch", "transformers", "tokenizers", "safetensors", "bentoml", "huggingface_hub", "scipy")


class ArtifactExistsError(EcoPackError):
    """``--out`` already holds the requested version."""


class BuildBusyError(EcoPackError):
    """Another build of the same name is running: the two would share (and prune) one work folder."""


@contextlib.contextmanager
def _sole_build(work_dir: Path, name: str) -> Iterator[None]:
    """Hold the work folder of build ``name`` for this build alone. A build keeps one folder per stage
    and removes the others when a stage finishes, so a second build of that name would delete what the
    first is still reading."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with open(work_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildBusyError(
                f"another build of `{name}` is running in its work folder {work_dir}; wait for it to finish, "
                "or give this one another name (`--name`)"
            ) from None
        yield


@dataclass(frozen=True)
class BuildOutcome:
    path: Path
    version: str
    seconds: float
    stage_seconds: dict[str, float]
    cached: list[str]
    results: dict[str, Any]
    hashing: dict[str, float]  # files, bytes and seconds spent computing sha256s in this build


@dataclass(frozen=True)
class Built:
    """Every stage's result, as the artifact is published from them."""

    data: data.DataResult
    model: model.ModelResult
    classifier: classifier.ClassifierResult
    calibration: calibration.CalibrationResult
    sigma: sigma.SigmaStageResult
    bundle: bundle.BundleResult
    evaluation: evaluation.EvaluationResult
    probe: probe.ProbeResult
    card: card.CardResult
    bento: bento.BentoResult


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def classifier_config(config: BuildConfig) -> ClassifierConfig:
    overrides = {"epochs": config.classifier_epochs} if config.classifier_epochs else {}
    if config.classifier_layers:
        overrides["encoder_layers"] = config.classifier_layers
    return PROFILES.get(config.augment_profile)(ClassifierConfig(
        backbone=config.classifier_backbone, alpha=config.alpha, fpr_target=config.fpr_target,
        on_conflict=config.on_conflict, threshold_position=config.threshold_position, seed=config.seed, **overrides,
    ))  # fmt: skip


def run_stages(config: BuildConfig, version: str, runner: Runner, fs) -> Built:
    """The stages in order, each handed exactly what it consumes."""
    name = config.artifact_name
    corruption = CorruptionSettings(config.corruption, config.dims, selection_for(config.selection, fs.kind))
    cls_config = classifier_config(config)
    d = runner.run(data.STAGE, data.data_inputs(config.forget, config.seed, fs))
    m = runner.run(model.STAGE, model.ModelInputs(
        model=config.model, forget=config.forget, seed=config.seed, data=d.sha256, retain_model=config.retain_model,
        reference_model=config.reference_model, prompt_format=config.parsed_prompt_format,
        data_dir=str(config.data_dir) if config.data_dir else None))  # fmt: skip
    c = runner.run(classifier.STAGE, classifier.ClassifierInputs(
        data=d, config=classifier.training_config(cls_config), backbone=cls_config.resolved_backbone(),
        profile=config.augment_profile))
    cal = runner.run(calibration.STAGE, calibration.CalibrationInputs(classifier=c, config=cls_config))
    search = SigmaConfig(optimiser=config.optimizer, distance=config.distance, seeds=config.noise_seeds,
                         seed=config.seed, surrogate=config.surrogate)  # fmt: skip
    s = runner.run(sigma.STAGE, sigma.SigmaInputs(d, m, c, cal, corruption, search))
    b = runner.run(bundle.STAGE, bundle.BundleInputs(d, m, c, cal, s, corruption, name, version))
    e = runner.run(evaluation.STAGE, evaluation.EvaluationInputs(d, m, b, config.seed, config.max_new_tokens,
                                                                config.fq_seeds))
    pr = runner.run(probe.STAGE, probe.ProbeInputs(d, b, config.seed, config.probe_per_family))
    k = runner.run(card.STAGE, card.CardInputs(d, m, c, cal, s, b, e, pr, name, version))
    bt = runner.run(bento.STAGE, bento.BentoInputs(b, k, pr, name, version, config.bento, config.engine))
    return Built(d, m, c, cal, s, b, e, pr, k, bt)


def _provenance(config: BuildConfig, version: str, built: Built, runner: Runner, seconds: float) -> dict[str, Any]:
    roles = {role: to_jsonable(getattr(built.model, role)) for role in ("subject", "retain", "tuning_reference")}
    return {
        "name": config.artifact_name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": config.command,
        "config": config.to_dict(),
        "seeds": {"build": config.seed, "noise_policy": "keyed (secret at serving time)"},
        "augment_profile": built.classifier.profile,
        "data": {"forget_set": built.data.name, "sha256": built.data.sha256},
        "models": roles | {"prompt_format": built.model.prompt_format.to_dict(), "alias": built.model.alias},
        "packages": _versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "stage_seconds": runner.seconds,
        "cached_stages": runner.cached,
        "total_seconds": seconds,
    }


def _publish(dest: Path, config: BuildConfig, version: str, built: Built, runner: Runner, started: float) -> float:
    with atomic_directory(dest, overwrite=config.force) as tmp:
        known = lay_out(built.bundle, built.card, built.probe, tmp)
        if built.bento.filename:
            (tmp / built.bento.filename).parent.mkdir()
            shutil.copy2(built.bento.file_path, tmp / built.bento.filename)
            known[built.bento.filename] = built.bento.sha256
        seconds = time.perf_counter() - started
        provenance = _provenance(config, version, built, runner, seconds)
        (tmp / "build.json").write_text(json.dumps(provenance, indent=2) + "\n")
        write_manifest(tmp, known)  # hashes build.json, the one file no stage hashed
    return seconds


def run_build(config: BuildConfig, console: Console | None = None) -> BuildOutcome:
    """Validate, run (or resume) every stage, then publish; nothing appears in OUT unless complete."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    hashed = (TALLY.files, TALLY.bytes, TALLY.seconds)
    name = config.artifact_name
    version = check_version(config.version) if config.version else next_version(config.out, name)
    dest = Path(config.out) / f"{name}-{version}"
    if dest.exists() and not config.force:
        raise ArtifactExistsError(f"{dest} already exists; pass --force to replace it, or choose another --version")
    fs = validate(config)
    work_dir = cache_root() / "builds" / name
    console.print(f"building [bold]{name} {version}[/bold] (work folder {work_dir})")
    session = Session(console=console, forget_set=fs, device=config.device, dtype=config.dtype)
    with _sole_build(work_dir, name):
        runner = Runner(work_dir=work_dir, console=console, session=session, total=len(STAGES))
        built = run_stages(config, version, runner, fs)
        seconds = _publish(dest, config, version, built, runner, started)
    console.print(f"[bold green]published[/bold green] {dest} in {seconds:.0f}s")
    hashing = {"files": TALLY.files - hashed[0], "bytes": TALLY.bytes - hashed[1], "seconds": TALLY.seconds - hashed[2]}
    return BuildOutcome(dest, version, seconds, dict(runner.seconds), list(runner.cached),
                        json.loads(built.card.file(card.RESULTS_FILE).read_text()), hashing)  # fmt: skip

