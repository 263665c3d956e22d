"""The API app in-process, with default operator settings: the decision stays hidden."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from bentos.api import create_app
from bentos.completions import GUARD_HEADER, GuardedCompletions
from bentos.engine import Engine
from bentos.hf_backend import HFBackend
from bentos.metrics import GuardMetrics
from bentos.settings import ServingSettings
from guards.errors import BundleError


@pytest.fixture(scope="module")
def app_client(tiny_artifact):
    settings = ServingSettings(artifact=tiny_artifact.path)
    engine = Engine.load(settings.artifact, device="cpu")
    metrics = GuardMetrics.create()
    handler = GuardedCompletions(engine, HFBackend(engine, settings, metrics), settings, metrics)
    with TestClient(create_app(lambda: handler)) as client:
        yield client


def test_decision_is_hidden_by_default(app_client, tiny_artifact):
    for question in (tiny_artifact.forget_prompt, tiny_artifact.retain_prompt):
        body = {"messages": [{"role": "user", "content": question}], "max_tokens": 2, "temperature": 0}
        response = app_client.post("/chat/completions", json=body)
        assert response.status_code == 200
        assert GUARD_HEADER not in response.headers
        assert "flag" not in response.text and "score" not in response.text


def test_engine_refuses_a_tampered_base_model(tiny_artifact, tmp_path):
    copy = tmp_path / "artifact"
    shutil.copytree(tiny_artifact.path, copy)
    weights = copy / "base" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.safetensors"):
        Engine.load(copy, device="cpu")
    # a launcher's hand-over names the manifest it verified: another manifest is hashed in full
    with pytest.raises(BundleError, match="model.safetensors"):
        Engine.load(copy, device="cpu", verified_manifest="0" * 64)


def test_engine_trusts_files_the_launcher_just_hashed(tiny_artifact, monkeypatch):
    import guards.manifest

    digest = guards.manifest.sha256_file(tiny_artifact.path / "manifest.json")
    hashed = []
    original = guards.manifest.sha256_file
    monkeypatch.setattr(guards.manifest, "sha256_file", lambda path: hashed.append(path) or original(path))
    engine = Engine.load(tiny_artifact.path, device="cpu", verified_manifest=digest)
    assert engine.classify(["hello"])  # loaded and working
    assert hashed == []  # neither the bundle nor the base weights were hashed again
