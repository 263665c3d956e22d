"""Stage 9: the BentoML bento that serves the artifact, exported to a file inside the artifact."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from guards.manifest import write_manifest
from packager.pipeline.artifact import lay_out
from packager.pipeline.cache import code_fingerprint
from packager.pipeline.stage import Stage
from packager.pipeline.stages.bundle import BundleResult
from packager.pipeline.stages.card import CardResult
from packager.pipeline.stages.probe import ProbeResult
from packager.pipeline.typed import StageResult

BENTO_DIR = "bento"
SERVING_CODE = ("bentos", "guards")  # what the bento carries besides the artifact


@dataclass(frozen=True)
class BentoInputs:
    bundle: BundleResult
    card: CardResult
    probe: ProbeResult
    name: str
    version: str
    enabled: bool  # --bento / --no-bento
    engine: str = "hf"  # --engine: hf, or vllm (the image holds vLLM too)


@dataclass(frozen=True, kw_only=True)
class BentoResult(StageResult):
    tag: str | None
    filename: str | None  # the exported bento, relative to the stage folder (and to the artifact)
    sha256: str | None  # of that file, computed once as it was written

    @property
    def file_path(self) -> Path:
        return self.file(self.filename) if self.filename else self.folder


def _run(inputs: BentoInputs, out: Path, session) -> BentoResult:
    if not inputs.enabled:
        session.console.print("bento skipped (--no-bento)")
        return BentoResult(tag=None, filename=None, sha256=None)
    import bentoml

    from bentos.build import build_bento, export_bento_file

    staging = out / "staging"
    checksums = write_manifest(staging, lay_out(inputs.bundle, inputs.card, inputs.probe, staging))
    # name and version follow the artifact; the hash of its content and of the serving code keeps
    # two different builds of one version apart in the BentoML store, and lets a rebuild of the
    # same content and code reuse its bento
    payload = {"files": checksums, "code": code_fingerprint(SERVING_CODE), "engine": inputs.engine}
    content = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]
    name = re.sub(r"[^a-z0-9_.-]", "-", inputs.name.lower())
    version = f"{inputs.version}-{content}".replace("+", "-")
    try:
        tag = str(bentoml.get(f"{name}:{version}").tag)  # the same content and code: reuse it
    except bentoml.exceptions.NotFound:
        tag = build_bento(staging, version=version, name=name, checksums=checksums, engine=inputs.engine)
    filename = f"{BENTO_DIR}/{inputs.name}-{inputs.version}.bento.tar"  # `bentoml import FILE` reads it
    (out / BENTO_DIR).mkdir()
    digest = export_bento_file(tag, out / filename)
    shutil.rmtree(staging)
    session.console.print(f"bento [bold]{tag}[/bold] (engine {inputs.engine}) built and exported to {filename}")
    return BentoResult(tag=tag, filename=filename, sha256=digest)


STAGE = Stage("bento", "BentoML bento", BentoResult, _run, code=("packager.pipeline.stages.bento", *SERVING_CODE))
