"""`--engine vllm` settings: vLLM stays on loopback, and bad values fail before any server starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bentos.launch import server_command
from bentos.settings import ServingSettings
from bentos.vllm_process import check_loopback, vllm_argv
from guards.errors import GuardConfigError


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
    with pytest.raises(GuardConfigError, match=r"`ECO_VLLM_PYTHON` is '/bin/false'.*cannot import vllm"):
        server_command(tiny_artifact.path, engine="vllm", vllm_python="/bin/false")
    _, env = server_command(tiny_artifact.path, engine="vllm", vllm_url="http://127.0.0.1:8001")
    assert (env["ECO_ENGINE"], env["ECO_VLLM_URL"]) == ("vllm", "http://127.0.0.1:8001")
    result = CliRunner().invoke(cli, ["serve", str(tiny_artifact.path), "--vllm-url", "http://127.0.0.1:8001"])
    assert result.exit_code == 2 and "need --engine vllm" in result.output
