"""Runs the build stages and publishes ``OUT/<name>-<version>/`` atomically."""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
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
from guards.manifest import write_manifest
from packager.build.config import BuildConfig
from packager.build.runner import BuildContext, run_stages
from packager.build.stages import bento, bundle, calibration, card, classifier, data, evaluation, model, sigma
from packager.build.versioning import check_version, next_version

STAGES = [s.STAGE for s in (data, model, classifier, calibration, sigma, evaluation, bundle, card, bento)]
PACKAGES = ("eco-pack", "torch", "transformers", "tokenizers", "safetensors", "bentoml", "huggingface_hub", "scipy")


class ArtifactExistsError(EcoPackError):
    """``--out`` already holds the requested version."""


@dataclass(frozen=True)
class BuildOutcome:
    path: Path
    version: str
    seconds: float
    stage_seconds: dict[str, float]
    cached: list[str]
    results: dict[str, Any]


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _provenance(ctx: BuildContext, seconds: float) -> dict[str, Any]:
    config: BuildConfig = ctx.config
    return {
        "name": config.artifact_name,
        "version": ctx.objects["version"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": config.command,
        "config": config.to_dict(),
        "seeds": {"build": config.seed, "noise_policy": "keyed (secret at serving time)"},
        "data": {"forget_set": ctx.results["data"]["name"], "sha256": ctx.results["data"]["sha256"]},
        "models": ctx.results["model"],
        "packages": _versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "stage_seconds": ctx.seconds,
        "cached_stages": ctx.cached,
        "total_seconds": seconds,
    }


def run_build(config: BuildConfig, console: Console | None = None) -> BuildOutcome:
    """Run (or resume) every stage, then publish the artifact; nothing appears in OUT unless complete."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    name = config.artifact_name
    version = check_version(config.version) if config.version else next_version(config.out, name)
    dest = Path(config.out) / f"{name}-{version}"
    if dest.exists() and not config.force:
        raise ArtifactExistsError(f"{dest} already exists; pass --force to replace it, or choose another --version")
    ctx = BuildContext(
        config=config, work_dir=cache_root() / "builds" / name, console=console, objects={"version": version}
    )
    console.print(f"building [bold]{name} {version}[/bold] (work folder {ctx.work_dir})")
    run_stages(STAGES, ctx)
    seconds = time.perf_counter() - started
    with atomic_directory(dest, overwrite=config.force) as tmp:
        bento.stage_artifact(ctx, tmp)
        if ctx.results["bento"]["file"]:
            shutil.copytree(ctx.stage_dir("bento") / bento.BENTO_DIR, tmp / bento.BENTO_DIR)
        (tmp / "build.json").write_text(json.dumps(_provenance(ctx, seconds), indent=2, default=str) + "\n")
        write_manifest(tmp)
    console.print(f"[bold green]published[/bold green] {dest} in {seconds:.0f}s")
    return BuildOutcome(dest, version, seconds, dict(ctx.seconds), list(ctx.cached), card.results(ctx))
