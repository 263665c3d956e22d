"""`eco-pack serve` refuses an altered artifact before starting anything."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bentos.launch import SERVICE, free_port, server_command, wait_ready
from guards.errors import BundleError
from packager.cli import cli


def test_serve_help_shows_the_default_host():
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output


def test_serve_refuses_a_tampered_artifact(tiny_artifact, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(tiny_artifact.path, copy)
    (copy / "README.md").write_text("changed\n")
    result = CliRunner().invoke(cli, ["serve", str(copy), "--port", "3999"])
    assert isinstance(result.exception, BundleError)
    assert "README.md" in str(result.exception)


def test_server_command_points_the_service_at_the_artifact(tiny_artifact):
    argv, env = server_command(tiny_artifact.path, port=4321)
    assert SERVICE in argv and argv[argv.index("--host") + 1] == "127.0.0.1" and "4321" in argv
    assert env["ECO_ARTIFACT"] == str(tiny_artifact.path.resolve())


def test_a_failed_wait_says_where_the_servers_output_is(tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TimeoutError) as waited:  # nothing started here: no output to point at
        wait_ready(nobody, None, None, 0.3)
    assert str(waited.value) == f"server at {nobody} not ready after 0.3s"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "print('no such model')"], stdout=out)
    process.wait()
    with pytest.raises(RuntimeError, match="server exited with 0:\nno such model"):  # the tail of its log
        wait_ready(nobody, process, log, 5)
    with pytest.raises(RuntimeError, match=r"exited with 0 \(its output is in this process's log\)$"):
        wait_ready(nobody, process, None, 5)

