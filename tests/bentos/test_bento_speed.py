"""The fast bento path: a trusted manifest (no re-hashing) and an uncompressed `.bento.tar` export.

Behaviour, not timing: a build given ``checksums=`` hashes nothing, its bento's artifact verifies,
its exported file is what ``bentoml import`` reads, and a checksum map that is not the artifact's
manifest is refused; a file changed after hashing is caught by the service's start-up check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

import guards.manifest
from bentos.build import build_bento, export_bento_file
from guards.errors import BundleError
from guards.manifest import read_manifest, verify_manifest

NAME = "speed_check"


@pytest.fixture
def artifact(tiny_artifact, tmp_path, monkeypatch) -> Path:
    """A private copy of the tiny artifact (free to tamper with), BentoML pointed at tmp_path."""
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "True")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return Path(shutil.copytree(tiny_artifact.path, tmp_path / "artifact"))


def _store_path(tag: str) -> Path:
    import bentoml

    # BentoML fixes its store at first use in a process, so find the bento through it
    return Path(bentoml.get(tag).path)


def _no_hashing(monkeypatch) -> None:
    def refuse(path):
        raise AssertionError(f"{path} was hashed although its digest was given")

    monkeypatch.setattr(guards.manifest, "sha256_file", refuse)


def test_trusted_build_hashes_nothing_and_its_export_imports_into_a_fresh_home(artifact, tmp_path, monkeypatch):
    checksums = read_manifest(artifact)  # what the pipeline has just computed and written
    with monkeypatch.context() as patch:
        _no_hashing(patch)
        tag = build_bento(artifact, version="trusted", name=NAME, checksums=checksums)
    bento = _store_path(tag)
    assert verify_manifest(bento / "src" / "artifact") == checksums  # what the service checks at start-up

    dest = tmp_path / "out" / f"{NAME}.bento.tar"
    dest.parent.mkdir()
    digest = export_bento_file(tag, dest)
    assert digest == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no partial file left
    # an uncompressed tar holding the bento folder as `bentoml export` lays it out
    with tarfile.open(dest, "r:") as tar:
        names = {name.removeprefix("./") for name in tar.getnames()}
    assert {"bento.yaml", "src/artifact/manifest.json", "src/bentos/service.py"} <= names

    fresh = tmp_path / "fresh-home"
    env = {**os.environ, "BENTOML_HOME": str(fresh), "BENTOML_DO_NOT_TRACK": "True"}
    script = "import sys, bentoml; print(bentoml.import_bento(sys.argv[1]).path)"
    result = subprocess.run([sys.executable, "-c", script, str(dest)], env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    imported = Path(result.stdout.strip().splitlines()[-1])
    assert imported.is_relative_to(fresh)
    assert verify_manifest(imported / "src" / "artifact") == checksums
    spec = yaml.safe_load((imported / "bento.yaml").read_text())
    assert spec["name"] == NAME and spec["version"] == "trusted" and spec["labels"]["eco-guard"] == "tiny-guard"


def _changed_digest(checksums: dict[str, str]) -> dict[str, str]:
    return checksums | {"README.md": "0" * 64}


def _dropped_file(checksums: dict[str, str]) -> dict[str, str]:
    return {rel: digest for rel, digest in checksums.items() if rel != "README.md"}


def _added_file(checksums: dict[str, str]) -> dict[str, str]:
    return checksums | {"notes.txt": "0" * 64}


@pytest.mark.parametrize("wrong", [_changed_digest, _dropped_file, _added_file])
def test_a_checksum_map_that_is_not_the_artifacts_manifest_is_refused(artifact, monkeypatch, wrong):
    _no_hashing(monkeypatch)
    with pytest.raises(BundleError, match="do not match"):
        build_bento(artifact, version="wrong", name=NAME, checksums=wrong(read_manifest(artifact)))


def test_a_file_the_checksums_do_not_cover_is_refused(artifact, monkeypatch):
    checksums = read_manifest(artifact)
    (artifact / "plots.txt").write_text("added after the manifest was written\n")
    _no_hashing(monkeypatch)
    with pytest.raises(BundleError, match="plots.txt is not listed"):
        build_bento(artifact, version="extra", name=NAME, checksums=checksums)


def test_a_guard_manifest_that_disagrees_with_the_artifact_is_refused(artifact, monkeypatch):
    guard_manifest = artifact / "guard" / "manifest.json"
    data = json.loads(guard_manifest.read_text())
    data["files"]["eco_guard.json"] = "0" * 64
    guard_manifest.write_text(json.dumps(data))
    checksums = guards.manifest.write_manifest(artifact)  # the artifact's manifest agrees with the files...
    _no_hashing(monkeypatch)
    with pytest.raises(BundleError, match="disagrees"):  # ...but not the bundle's, which load_bundle checks
        build_bento(artifact, version="guard", name=NAME, checksums=checksums)


def test_a_file_changed_after_hashing_is_caught_by_the_start_up_check(artifact):
    checksums = read_manifest(artifact)
    (artifact / "README.md").write_text("changed after the caller hashed it\n")
    tag = build_bento(artifact, version="tampered", name=NAME, checksums=checksums)  # trusted: not re-read
    with pytest.raises(BundleError, match="README.md does not match"):
        verify_manifest(_store_path(tag) / "src" / "artifact")  # Engine.load's first step
    with pytest.raises(BundleError, match="README.md does not match"):
        build_bento(artifact, version="verified", name=NAME)  # without checksums= every file is hashed


def test_untrusted_build_hashes_each_file_once(artifact, monkeypatch):
    hashed: list[str] = []
    real = guards.manifest.sha256_file
    monkeypatch.setattr(guards.manifest, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    tag = build_bento(artifact, version="untrusted", name=NAME)
    assert sorted(hashed) == sorted(Path(rel).name for rel in read_manifest(artifact))
    assert read_manifest(_store_path(tag) / "src" / "artifact") == read_manifest(artifact)
