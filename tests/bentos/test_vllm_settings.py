"""`--engine vllm` settings: vLLM stays on loopback, and bad values fail before any server starts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from bentos.launch import free_port, is_bentoml_server, server_command
from bentos.settings import ServingSettings
from bentos.vllm_process import check_loopback, start_vllm, vllm_argv
from guards.errors import GuardConfigError
from tests.bentos.conftest import group_ends


@pytest.mark.parametrize("url", ["http://0.0.0.0:8000", "http://10.0.0.5:8000", "https://127.0.0.1:8000",
                                 "http://vllm.default.svc:8000", "http://127.0.0.1"])
def test_a_vllm_url_off_loopback_is_refused(url):
    with pytest.raises(GuardConfigError, match="never listen where clients can reach it"):
        check_loopback(url)


def test_loopback_urls_are_taken():
    assert check_loopback("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_loopback("http://localhost:9") == "http://localhost:9"


def test_vllm_is_started_on_loopback_with_prompt_embeds():
    argv = vllm_argv("/venv/bin/python", "/artifact/base", 8123, dtype="bf16", extra=["--max-model-len", "4096"])
    assert argv[:3] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "8123"
    assert "--enable-prompt-embeds" in argv and argv[argv.index("--dtype") + 1] == "bfloat16"
    assert argv[-2:] == ["--max-model-len", "4096"]
    for extra in (["--host", "0.0.0.0"], ["--host=0.0.0.0"], ["--port", "80"], ["--model", "other"]):
        with pytest.raises(GuardConfigError, match="may not set"):
            vllm_argv("python", "/m", 1, extra=extra)


def test_settings_check_the_engine_and_its_url(monkeypatch):
    monkeypatch.setenv("ECO_ENGINE", "tensorrt")
    with pytest.raises(GuardConfigError, match="`ECO_ENGINE` is 'tensorrt'; valid: hf, vllm"):
        ServingSettings.from_env()
    monkeypatch.setenv("ECO_ENGINE", "vllm")
    monkeypatch.setenv("ECO_VLLM_URL", "http://0.0.0.0:8000")
    with pytest.raises(GuardConfigError, match="ECO_VLLM_URL"):
        ServingSettings.from_env()
    monkeypatch.setenv("ECO_VLLM_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("ECO_VLLM_ARGS", "--max-model-len 2048 --enforce-eager")
    settings = ServingSettings.from_env()
    assert (settings.engine, settings.vllm_url) == ("vllm", "http://127.0.0.1:8000")
    assert settings.vllm_args == ("--max-model-len", "2048", "--enforce-eager")


def test_serve_checks_vllm_options_before_starting(tiny_artifact, tmp_path):
    from packager.cli import cli

    with pytest.raises(GuardConfigError, match="ECO_VLLM_PYTHON"):
        server_command(tiny_artifact.path, engine="vllm", vllm_python=str(tmp_path / "missing" / "python"))
    # this environment's python has no vllm (its pins clash with ours): refused before a server starts
    with pytest.raises(GuardConfigError, match=r"not set, and this python .* cannot import vllm.*vllm_env"):
        server_command(tiny_artifact.path, engine="vllm")
    for not_python in ("/bin/false", "/bin/true"):  # neither answers the probe, whatever its exit code
        with pytest.raises(GuardConfigError, match=rf"`ECO_VLLM_PYTHON` is '{not_python}'.*cannot import vllm"):
            server_command(tiny_artifact.path, engine="vllm", vllm_python=not_python)
    _, env = server_command(tiny_artifact.path, engine="vllm", vllm_url="http://127.0.0.1:8001")
    assert (env["ECO_ENGINE"], env["ECO_VLLM_URL"]) == ("vllm", "http://127.0.0.1:8001")
    result = CliRunner().invoke(cli, ["serve", str(tiny_artifact.path), "--vllm-url", "http://127.0.0.1:8001"])
    assert result.exit_code == 2 and "need --engine vllm" in result.output


@dataclass
class _Launch:
    """`eco-pack serve --engine vllm` against a vLLM URL where nothing listens, so the front waits."""

    launcher: subprocess.Popen
    server: int  # the pid of the `bentoml serve` it started, the leader of its own process group
    log: Path
    nobody: str

    def text(self) -> str:
        return self.log.read_text()

    def wait_for_the_front(self) -> None:
        deadline = time.monotonic() + 120
        while f"waiting for vLLM at {self.nobody}" not in self.text() and time.monotonic() < deadline:
            assert self.launcher.poll() is None, self.text()[-2000:]
            time.sleep(0.2)
        assert "nothing is started here" in self.text()  # the guard's own INFO lines show


def _servers_of(launcher: int) -> list[int]:
    """The `bentoml serve` children of ``launcher`` (it may run others first: fc-list, when matplotlib
    builds its font cache on a fresh machine)."""
    servers = []
    try:
        children = psutil.Process(launcher).children()
    except psutil.NoSuchProcess:
        return []  # the launcher has ended: the caller reads why from its log
    for child in children:
        with contextlib.suppress(psutil.Error):
            if is_bentoml_server(child.cmdline()):  # as bentos.service tells its parent
                servers.append(child.pid)
    return servers


@contextlib.contextmanager
def _launched(artifact: Path, tmp_path: Path, start_timeout_s: int) -> Iterator[_Launch]:
    """The launcher in a process group of its own, its output in a log; both groups killed at the end."""
    eco_pack = Path(sys.executable).parent / "eco-pack"
    log, nobody = tmp_path / "server.log", f"http://127.0.0.1:{free_port()}"
    with open(log, "wb") as out:
        launcher = subprocess.Popen([str(eco_pack), "serve", str(artifact), "--engine", "vllm", "--vllm-url", nobody,
                                     "--port", str(free_port())], stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env={**os.environ, "ECO_DTYPE": "float32",
                                                                 "ECO_VLLM_START_TIMEOUT": str(start_timeout_s)})
    groups = [launcher.pid]
    try:
        deadline = time.monotonic() + 120
        while not (servers := _servers_of(launcher.pid)) and time.monotonic() < deadline:
            assert launcher.poll() is None, log.read_text()[-2000:]
            time.sleep(0.1)
        assert len(servers) == 1, servers
        server = servers[0]
        groups.append(server)
        assert os.getpgid(server) == server  # a group of its own: Ctrl-C reaches it once, from the launcher
        yield _Launch(launcher, server, log, nobody)
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_a_stop_while_the_front_waits_for_vllm_ends_the_whole_server(tiny_artifact, tmp_path):
    """`eco-pack serve` passes SIGTERM on to the server; the worker, blocked in its start-up waiting
    for a vLLM that never answers, stops at once instead of after ECO_VLLM_START_TIMEOUT, and the
    launcher exits 0 (a requested stop)."""
    with _launched(tiny_artifact.path, tmp_path, start_timeout_s=600) as run:
        run.wait_for_the_front()
        os.kill(run.launcher.pid, signal.SIGTERM)
        assert run.launcher.wait(timeout=60) == 0, run.text()[-2000:]
        assert group_ends(run.server), run.text()[-2000:]  # no worker left behind
        assert "stopped by SIGTERM while waiting for vLLM" in run.text()


def test_a_launcher_killed_outright_takes_its_server_with_it(tiny_artifact, tmp_path):
    """SIGKILL cannot be passed on: the kernel sends the server SIGTERM when its launcher dies."""
    with _launched(tiny_artifact.path, tmp_path, start_timeout_s=600) as run:
        run.wait_for_the_front()
        run.launcher.kill()
        run.launcher.wait(timeout=10)
        assert group_ends(run.server, timeout_s=60), run.text()[-2000:]
        assert "stopped by SIGTERM while waiting for vLLM" in run.text()


def test_a_failed_start_up_stops_the_server_and_the_launcher_exits_1(tiny_artifact, tmp_path):
    """A vLLM that never answers within ECO_VLLM_START_TIMEOUT fails the worker's start-up; BentoML would
    restart the worker every few seconds, forever, each time waiting again. The server stops instead,
    the error its last word, and `eco-pack serve` exits 1 with the cause (BentoML's server exits 0)."""
    with _launched(tiny_artifact.path, tmp_path, start_timeout_s=2) as run:
        assert run.launcher.wait(timeout=120) == 1, run.text()[-2000:]
        assert group_ends(run.server), run.text()[-2000:]  # no worker left behind
        text = run.text()
        assert text.count("start-up failed, so the server stops") == 1, text[-3000:]  # never restarted
        assert text.count(f"waiting for vLLM at {run.nobody} to answer") == 1
        assert "ECO_VLLM_START_TIMEOUT" in text.split("start-up failed", 1)[1]  # the cause, with its setting
        last = text.rstrip().splitlines()[-2:]  # the launcher's own last word: the cause
        assert last[0].startswith("Error: the server's start-up failed, so it stopped: TimeoutError: vLLM"), last
        assert "ECO_VLLM_START_TIMEOUT" in last[1]


def test_a_vllm_started_here_prints_no_progress_bars_unless_the_operator_wants_them(tmp_path, monkeypatch):
    bar = [sys.executable, "-c", "from tqdm import tqdm\nfor _ in tqdm(range(3), desc='loading weights'): pass\n"
                                 "import os; print('hub bars off:', os.environ['HF_HUB_DISABLE_PROGRESS_BARS'])"]
    quiet = start_vllm(bar, tmp_path / "quiet.log")
    assert quiet.wait(60) == 0
    assert (tmp_path / "quiet.log").read_text() == "hub bars off: 1\n"  # a line, no carriage-return bar
    monkeypatch.setenv("TQDM_DISABLE", "")  # an operator's own setting wins (tqdm reads any other value as true)
    shown = start_vllm(bar, tmp_path / "shown.log")
    assert shown.wait(60) == 0 and "loading weights" in (tmp_path / "shown.log").read_text()
