"""guards.remote: URL parsing, the light-import promise, and runtime loading with a verifying cache."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from guards.errors import BundleError
from guards.remote import S3URL, HubURL, RemoteError, load_remote, load_remote_bundle, parse_url
from tests.packager import conftest as packager_fixtures

# The S3 fixtures live with the distribution tests; reuse them here rather than start a second copy.
artifact_template, artifact = packager_fixtures.artifact_template, packager_fixtures.artifact
seaweedfs, s3 = packager_fixtures.seaweedfs, packager_fixtures.s3


def test_importing_guards_never_imports_boto3():
    code = "import sys, guards, guards.remote; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(("url", "expected"), [
    ("hf://acme/guard", HubURL("acme/guard")),
    ("hf://acme/guard@v1.2", HubURL("acme/guard", "v1.2")),
    ("s3://bucket", S3URL("bucket", "")),
    ("s3://bucket/models/guards/", S3URL("bucket", "models/guards")),
])
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["hf://guard", "hf://a/b/c", "hf://acme/guard@", "s3://", "gs://b/p", "./dist"])
def test_parse_url_rejects_and_names_the_forms(url):
    with pytest.raises(RemoteError, match="hf://|s3://"):
        parse_url(url)


def test_s3_key_join():
    assert S3URL("b", "models/").join("demo", "0.1.0", "manifest.json") == "models/demo/0.1.0/manifest.json"
    assert S3URL("b", "").join("demo", "latest") == "demo/latest"


def test_runtime_loads_from_s3_through_a_verifying_cache(artifact, s3, tmp_path):
    from packager.distribution.artifact import read_artifact
    from packager.distribution.s3 import push_to_s3

    _, bucket = s3
    push_to_s3(read_artifact(artifact), S3URL(bucket, "guards"))
    url = f"s3://{bucket}/guards/demo-guard"
    cache = tmp_path / "cache"
    bundle = load_remote_bundle(url, cache_dir=cache)
    assert bundle.config.name == "demo-guard" and bundle.path.parent.parent == cache

    (bundle.path / "eco_guard.json").write_text("{}")  # a tampered cache entry is replaced, never used
    again = load_remote(url, cache_dir=cache)
    assert again == bundle.path.parent
    assert load_remote_bundle(url, cache_dir=cache).config.name == "demo-guard"


def test_manifest_paths_cannot_escape_the_destination(s3, tmp_path):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="evil/manifest.json",
                      Body=json.dumps({"algorithm": "sha256", "files": {"../../escape": "0" * 64}}).encode())
    with pytest.raises(BundleError, match="outside the artifact"):
        load_remote(f"s3://{bucket}/evil", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "escape").exists()
