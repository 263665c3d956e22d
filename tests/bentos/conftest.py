"""A minimal built artifact (tiny Llama + tiny BERT guard) and the real server running on it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TinyArtifact, build_tiny_artifact, stop_process

READY_TIMEOUT_S = 90


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, tiny_tokenizer) -> TinyArtifact:
    return build_tiny_artifact(tmp_path_factory.mktemp("dist") / "tiny-0.1.0", tiny_tokenizer)


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    artifact: TinyArtifact


@pytest.fixture(scope="session")
def server_process(tiny_artifact, tmp_path_factory):
    """The real bento server on loopback (guard decision exposed for the tests), not yet waited for."""
    from bentos.launch import free_port, server_command

    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    argv, env = server_command(tiny_artifact.path, "127.0.0.1", port)
    env.update(HOME=str(home), BENTOML_HOME=str(home / "bentoml"), HF_HUB_OFFLINE="1",
               ECO_EXPOSE_DECISION="1", ECO_MAX_TOKENS="64", BENTOML_DISABLE_GPU_ALLOCATION="1")
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield Server(f"http://127.0.0.1:{port}", log, tiny_artifact), process
    finally:
        stop_process(process)


@pytest.fixture(scope="session", autouse=True)
def _boot_server_early(request):
    """Start booting the server before the in-process tests run: both spend ~20 s importing."""
    if any("server" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("server_process")


@pytest.fixture(scope="session")
def server(server_process) -> Server:
    from bentos.launch import wait_ready

    info, process = server_process
    wait_ready(info.url, process, info.log, READY_TIMEOUT_S)
    return info
