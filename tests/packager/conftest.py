"""Fixtures for the distribution tests: a minimal artifact, a real SeaweedFS S3 server, fake secrets."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import build_tiny_artifact, stop_process

WEED = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "weed"
S3_KEY, S3_SECRET = "ecopack-test-key", "ecopack-test-secret-9f3b"
FAKE_SECRETS = {
    "HF_TOKEN": "hf_FAKEtokenNeverWritten0123456789",
    "BENTO_CLOUD_API_KEY": "FAKEbentoKeyNeverWritten77",
}


@pytest.fixture(scope="session")
def artifact_template(tmp_path_factory, tiny_tokenizer) -> Path:
    """dist/demo-guard-0.1.0 in the artifact layout: base/, guard/, card, build.json, results.json, manifest."""
    from guards.manifest import write_manifest

    root = build_tiny_artifact(tmp_path_factory.mktemp("dist") / "demo-guard-0.1.0", tiny_tokenizer, "demo-guard").path
    (root / "build.json").write_text('{"name": "demo-guard", "version": "0.1.0"}\n')
    (root / "results.json").write_text('{"sigma": 1.0}\n')
    write_manifest(root)
    return root


@pytest.fixture
def artifact(artifact_template, tmp_path) -> Path:
    """A private copy per test, so a test may tamper with it."""
    return Path(shutil.copytree(artifact_template, tmp_path / "dist" / artifact_template.name))


@pytest.fixture
def fake_secrets(monkeypatch) -> dict[str, str]:
    """Secret-looking values in the environment; tests grep every written file for them."""
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    return dict(FAKE_SECRETS)


def assert_no_secrets(secrets: list[str], *places: Path | str) -> None:
    """Fail if any secret value occurs in any file under the given folders or in the given text."""
    for place in places:
        if isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            for file in files:
                data = file.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in data, f"secret leaked into {file}"
        else:
            for secret in secrets:
                assert secret not in place, "secret leaked into captured output"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real SeaweedFS (`weed mini`) on 127.0.0.1 with static credentials; yields its S3 endpoint."""
    data = tmp_path_factory.mktemp("seaweedfs")
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    cmd = [str(WEED), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           *(f"-{name}.port={port}" for name, port in ports.items()),
           "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
           "-master.telemetry=false"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    log = open(data / "weed.log", "w")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_ready(endpoint, proc, data / "weed.log")
        yield endpoint
    finally:
        stop_process(proc, timeout=15)
        log.close()


def _client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                               retries={"max_attempts": 1}))


def _wait_ready(endpoint: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    client = _client(endpoint)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited early:\n{log.read_text()[-2000:]}")
        try:
            client.list_buckets()
            return
        except Exception:
            time.sleep(0.25)
    raise RuntimeError(f"SeaweedFS not ready after {timeout}s:\n{log.read_text()[-2000:]}")


@pytest.fixture
def s3(seaweedfs, monkeypatch, request):
    """Credentials in the env (boto3's standard chain) and a fresh bucket per test; yields (client, bucket)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweedfs)
    client = _client(seaweedfs)
    bucket = "eco-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    client.create_bucket(Bucket=bucket)
    return client, bucket
