"""Typed build stages: each takes one frozen inputs object and returns one frozen result.

A ``Stage`` names its result type and the modules its work runs (``code``). ``Runner.run``
keys the stage by its inputs and that code (``cache.run_stage``), so a resumed build reuses a
stage only when nothing it depends on changed, and reads the result back as its type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from rich.console import Console

from packager.pipeline.cache import run_stage
from packager.pipeline.typed import StageResult, load_result, to_jsonable

I = TypeVar("I")  # noqa: E741  (a stage's inputs)
R = TypeVar("R", bound=StageResult)


@dataclass(frozen=True)
class Stage(Generic[I, R]):
    """``run(inputs, out, session)`` does the work in ``out`` (the stage's own folder) and returns ``R``."""

    name: str
    title: str
    result: type[R]
    run: Callable[[I, Path, Any], R]
    code: tuple[str, ...]  # modules (or packages) whose source is part of the stage's key


@dataclass
class Runner:
    """Runs stages in order under ``work_dir`` and keeps their timings for ``build.json``."""

    work_dir: Path
    console: Console
    session: Any  # what stages may load (``Session``): the forget set, models; never data between stages
    total: int
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)

    def run(self, stage: Stage[I, R], inputs: I) -> R:
        index = len(self.seconds) + 1
        record = run_stage(
            self.work_dir,
            stage.name,
            to_jsonable(inputs),
            lambda out: to_jsonable(stage.run(inputs, out, self.session)),
            self.console,
            code=stage.code,
            title=f"[{index}/{self.total}] {stage.title}",
            keep_others=False,
        )
        self.seconds[stage.name] = record.seconds
        if record.cached:
            self.cached.append(stage.name)
        return load_result(stage.result, record.result, record.path)
