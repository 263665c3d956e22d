"""The machine and the code a timing comes from: CPU timings of the same code differ by several times
between CPUs (bfloat16 is native only with AVX512-BF16 or AMX), so every timed result names its machine,
and a result that compares revisions names the commit it measured."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def describe() -> str:
    """"AMD EPYC, AVX2, 2 cores, load 0.4": the CPU's model name, the vector instructions torch uses
    on it, the cores this process sees, and the 1-minute load average at this call (other work on
    the machine moves its timings by several times)."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return f"{name or platform.processor() or 'unknown CPU'}, {torch.backends.cpu.get_cpu_capability()}, " \
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"  # fmt: skip


def code_revision(root: Path) -> str:
    """"commit abc1234" (with " with local changes" when the checkout at ``root`` differs from it), so a
    figure says which code it measured; a copy without git history, as on the GPU machine, says so."""
    def git(*command: str) -> str:
        return subprocess.run(["git", "-C", str(root), *command], capture_output=True, text=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
    except OSError:
        head = ""
    if not head:
        return "not a git checkout (the commit copied is not recorded)"
    return f"commit {head}" + (" with local changes" if git("status", "--porcelain") else "")
