"""How long ``eco-pack`` takes to start, and what it holds in memory, per command that starts and ends at once.

Every command here does no work of its own (``--help``), so the time is the interpreter plus what the
command imports. (``eco-pack serve``'s running launcher, which lives as long as its server, also checks
the bundle's settings, which imports torch: not measured here.) Each command runs ``--repeats`` times as a
fresh process (``python -m packager.cli ...`` with the checkout first on ``PYTHONPATH``); reported: min,
median and max wall seconds, peak resident memory, and whether torch or transformers were imported.
``--root`` times another checkout of eco-pack with the same interpreter, to compare two revisions.
Writes ``benchmarks/results/cli_startup.json`` (and ``.md``) with the exact command.

    python -m benchmarks.cli_startup
    git worktree add /tmp/before REV && python -m benchmarks.cli_startup --root /tmp/before --out /tmp/before.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.machine import code_revision, describe

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
COMMANDS = (("--help",), ("serve", "--help"), ("deploy", "--help"), ("build", "--help"))
# peak RSS from the process's own memory map (VmHWM): getrusage's also counts the forked parent before exec
PROBE = ("import sys\nsys.argv = ['eco-pack', *sys.argv[1:]]\nfrom packager.cli import main\nmain()\n"
         "peak = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
         "print('PEAK_KB', peak, 'IMPORTED',\n"
         "      *[m for m in ('torch', 'transformers') if m in sys.modules], file=sys.stderr)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the eco-pack checkout to time (default: this one)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_startup.json")
    args = parser.parse_args(argv)
    if not (args.root / "packager" / "cli.py").is_file():
        parser.error(f"--root {args.root} is not an eco-pack checkout (no packager/cli.py)")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _run(root: Path, command: tuple[str, ...]) -> tuple[float, float, list[str]]:
    """(wall seconds, peak resident MB, heavy libraries imported) of one fresh ``eco-pack COMMAND``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *command], cwd=root, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"eco-pack {shlex.join(command)} failed in {root}:\n{done.stderr[-2000:]}")
    _, peak_kb, _, *imported = next(line.split() for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    return seconds, int(peak_kb) / 1024, imported


def measure(root: Path, command: tuple[str, ...], repeats: int) -> dict:
    _run(root, command)  # warm-up: bytecode and the page cache
    runs = [_run(root, command) for _ in range(repeats)]
    seconds = [r[0] for r in runs]
    return {"command": shlex.join(["eco-pack", *command]), "seconds_median": round(statistics.median(seconds), 3),
            "seconds_min": round(min(seconds), 3), "seconds_max": round(max(seconds), 3),
            "peak_rss_mb": round(statistics.median(r[1] for r in runs), 1), "imports": runs[-1][2]}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    result = {
        "command": shlex.join([sys.executable, "-m", "benchmarks.cli_startup", *(argv or [])]),
        "root": str(args.root), "revision": code_revision(args.root), "machine": describe(), "repeats": args.repeats,
        "commands": [measure(args.root, command, args.repeats) for command in COMMANDS],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(result))
    return result


def _markdown(result: dict) -> str:
    rows = [f"| `{c['command']}` | {c['seconds_median']} | {c['seconds_min']}-{c['seconds_max']} | "
            f"{c['peak_rss_mb']} | {', '.join(c['imports']) or 'neither'} |" for c in result["commands"]]
    return "\n".join([
        "# eco-pack start-up (`benchmarks/cli_startup.py`)", "",
        f"Command: `{result['command']}`", "",
        f"Checkout: {result['root']} at {result['revision']}; machine: {result['machine']}; "
        f"{result['repeats']} fresh processes per command after one warm-up.", "",
        "| command | seconds (median) | min-max | peak RSS MB | torch / transformers imported |",
        "|---|---|---|---|---|", *rows, "",
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
