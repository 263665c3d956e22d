"""Stage 1: load the forget set and fingerprint it, so later stages re-run when the data changes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from packager.build.runner import BuildContext, Stage
from packager.sources import ForgetSet, load_forget_set

FIELDS = ("forget", "retain", "forget_eval", "retain_eval", "holdout", "real_authors", "world_facts")


def forget_set(ctx: BuildContext) -> ForgetSet:
    """The build's forget set, loaded once per process."""
    if "forget_set" not in ctx.objects:
        config = ctx.config
        ctx.objects["forget_set"] = load_forget_set(config.forget, data_dir=config.data_dir, seed=config.seed)
    return ctx.objects["forget_set"]


def fingerprint(fs: ForgetSet) -> str:
    payload = {name: [asdict(qa) for qa in getattr(fs, name)] for name in FIELDS}
    payload |= {"general": list(fs.general), "entities": list(fs.entities), "name": fs.name}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    return {"forget": ctx.config.forget, "seed": ctx.config.seed, "sha256": fingerprint(forget_set(ctx))}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    fs = forget_set(ctx)
    sizes = {name: len(getattr(fs, name)) for name in FIELDS} | {"general": len(fs.general)}
    ctx.console.print(f"forget set [bold]{fs.name}[/bold]: " + ", ".join(f"{k} {v}" for k, v in sizes.items() if v))
    return {"name": fs.name, "sha256": fingerprint(fs), "sizes": sizes, "entities": list(fs.entities)}


STAGE = Stage("data", "Forget set", _inputs, _run)
