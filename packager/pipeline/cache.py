"""The one stage-cache engine behind ``eco-pack build`` and the TOFU benchmark: a rerun resumes.

A stage's folder is ``WORK/<name>/<key>/``. ``key`` hashes the stage's name, its declared inputs
(JSON-able; typed inputs pass through ``typed.to_jsonable``, so an upstream stage's result, and
with it that stage's key, is part of them) and the source of the modules the stage runs
(``code``), so editing the classifier's training rebuilds the classifier and what follows, and
editing the model card rebuilds only the card. The folder is written through
``atomic_directory``: an interrupted stage never looks done. ``result.json`` holds the result,
the inputs and how long the stage took.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
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


@cache
def code_fingerprint(modules: tuple[str, ...]) -> str:
    """sha256 over the source files of ``modules`` (a package counts with all its submodules)."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"stage code `{name}` is not an importable module")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for file in files:
            digest.update(f"{name}:{file.relative_to(origin.parent)}\n".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def stage_key(name: str, inputs: Mapping[str, Any], code: Sequence[str] = ()) -> str:
    payload = {"stage": name, "inputs": inputs, "code": code_fingerprint(tuple(code)) if code else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_stage(
    work: Path,
    name: str,
    inputs: Mapping[str, Any],
    fn: Callable[[Path], dict[str, Any]],
    console: Console | None = None,
    *,
    code: Sequence[str] = (),
    title: str | None = None,
    keep_others: bool = True,
) -> StageRecord:
    """The cached result of stage ``name`` for ``inputs`` and ``code``, or run ``fn(folder)`` and cache it.

    ``keep_others=False`` removes the folders of the stage's other keys once this one is done (a
    build keeps one result per stage; the benchmark keeps every configuration it has run).
    """
    console = console or Console(stderr=True)
    label = title or name
    key = stage_key(name, inputs, code)
    folder = Path(work) / name / key
    done = folder / RESULT_FILE
    if done.is_file():
        record = json.loads(done.read_text())
        console.print(f"[dim]{label}: cached ({record['seconds']:.1f}s when run)[/dim]")
        return StageRecord(name, key, folder, record["seconds"], True, record["result"])
    console.rule(label)
    start = time.perf_counter()
    with atomic_directory(folder, overwrite=True) as tmp:
        result = fn(tmp)
        seconds = time.perf_counter() - start
        record = {"stage": name, "key": key, "inputs": inputs, "seconds": seconds, "result": result}
        (tmp / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
    if not keep_others:
        for other in folder.parent.iterdir():
            if other != folder and other.is_dir() and not other.name.startswith("."):
                shutil.rmtree(other, ignore_errors=True)
    console.print(f"[green]{label}: done in {seconds:.1f}s[/green]")
    return StageRecord(name, key, folder, seconds, False, result)
