"""The TOFU benchmark's stage scheduler: dependency order, stages side by side, resume, errors."""

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from benchmarks.tofu.config import BenchConfig
from benchmarks.tofu.driver import plan
from benchmarks.tofu.schedule import Task, run_tasks
from packager.pipeline.cache import StageRecord, run_stage


def _context(work: Path, console) -> tuple[Path, object]:
    return work, console


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} never appeared: the other stage did not run alongside")
        time.sleep(0.05)


def meet(context, me: str, other: str) -> StageRecord:
    """Finishes only if stage ``other`` runs at the same time: each waits for the other's flag."""
    work, console = context

    def run(out: Path) -> dict:
        (work / f"{me}.flag").touch()
        _wait_for(work / f"{other}.flag")
        return {"pid": os.getpid(), "value": len(me)}

    return run_stage(work, me, {}, run, console)


def total(context, *upstream: StageRecord) -> StageRecord:
    work, console = context
    return run_stage(work, "total", {"from": [r.key for r in upstream]},
                     lambda out: {"value": sum(r.result["value"] for r in upstream), "pid": os.getpid()}, console)


def fail(context) -> StageRecord:
    work, console = context

    def run(out: Path) -> dict:
        raise RuntimeError("stage broke")

    return run_stage(work, "fail", {}, run, console)


def linger(context) -> StageRecord:
    """Writes its pid into its half-written folder, then runs until it is stopped."""
    work, console = context

    def run(out: Path) -> dict:
        (out / "pid").write_text(str(os.getpid()))
        while True:
            time.sleep(0.1)

    return run_stage(work, "linger", {}, run, console)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


TASKS = [Task("left", meet, ("left", "right")), Task("right", meet, ("right", "left")),
         Task("total", total, deps=("left", "right"))]


def test_two_jobs_run_independent_stages_side_by_side_then_their_dependant(tmp_path):
    records = run_tasks(TASKS, partial(_context, tmp_path), jobs=2)
    assert list(records) == ["left", "right", "total"]
    assert records["total"].result["value"] == len("left") + len("right")
    assert {r.result["pid"] for r in records.values()}.isdisjoint({os.getpid()})  # worker processes


def test_a_one_job_run_resumes_what_two_jobs_finished(tmp_path):
    first = run_tasks(TASKS, partial(_context, tmp_path), jobs=2)
    again = run_tasks(TASKS, partial(_context, tmp_path), jobs=1)  # would deadlock in `meet` if it re-ran
    assert all(r.cached for r in again.values())
    assert {n: r.key for n, r in again.items()} == {n: r.key for n, r in first.items()}


def test_a_failing_stage_raises_in_the_driver(tmp_path):
    with pytest.raises(RuntimeError, match="stage broke"):
        run_tasks([Task("fail", fail)], partial(_context, tmp_path), jobs=2)
    assert not list(tmp_path.glob("fail/*/result.json"))  # nothing that looks finished


def test_a_dependency_listed_after_its_dependant_is_refused(tmp_path):
    with pytest.raises(ValueError, match="`total` needs"):
        run_tasks(TASKS[::-1], partial(_context, tmp_path), jobs=1)


def test_plan_puts_every_stage_after_what_it_reads():
    tasks = plan(BenchConfig(sweep_sigmas=(1.0, 10.0)))
    position = {t.name: i for i, t in enumerate(tasks)}
    assert all(position[d] < position[t.name] for t in tasks for d in t.deps)
    finetunes = {"finetune-full", "finetune-retain90", "finetune-retain95", "finetune-retain99"}
    assert all(t.deps == ("tokenizer",) for t in tasks if t.name in finetunes)  # all four can train at once
    assert len(tasks) == 2 + 3 + 1 + 3 * (3 + 1 + 2)  # per split: eco, reference, premise; sweep; baselines
    assert not any(t.name.startswith("sweep") for t in plan(BenchConfig(sweep_sigmas=())))


def test_workers_stop_and_clean_up_when_the_driver_is_killed(tmp_path):
    """``kill`` on the driver alone (no Ctrl-C to the whole group): its workers must not run on, orphaned."""
    repo = Path(__file__).resolve().parents[2]
    script = ("import sys; from functools import partial; from pathlib import Path; "
              "from benchmarks.tofu.schedule import Task, run_tasks; "
              "from tests.benchmarks.test_tofu_schedule import _context, linger; "
              "run_tasks([Task('linger', linger)], partial(_context, Path(sys.argv[1])), jobs=2)")
    driver = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=repo, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (pids := list(tmp_path.glob("linger/.*/pid"))):
            assert driver.poll() is None and time.monotonic() < deadline, "the stage never started"
            time.sleep(0.1)
        worker = int(pids[0].read_text())
        driver.send_signal(signal.SIGTERM)
        driver.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the worker ran on after its driver was killed"
        assert not list((tmp_path / "linger").iterdir()), "the interrupted stage left its half-written folder"
    finally:
        os.killpg(driver.pid, signal.SIGKILL) if driver.poll() is None else None
