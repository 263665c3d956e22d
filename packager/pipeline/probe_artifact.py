"""``eco-pack probe ARTIFACT``: the attack report of a built artifact, as the build's probe stage
makes it, written into the artifact as ``probe.json`` (its manifest updated)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evaluation.result import rate_text
from guards.bundle import load_bundle
from guards.manifest import read_manifest, verify_manifest, write_manifest
from packager.pipeline.stages.probe import PROBE_FILE, run_probe
from packager.sources import load_forget_set


def probe_artifact(
    artifact: Path, *, forget: str | None, per_family: int, seed: int, data_dir: Path | None, write: bool
) -> dict[str, Any]:
    """The report; with ``write``, saved as ``ARTIFACT/probe.json`` and listed in its manifest."""
    artifact = Path(artifact)
    verify_manifest(artifact)  # every file hashed once; the bundle is then trusted
    meta = load_bundle(artifact / "guard", hash_files=False).config.metadata
    fs = load_forget_set(forget or meta["forget_set"], data_dir=data_dir, seed=0)  # its name carries its seed
    report = run_probe(artifact / "guard", fs, seed=seed, per_family=per_family, hash_files=False)
    if write:
        _write_into(artifact, PROBE_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def _write_into(artifact: Path, name: str, text: str) -> None:
    """Add or replace one top-level file through a rename; only that file is hashed for the manifest."""
    tmp = artifact / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, artifact / name)
    write_manifest(artifact, {rel: digest for rel, digest in read_manifest(artifact).items() if rel != name})


def render_probe(report: dict[str, Any], console: Console | None = None) -> None:
    table = Table("attack family", "recall", "benign FPR", "first miss or false alarm", title="Attack report")

    for family, recall in report["recall"].items():
        missed = next(iter(report["examples"][family]), "")
        table.add_row(family, rate_text(recall), rate_text(report["fpr"][family]), missed[:60])
    (console or Console()).print(table)
