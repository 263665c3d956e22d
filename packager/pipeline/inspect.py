"""What ``eco-pack inspect`` shows: configuration, checksums and scores of a verified artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evaluation.result import summary_text
from guards.bundle import load_bundle
from guards.manifest import verify_manifest


def describe(artifact: Path) -> dict[str, Any]:
    """Verify every checksum (artifact and bundle) and gather what the artifact says about itself."""
    artifact = Path(artifact)
    checksums = verify_manifest(artifact)
    bundle = load_bundle(artifact / "guard", hash_files=False)  # its files were just hashed, once
    results_file, build_file = artifact / "results.json", artifact / "build.json"
    return {
        "path": str(artifact),
        "guard": bundle.config.to_dict(),
        "checksums": checksums,
        "results": json.loads(results_file.read_text()) if results_file.is_file() else None,
        "build": json.loads(build_file.read_text()) if build_file.is_file() else None,
    }


def render(info: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    guard = info["guard"]
    console.print(f"[bold]{guard['name']} {guard['version']}[/bold]  ({info['path']}, all checksums verified)")
    config = Table("setting", "value", title="Guard")
    base = guard["base_model"]
    config.add_row("base model", f"{base['name_or_path']} ({base['source']})")
    config.add_row("prompt format", guard["prompt_format"]["name"])
    c = guard["corruption"]
    config.add_row("corruption", f"{c['method']} dims={c['dims']} sigma={c['strength']:.4g}")
    config.add_row("selection", guard["selection"]["method"])
    d = guard["decision"]
    fpr = f" fpr_target={d['fpr_target']} n_negative={d['n_negative']}" if d.get("fpr_target") else ""
    config.add_row("decision", f"{d['kind']} threshold={d['threshold']:.4f} alpha={d['alpha']} n={d['n']}{fpr}")
    config.add_row("seed policy", guard["seed_policy"]["kind"])
    spread = ((info["results"] or {}).get("sigma") or {}).get("question_spread")
    if spread:
        config.add_row("sigma, questions drawn again", f"{spread['low']:.3g} to {spread['high']:.3g} "
                       f"({spread['level']:.0%} of {spread['resamples']} resamples)")
    console.print(config)
    if info["results"]:
        scores = Table("model", "scores", title=f"Scores on {info['results']['forget_set']}")
        for name, model in info["results"]["models"].items():
            scores.add_row(name, summary_text(model))
        console.print(scores)
    sums = Table("file", "sha256", title="Checksums")
    for name, digest in info["checksums"].items():
        sums.add_row(name, digest[:16] + "…")
    console.print(sums)
