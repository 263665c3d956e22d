"""Stage 9: the BentoML bento that serves the artifact, exported to a file inside the artifact."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from guards.manifest import write_manifest
from packager.build.runner import BuildContext, Stage

BENTO_DIR = "bento"


def stage_artifact(ctx: BuildContext, dest: Path) -> Path:
    """Lay out the artifact's content from the bundle and card stages (everything but build.json and bento/)."""
    dest.mkdir(parents=True, exist_ok=True)
    bundle, card = ctx.stage_dir("bundle"), ctx.stage_dir("card")
    shutil.copytree(bundle / "guard", dest / "guard")
    if ctx.results["bundle"]["base"]:
        shutil.copytree(bundle / "base", dest / "base")
    shutil.copy2(card / "README.md", dest / "README.md")
    shutil.copy2(card / "results.json", dest / "results.json")
    shutil.copytree(card / "plots", dest / "plots")
    return dest


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    return {"enabled": ctx.config.bento, "version": ctx.objects["version"], "name": ctx.config.artifact_name}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    if not ctx.config.bento:
        ctx.console.print("bento skipped (--no-bento)")
        return {"tag": None, "file": None}
    import bentoml

    from bentos.build import build_bento

    staging = stage_artifact(ctx, out / "staging")
    content = hashlib.sha256(json.dumps(write_manifest(staging), sort_keys=True).encode()).hexdigest()[:8]
    # name and version follow the artifact; the content hash keeps two different builds of one
    # version apart in the BentoML store, and makes a rebuild of the same content reuse its bento
    name = re.sub(r"[^a-z0-9_.-]", "-", ctx.config.artifact_name.lower())
    version = f"{ctx.objects['version']}-{content}".replace("+", "-")
    try:
        tag = str(bentoml.get(f"{name}:{version}").tag)
    except bentoml.exceptions.NotFound:
        tag = build_bento(staging, version=version, name=name)
    (out / BENTO_DIR).mkdir()
    filename = f"{ctx.config.artifact_name}-{ctx.objects['version']}.bento"
    bentoml.export_bento(tag, str(out / BENTO_DIR / filename))
    shutil.rmtree(staging)
    ctx.console.print(f"bento [bold]{tag}[/bold] built and exported to {BENTO_DIR}/{filename}")
    return {"tag": tag, "file": f"{BENTO_DIR}/{filename}"}


STAGE = Stage("bento", "BentoML bento", _inputs, _run)
