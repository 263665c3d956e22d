"""Start the bento's HTTP server on an artifact: what ``eco-pack serve`` and the tests run."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from guards.bundle import load_bundle
from guards.errors import GuardConfigError
from guards.manifest import MANIFEST, sha256_file, verify_manifest
from guards.prompt_format import PromptFormat

SERVICE = "bentos.service:EcoGuardService"
VERIFIED_ENV = "ECO_ARTIFACT_VERIFIED"  # the sha256 of a manifest whose files the launcher just checked
STARTUP_ERROR_ENV = "ECO_STARTUP_ERROR_FILE"  # where a worker whose start-up failed writes why, for the launcher
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # holds bentos/ and guards/
WAIT_NOTE_S = 30.0  # wait_ready's progress: how often a long wait says it is still waiting


def is_bentoml_server(cmdline: list[str]) -> bool:
    """Whether a process's command line (``psutil.Process.cmdline()``) is ``bentoml serve``'s: the
    script itself, or a python running it."""
    return any(part.endswith("bentoml") for part in cmdline[:2])


def check_artifact(artifact: Path) -> Path:
    """Fail fast, with the file at fault, before a server process is started: every file's sha256
    (once: the bundle and its base weights are covered by the artifact's manifest)."""
    artifact = Path(artifact).resolve()
    verify_manifest(artifact)
    load_bundle(artifact / "guard", hash_files=False)
    return artifact


def server_command(
    artifact: Path,
    host: str = "127.0.0.1",
    port: int = 3000,
    prompt_format: str | None = None,
    *,
    engine: str = "hf",
    vllm_python: str | None = None,
    vllm_url: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment for ``bentoml serve`` of the service on ``artifact``.

    ``engine="vllm"``: the service generates in vLLM, at ``vllm_url`` or in a vLLM server it starts
    on loopback with ``vllm_python`` (the interpreter of vLLM's own environment).
    """
    from bentos.settings import ENGINES
    from bentos.vllm_process import check_loopback, resolve_python

    if engine not in ENGINES:
        raise GuardConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    bentoml = shutil.which("bentoml", path=str(Path(sys.executable).parent)) or shutil.which("bentoml")
    argv = [bentoml or "bentoml", "serve", SERVICE, "--host", host, "--port", str(port),
            "--working-dir", str(SOURCE_ROOT)]
    env = {**os.environ, "ECO_ARTIFACT": str(Path(artifact).resolve()), "BENTOML_DO_NOT_TRACK": "True",
           "ECO_ENGINE": engine}
    if prompt_format is not None:
        PromptFormat.parse(prompt_format)  # a bad value fails here, not in the server
        env["ECO_PROMPT_FORMAT"] = prompt_format
    if engine == "vllm":  # bad values fail here, before a server starts
        if vllm_url is not None:
            env["ECO_VLLM_URL"] = check_loopback(vllm_url)
        else:
            env["ECO_VLLM_PYTHON"] = resolve_python(vllm_python)
    return argv, env


class StartupFailed(RuntimeError):
    """The service's start-up failed (the message says why); BentoML's server itself then exits 0."""


class StopRequested(RuntimeError):
    """A stop signal ended the service's start-up: the stop that was asked for, not a failure."""


def _stop_with_parent() -> None:
    """In the server's process, before it runs: Linux sends it SIGTERM if the launcher dies, even
    killed outright, so no server is left behind without its launcher."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def serve(artifact: Path, host: str = "127.0.0.1", port: int = 3000, prompt_format: str | None = None,
          **engine: str | None) -> int:
    """Run the server until it stops; return its exit status, or raise ``StartupFailed`` with the cause
    when the service's start-up failed. BentoML's server exits 0 even then, so the worker writes
    the cause to ``ECO_STARTUP_ERROR_FILE`` and the exit status comes from here.

    The server runs in a session of its own, and a stop signal sent to this process (Ctrl-C,
    ``kill``, a container's stop) is passed on to it once; SIGHUP becomes SIGTERM (BentoML reloads
    on SIGHUP). ``engine``: ``server_command``'s engine options. The files are hashed once, here;
    the server is handed the verified manifest's sha256 (``ECO_ARTIFACT_VERIFIED``) and hashes only
    the manifest, not the weights, again.
    """
    argv, env = server_command(check_artifact(artifact), host, port, prompt_format, **engine)
    env[VERIFIED_ENV] = sha256_file(Path(artifact).resolve() / MANIFEST)
    with tempfile.TemporaryDirectory(prefix="eco-serve-") as tmp:
        failure = Path(tmp) / "start-up-error"
        env[STARTUP_ERROR_ENV] = str(failure)
        process = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_stop_with_parent)

        def pass_on(signum: int, frame) -> None:
            process.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

        previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            code = process.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure.exists():
            raise StartupFailed(failure.read_text())
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


def free_port() -> int:
    """A port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def responds(url: str, timeout_s: float = 2.0) -> bool:
    """``url`` answers a GET with 200 (a server's health or readiness route)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except OSError:
        return False


def wait_ready(url: str, process: subprocess.Popen | None, log: Path | None, timeout_s: float,
               path: str = "/readyz", on_wait: Callable[[float], None] | None = None) -> None:
    """Poll ``url + path`` until 200; fail with the log's tail (or a pointer to the server's own
    output) if the server exits or times out. ``on_wait(seconds)``, every ``WAIT_NOTE_S`` seconds of
    waiting: progress for a wait that can take minutes (a 7B model loading)."""

    def tail() -> str:
        if log is not None:
            return ":\n" + Path(log).read_text()[-3000:]
        return " (its output is in this process's log)" if process is not None else ""

    started = time.monotonic()
    deadline, next_note = started + timeout_s, started + WAIT_NOTE_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}{tail()}")
        if responds(f"{url}{path}"):
            return
        if on_wait is not None and time.monotonic() >= next_note:
            on_wait(time.monotonic() - started)
            next_note += WAIT_NOTE_S
        time.sleep(0.5)
    raise TimeoutError(f"server at {url} not ready after {timeout_s}s{tail()}")
