"""push/pull against a real SeaweedFS S3 server on 127.0.0.1 (started by the `seaweedfs` fixture)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import guards.remote
from guards import load_bundle
from guards.errors import BundleError, EcoPackError
from guards.manifest import sha256_file, write_manifest
from guards.remote import S3URL, RemoteError
from packager.cli import cli
from packager.distribution import s3 as s3_push
from packager.distribution.artifact import read_artifact
from tests.packager.conftest import S3_KEY, S3_SECRET, assert_no_secrets

PREFIX = "models/guards"


def keys(client, bucket: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def test_round_trip_with_bento_and_no_secret_anywhere(artifact, s3, fake_secrets, tmp_path):
    client, bucket = s3
    bento = tmp_path / "demo-guard.bento"
    bento.write_bytes(os.urandom(4096))
    runner = CliRunner()
    pushed = runner.invoke(cli, ["push", str(artifact), "--to", f"s3://{bucket}/{PREFIX}", "--bento", str(bento)])
    assert pushed.exit_code == 0, pushed.output
    version = f"{PREFIX}/demo-guard/0.1.0"
    stored = keys(client, bucket)
    expected = {f"{version}/{rel}" for rel in read_artifact(artifact).files} | {
        f"{version}/manifest.json", f"{version}/bento/demo-guard.bento", f"{PREFIX}/demo-guard/latest"}
    assert stored == expected
    pointer = json.loads(client.get_object(Bucket=bucket, Key=f"{PREFIX}/demo-guard/latest")["Body"].read())
    assert pointer["version"] == "0.1.0"

    dest = tmp_path / "pulled"
    pulled = runner.invoke(cli, ["pull", f"s3://{bucket}/{PREFIX}/demo-guard", "--dest", str(dest)])
    assert pulled.exit_code == 0, pulled.output
    for rel in read_artifact(artifact).files:
        assert sha256_file(dest / rel) == sha256_file(artifact / rel), rel
    assert sha256_file(dest / "bento" / "demo-guard.bento") == sha256_file(bento)
    assert load_bundle(dest / "guard").config.name == "demo-guard"

    mirror = tmp_path / "bucket-contents"
    for key in stored:
        (mirror / key).parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(mirror / key))
    assert_no_secrets([*fake_secrets.values(), S3_KEY, S3_SECRET], dest, mirror, pushed.output, pulled.output)


def test_large_file_goes_multipart(artifact, s3, tmp_path):
    client, bucket = s3
    bento = tmp_path / "big.bento"
    bento.write_bytes(os.urandom(9 * s3_push.MiB))
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX), bento=bento, multipart_threshold=5 * s3_push.MiB)
    head = client.head_object(Bucket=bucket, Key=f"{PREFIX}/demo-guard/0.1.0/bento/big.bento")
    assert head["ETag"].strip('"').endswith("-2")  # S3 ETags of multipart objects end in -<parts>
    pulled = guards.remote.fetch(f"s3://{bucket}/{PREFIX}/demo-guard/0.1.0", tmp_path / "pulled")
    assert sha256_file(pulled / "bento" / "big.bento") == sha256_file(bento)


def test_interrupted_upload_leaves_no_visible_version(artifact, s3, monkeypatch, tmp_path):
    client, bucket = s3
    real_upload, calls = s3_push._upload, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise ConnectionError("network dropped mid-upload")
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(s3_push, "_upload", flaky)
    with pytest.raises(ConnectionError):
        s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    stored = keys(client, bucket)
    assert not any(key.endswith(("manifest.json", "/latest")) for key in stored)
    with pytest.raises(RemoteError, match="no published version"):
        guards.remote.fetch(f"s3://{bucket}/{PREFIX}/demo-guard", tmp_path / "pulled")
    assert not (tmp_path / "pulled").exists()

    monkeypatch.setattr(s3_push, "_upload", real_upload)  # a retry after the failure publishes normally
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    assert f"{PREFIX}/demo-guard/0.1.0/manifest.json" in keys(client, bucket)


def test_existing_version_is_never_overwritten(artifact, s3):
    client, bucket = s3
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    manifest_key = f"{PREFIX}/demo-guard/0.1.0/manifest.json"
    before = client.head_object(Bucket=bucket, Key=manifest_key)["ETag"]
    (artifact / "results.json").write_text('{"sigma": 2.0}\n')
    write_manifest(artifact)
    result = CliRunner().invoke(cli, ["push", str(artifact), "--to", f"s3://{bucket}/{PREFIX}"])
    assert result.exit_code != 0
    assert isinstance(result.exception, EcoPackError) and "never overwritten" in str(result.exception)
    assert client.head_object(Bucket=bucket, Key=manifest_key)["ETag"] == before


def test_latest_follows_new_versions_and_old_ones_stay_pullable(artifact, s3, tmp_path):
    _, bucket = s3
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    (artifact / "build.json").write_text('{"name": "demo-guard", "version": "0.2.0"}\n')
    write_manifest(artifact)
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    latest = guards.remote.fetch(f"s3://{bucket}/{PREFIX}/demo-guard/latest", tmp_path / "latest")
    old = guards.remote.fetch(f"s3://{bucket}/{PREFIX}/demo-guard/0.1.0", tmp_path / "old")
    assert json.loads((latest / "build.json").read_text())["version"] == "0.2.0"
    assert json.loads((old / "build.json").read_text())["version"] == "0.1.0"


def test_tampered_object_is_retried_then_refused(artifact, s3, monkeypatch, tmp_path):
    client, bucket = s3
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    key = f"{PREFIX}/demo-guard/0.1.0/guard/eco_guard.json"
    original = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=original.replace(b'"threshold"', b'"threshold" '))
    checks = []
    real_verify = guards.remote.verify_manifest
    monkeypatch.setattr(guards.remote, "verify_manifest", lambda root: checks.append(root) or real_verify(root))

    dest = tmp_path / "out" / "pulled"
    result = CliRunner().invoke(cli, ["pull", f"s3://{bucket}/{PREFIX}/demo-guard/0.1.0", "--dest", str(dest),
                                      "--attempts", "2"])
    assert result.exit_code != 0
    assert isinstance(result.exception, BundleError)
    assert "still corrupt after 2 download attempts" in str(result.exception)
    assert "eco_guard.json" in str(result.exception)
    assert len(checks) == 2
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no half-written temp folder left beside it either


def test_tampered_manifest_behind_latest_is_refused(artifact, s3, tmp_path):
    client, bucket = s3
    s3_push.push_to_s3(read_artifact(artifact), S3URL(bucket, PREFIX))
    key = f"{PREFIX}/demo-guard/0.1.0/manifest.json"
    data = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data["files"].pop("results.json")  # a consistent-looking manifest that drops a file
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(data).encode())
    with pytest.raises(BundleError, match="pointer recorded"):
        guards.remote.fetch(f"s3://{bucket}/{PREFIX}/demo-guard", tmp_path / "pulled", attempts=1)


def test_bad_credentials_fail_without_echoing_them(artifact, s3, monkeypatch, tmp_path: Path):
    _, bucket = s3
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123")
    result = CliRunner().invoke(cli, ["push", str(artifact), "--to", f"s3://{bucket}/{PREFIX}"])
    assert result.exit_code != 0
    assert_no_secrets(["wrong-secret-value-123"], result.output, str(result.exception))
