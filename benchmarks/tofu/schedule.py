"""Run the benchmark's stages in dependency order, on one process or on several side by side.

Torch on a small model uses one core well and two badly, so on 2 cores two one-thread workers
finish the four fine-tunings, and the per-split stages after them, in about half the wall time
of one. Each stage is still a cached ``run_stage`` folder: a run with ``--jobs 2`` resumes one
with ``--jobs 1`` and the other way round.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from rich.console import Console

from packager.pipeline.cache import StageRecord

GRACE_S = 30.0  # how long an orphaned worker's stage has to clean up after its interrupt
_orphaned = threading.Event()  # in a worker: its driver is gone


@dataclass(frozen=True)
class Task:
    """Stage ``name`` = ``fn(context, *args, *records of deps)``; ``fn`` must be importable (module level)."""

    name: str
    fn: Callable[..., StageRecord]
    args: tuple[Any, ...] = ()
    deps: tuple[str, ...] = ()


def _check(tasks: Sequence[Task]) -> None:
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate stage names in {names}")
    seen: set[str] = set()
    for task in tasks:
        missing = [d for d in task.deps if d not in seen]
        if missing:
            raise ValueError(f"stage `{task.name}` needs {missing}, which do not come before it")
        seen.add(task.name)


def _call(task: Task, context: Any, records: dict[str, StageRecord]) -> StageRecord:
    return task.fn(context, *task.args, *(records[d] for d in task.deps))


def _end_with(driver: int) -> None:
    """A worker's initializer: stop once the driver is gone. A driver stopped by SIGTERM (``kill``,
    ``pkill``) dies without shutting its pool down, and its workers would go on fine-tuning for an
    hour, orphaned, on the cores the next run needs. The stage is interrupted as by Ctrl-C, so its
    half-written folder is removed; a stage that does not stop within ``GRACE_S`` is ended outright.
    SIGINT gets Python's own handler first: a driver started in the background (``nohup ... &``)
    passes on SIGINT ignored, and the interrupt would be lost."""
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(1.0)
        _orphaned.set()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-driver", daemon=True).start()


def _worker_call(task: Task, make_context: Callable[[Console], Any], threads: int,
                 records: dict[str, StageRecord]) -> StageRecord:
    """In a worker process: cap torch's threads, then run the stage with a context of its own."""
    os.environ.setdefault("ECO_PACK_THREADS", str(threads))
    try:
        return _call(task, make_context(Console(stderr=True)), records)
    except KeyboardInterrupt:
        if _orphaned.is_set():  # the stage has cleaned up, and there is no driver to report to
            os._exit(1)
        raise


def run_tasks(
    tasks: Sequence[Task], make_context: Callable[[Console], Any], jobs: int = 1, console: Console | None = None,
) -> dict[str, StageRecord]:
    """Run ``tasks`` (listed in a dependency order, most urgent first) and return their records by name.

    With ``jobs`` > 1, up to ``jobs`` stages run at once in spawned worker processes, each with an
    equal share of the cores as torch threads (unless ``ECO_PACK_THREADS`` says otherwise); a stage
    starts as soon as the stages it reads have finished. ``make_context`` builds a stage's
    context from a console, in whichever process runs it, so it must be picklable for ``jobs`` > 1.
    """
    _check(tasks)
    console = console or Console(stderr=True)
    records: dict[str, StageRecord] = {}
    if jobs == 1:
        context = make_context(console)
        for task in tasks:
            records[task.name] = _call(task, context, records)
        return records
    threads = max(1, len(os.sched_getaffinity(0)) // jobs)
    pending = list(tasks)
    running: dict[Future[StageRecord], str] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_end_with,
                             initargs=(os.getpid(),)) as pool:
        while pending or running:
            ready = [t for t in pending if all(d in records for d in t.deps)]
            for task in ready[: jobs - len(running)]:
                pending.remove(task)
                inputs = {d: records[d] for d in task.deps}
                running[pool.submit(_worker_call, task, make_context, threads, inputs)] = task.name
                console.print(f"[dim]{task.name}: started ({len(running)} of {jobs} workers busy)[/dim]")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                records[name] = future.result()  # a failed stage raises; stages already running finish
    return {t.name: records[t.name] for t in tasks}
