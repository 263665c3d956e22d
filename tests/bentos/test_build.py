"""`build_bento` works offline and targets a CUDA image."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from bentos.build import build_bento


def test_bento_builds_offline_with_artifact_and_cuda_image(tiny_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "True")
    monkeypatch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    tag = build_bento(tiny_artifact.path, version="0.1.0")
    assert tag == "eco_guard:0.1.0"
    import bentoml

    bento = Path(bentoml.get(tag).path)  # BentoML fixes its store's home at its first use in a process
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM nvidia/cuda:" in dockerfile
    spec = yaml.safe_load((bento / "bento.yaml").read_text())
    assert spec["labels"]["eco-guard"] == "tiny-guard"
    src = bento / "src"
    assert (src / "bentos" / "service.py").is_file() and (src / "guards" / "guarded_model.py").is_file()
    copied = json.loads((src / "artifact" / "manifest.json").read_text())["files"]
    original = json.loads((tiny_artifact.path / "manifest.json").read_text())["files"]
    assert copied == original  # the same files, byte for byte
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "transformers" in requirements and "packager" not in requirements


def test_vllm_bento_holds_vllm_in_its_own_environment(tiny_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "True")
    monkeypatch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    tag = build_bento(tiny_artifact.path, version="0.1.0-vllm", engine="vllm")
    import bentoml

    bento = Path(bentoml.get(tag).path)
    spec = yaml.safe_load((bento / "bento.yaml").read_text())
    envs = {e["name"]: e["value"] for e in spec["envs"]}
    assert envs == {"ECO_ENGINE": "vllm", "ECO_VLLM_PYTHON": "/opt/vllm/bin/python"}
    assert spec["labels"]["engine"] == "vllm"
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "setup_script" in dockerfile
    setup = (bento / "env" / "docker" / "setup_script").read_text()
    assert "/opt/vllm" in setup and "vllm==" in setup
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "vllm" not in requirements  # not in the guard's environment: its pins clash with ours
