"""Stages whose output is cached under the work folder, keyed by their inputs, so a rerun resumes.

A stage's folder is ``WORK/<name>/<key>/``; ``key`` hashes the stage name and its JSON-able
inputs (which include the keys of the stages it reads from). The folder is written through
``atomic_directory``, so an interrupted stage never looks done, and ``result.json`` holds the
stage's result and how long it took.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from guards.atomic import atomic_directory

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class StageRecord:
    """A finished stage: where its files are, its result, and whether this run computed it."""

    name: str
    key: str
    path: Path
    seconds: float
    cached: bool
    result: dict[str, Any]


def stage_key(name: str, inputs: Mapping[str, Any]) -> str:
    payload = json.dumps({"stage": name, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_stage(
    work: Path, name: str, inputs: Mapping[str, Any], fn: Callable[[Path], dict[str, Any]],
    console: Console | None = None,
) -> StageRecord:
    """Return the cached result of stage ``name`` for ``inputs``, or run ``fn(folder)`` and cache it."""
    console = console or Console(stderr=True)
    key = stage_key(name, inputs)
    folder = Path(work) / name / key
    done = folder / RESULT_FILE
    if done.is_file():
        record = json.loads(done.read_text())
        console.print(f"[dim]{name}: cached ({record['seconds']:.1f}s when run)[/dim]")
        return StageRecord(name, key, folder, record["seconds"], True, record["result"])
    console.rule(name)
    start = time.perf_counter()
    with atomic_directory(folder, overwrite=True) as tmp:
        result = fn(tmp)
        seconds = time.perf_counter() - start
        record = {"stage": name, "key": key, "inputs": inputs, "seconds": seconds, "result": result}
        (tmp / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
    console.print(f"[green]{name}: done in {seconds:.1f}s[/green]")
    return StageRecord(name, key, folder, seconds, False, result)
