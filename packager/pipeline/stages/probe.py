"""Stage 8: the attack report (``evaluation.probe``) on the saved guard: recall per attack family
and false positives per benign family, written to ``probe.json`` and tabled on the card."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.probe import probe
from guards.bundle import load_bundle
from packager.pipeline.stage import Stage
from packager.pipeline.stages.bundle import BundleResult
from packager.pipeline.stages.data import DataResult
from packager.pipeline.typed import StageResult

PROBE_FILE = "probe.json"


@dataclass(frozen=True)
class ProbeInputs:
    data: DataResult
    bundle: BundleResult
    seed: int
    per_family: int


@dataclass(frozen=True, kw_only=True)
class ProbeResult(StageResult):
    report: dict[str, Any]  # ProbeReport.to_dict()
    checksums: dict[str, str]  # of probe.json, relative to the stage folder (and the artifact)


def run_probe(guard_dir: Path, forget_set, *, seed: int, per_family: int, hash_files: bool = True) -> dict[str, Any]:
    """The report of the bundle at ``guard_dir``, scored by its own classifier and decision rule."""
    bundle = load_bundle(guard_dir, hash_files=hash_files)
    report = probe(bundle.classifier(), bundle.config.decision, forget_set, per_family=per_family, seed=seed)
    return report.to_dict()


def _run(inputs: ProbeInputs, out: Path, session) -> ProbeResult:
    from guards.manifest import sha256_file

    report = run_probe(inputs.bundle.guard_dir, session.forget_set, seed=inputs.seed, per_family=inputs.per_family,
                       hash_files=False)  # fmt: skip
    (out / PROBE_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    worst = min((r["rate"] for r in report["recall"].values() if r["rate"] is not None), default=None)
    session.console.print(f"attack suite: lowest family recall {worst}")
    return ProbeResult(report=report, checksums={PROBE_FILE: sha256_file(out / PROBE_FILE)})


STAGE = Stage("probe", "Attack report", ProbeResult, _run,
              code=("packager.pipeline.stages.probe", "evaluation.probe", "guards"))  # fmt: skip
