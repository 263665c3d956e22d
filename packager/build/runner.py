"""Runs pipeline stages with caching, timing and progress; the mechanism behind resumable builds.

A stage's key hashes its own inputs and the key of the stage before it. A stage whose folder
holds a ``result.json`` with the same key is skipped. A stage writes into a temporary folder that
is renamed into place only when it finishes, so a crash or Ctrl-C never leaves a stage that looks
done.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from guards.atomic import atomic_directory

RESULT_FILE = "result.json"


class StageFn(Protocol):
    def __call__(self, ctx: BuildContext, out: Path) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Stage:
    """``inputs(ctx)`` lists what the stage's output depends on (JSON-able); ``run`` does the work."""

    name: str
    title: str
    inputs: Callable[[BuildContext], Mapping[str, Any]]
    run: StageFn


@dataclass
class BuildContext:
    """What stages share: the config, the work folder, earlier stages' results and timings."""

    config: Any
    work_dir: Path
    console: Console
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)

    def stage_dir(self, name: str) -> Path:
        return self.work_dir / name


def stage_key(name: str, inputs: Mapping[str, Any], previous: str) -> str:
    payload = json.dumps({"stage": name, "inputs": inputs, "previous": previous}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_stages(stages: list[Stage], ctx: BuildContext) -> BuildContext:
    previous = ""
    for index, stage in enumerate(stages, start=1):
        key = stage_key(stage.name, stage.inputs(ctx), previous)
        folder = ctx.stage_dir(stage.name)
        done = folder / RESULT_FILE
        label = f"[{index}/{len(stages)}] {stage.title}"
        if done.is_file() and json.loads(done.read_text()).get("key") == key:
            record = json.loads(done.read_text())
            ctx.cached.append(stage.name)
            ctx.console.print(f"[dim]{label}: cached ({record['seconds']:.1f}s when built)[/dim]")
        else:
            ctx.console.rule(label)
            start = time.perf_counter()
            with atomic_directory(folder, overwrite=True) as tmp:
                result = stage.run(ctx, tmp)
                record = {"key": key, "seconds": time.perf_counter() - start, "result": result}
                (tmp / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
            ctx.console.print(f"[green]{label}: done in {record['seconds']:.1f}s[/green]")
        ctx.results[stage.name] = record["result"]
        ctx.seconds[stage.name] = record["seconds"]
        previous = key
    return ctx
